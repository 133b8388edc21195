"""Scalers for windows: fit on training windows only, then transform anything.

Three kinds, chosen by the `scaling` setting:

- `minmax` — the course's: one global min/max per feature, fit on the training windows. Prices
  that later leave the training range map outside [0, 1] and the network must extrapolate
  (on the course split, 2019–2020 Moutai maps to ~1.6).
- `relative` — per-window: every value divided by the window's last value, minus 1, then divided
  by a spread fit on the training windows. The model learns relative moves, which keep the same
  scale whatever the price level. Labels are relative to the last target value in the window.
  Each column is divided by its *own* last value, so the last row is all zeros and the gap
  between columns on the newest day (e.g. close vs open) is lost.
- `logret` — per-window log returns against one anchor, the window's last *close*: every price
  column is log(price / last close), volume log(volume / last volume), each divided by a spread
  fit on the training windows; the label is log(target / last close). A prediction of 0 is
  exactly the naive forecast (the last close) whatever the target, so the network only has to
  learn the departure from naive, and the newest day's open/high/low keep their place against
  the close.

Parameters round-trip through `params()` / `scaler_from_params()` so a stored model version can
be used for forecasting and fine-tuning with exactly the scaling it was trained with.
"""

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from forecaster.model.spec import SCALINGS
from forecaster.model.windows import FloatArray, IndexArray

_TINY = 1e-12
# Windows scaled (and a scaler's spreads computed) at a time: all of a large universe's at once
# make several float64 temporaries of the windows' size (1.6 GB each for 300 tickers of ten
# years, five inputs).
SCALE_CHUNK = 50_000


class Scaler(Protocol):
    kind: str

    def fit(self, x: FloatArray, y: FloatArray, target_index: int) -> "Scaler": ...
    def transform_x(self, x: FloatArray) -> FloatArray: ...
    def transform_y(self, x: FloatArray, y: FloatArray) -> FloatArray: ...
    def inverse_y(self, x: FloatArray, y_scaled: FloatArray) -> FloatArray: ...
    def params(self) -> dict[str, Any]: ...


class MinMaxScaler:
    """x' = (x - min) / (max - min) per feature; y uses the target feature's min/max."""

    kind = "minmax"

    def __init__(self, low: list[float] | None = None, high: list[float] | None = None, target_index: int = 0) -> None:
        self.low = np.asarray(low if low is not None else [], dtype="float64")
        self.high = np.asarray(high if high is not None else [], dtype="float64")
        self.target_index = target_index

    def fit(self, x: FloatArray, y: FloatArray, target_index: int) -> "MinMaxScaler":
        # x (samples, window, features); y (samples, horizon): both from training windows only.
        flat = x.reshape(-1, x.shape[-1])
        self.low, self.high = flat.min(axis=0), flat.max(axis=0)
        self.target_index = target_index
        lo, hi = self.low[target_index], self.high[target_index]
        self.low[target_index], self.high[target_index] = min(lo, y.min()), max(hi, y.max())
        return self

    def _span(self) -> FloatArray:
        return np.asarray(np.maximum(self.high - self.low, _TINY), dtype=np.float64)

    def transform_x(self, x: FloatArray) -> FloatArray:
        return np.asarray((x - self.low) / self._span(), dtype=np.float64)

    def transform_y(self, x: FloatArray, y: FloatArray) -> FloatArray:
        t = self.target_index
        return np.asarray((y - self.low[t]) / self._span()[t], dtype=np.float64)

    def inverse_y(self, x: FloatArray, y_scaled: FloatArray) -> FloatArray:
        t = self.target_index
        return np.asarray(y_scaled * self._span()[t] + self.low[t], dtype=np.float64)

    def params(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "low": self.low.tolist(),
            "high": self.high.tolist(),
            "target_index": self.target_index,
        }


class RelativeScaler:
    """Per-window: x' = (x / x_last - 1) / spread_f; y' = (y / target_last - 1) / spread_y."""

    kind = "relative"

    def __init__(self, spread_x: list[float] | None = None, spread_y: float = 1.0, target_index: int = 0) -> None:
        self.spread_x = np.asarray(spread_x if spread_x is not None else [], dtype="float64")
        self.spread_y = spread_y
        self.target_index = target_index

    @staticmethod
    def _relative(x: FloatArray) -> FloatArray:
        last = x[:, -1:, :]  # (samples, 1, features): each window's own last row
        return x / np.where(np.abs(last) < _TINY, _TINY, last) - 1.0

    def _last_target(self, x: FloatArray) -> FloatArray:
        return x[:, -1, self.target_index][:, None]  # (samples, 1)

    def fit(self, x: FloatArray, y: FloatArray, target_index: int) -> "RelativeScaler":
        self.target_index = target_index
        rel = self._relative(x)
        self.spread_x = np.maximum(rel.reshape(-1, x.shape[-1]).std(axis=0), _TINY)
        self.spread_y = float(max((y / self._last_target(x) - 1.0).std(), _TINY))
        return self

    def transform_x(self, x: FloatArray) -> FloatArray:
        return np.asarray(self._relative(x) / self.spread_x, dtype=np.float64)

    def transform_y(self, x: FloatArray, y: FloatArray) -> FloatArray:
        return (y / self._last_target(x) - 1.0) / self.spread_y

    def inverse_y(self, x: FloatArray, y_scaled: FloatArray) -> FloatArray:
        return self._last_target(x) * (1.0 + y_scaled * self.spread_y)

    def params(self) -> dict[str, Any]:
        return _spread_params(self.kind, self.spread_x, self.spread_y, self.target_index)


def _spread_params(kind: str, spread_x: FloatArray, spread_y: float, target_index: int) -> dict[str, Any]:
    """What the per-window scalers store: their kind, the spreads fit on training windows, and
    which feature is the target."""
    return {"kind": kind, "spread_x": spread_x.tolist(), "spread_y": spread_y, "target_index": target_index}


class LogReturnScaler:
    """Per-window: x' = log(x / anchor_last) / spread_f (volume: against its own last value);
    y' = log(y / anchor_last) / spread_y, the anchor being the close column (else the target)."""

    kind = "logret"

    def __init__(
        self,
        spread_x: list[float] | None = None,
        spread_y: float = 1.0,
        target_index: int = 0,
        anchor_index: int | None = None,
        volume_index: int | None = None,
    ) -> None:
        self.spread_x = np.asarray(spread_x if spread_x is not None else [], dtype="float64")
        self.spread_y = spread_y
        self.target_index = target_index
        self.anchor_index = anchor_index
        self.volume_index = volume_index

    def _anchor(self) -> int:
        return self.target_index if self.anchor_index is None else self.anchor_index

    def _anchor_last(self, x: FloatArray) -> FloatArray:
        return np.maximum(x[:, -1, self._anchor()][:, None], _TINY)  # (samples, 1)

    def _log_ratio(self, x: FloatArray) -> FloatArray:
        # (samples, window, features): prices against the newest anchor price of the same window.
        out = np.log(np.maximum(x, _TINY) / self._anchor_last(x)[:, :, None])
        if self.volume_index is not None:
            # Volume (in lots) is no price: compare it with its own newest value; a suspended day
            # has volume 0, so floor at one lot.
            vol = np.maximum(x[:, :, self.volume_index], 1.0)
            out[:, :, self.volume_index] = np.log(vol / vol[:, -1:])
        return np.asarray(out, dtype=np.float64)

    def fit(self, x: FloatArray, y: FloatArray, target_index: int) -> "LogReturnScaler":
        self.target_index = target_index
        self.spread_x = np.maximum(_column_std(self._log_ratio, x), _TINY)
        self.spread_y = float(max(np.log(np.maximum(y, _TINY) / self._anchor_last(x)).std(), _TINY))
        return self

    def transform_x(self, x: FloatArray) -> FloatArray:
        return np.asarray(self._log_ratio(x) / self.spread_x, dtype=np.float64)

    def transform_y(self, x: FloatArray, y: FloatArray) -> FloatArray:
        return np.asarray(np.log(np.maximum(y, _TINY) / self._anchor_last(x)) / self.spread_y, dtype=np.float64)

    def inverse_y(self, x: FloatArray, y_scaled: FloatArray) -> FloatArray:
        return np.asarray(self._anchor_last(x) * np.exp(y_scaled * self.spread_y), dtype=np.float64)

    def params(self) -> dict[str, Any]:
        return {
            **_spread_params(self.kind, self.spread_x, self.spread_y, self.target_index),
            "anchor_index": self.anchor_index,
            "volume_index": self.volume_index,
        }


def _column_std(transform: Callable[[FloatArray], FloatArray], x: FloatArray) -> FloatArray:
    """Per input (the last axis), the population std of `transform(x)` over every window and day,
    SCALE_CHUNK windows at a time, in two passes (the mean, then the squared deviations): the
    whole array at once made three float64 temporaries of the windows' size, most of a large
    universe's retrain peak. Equal to numpy's std up to the order of the sums."""
    width, n = x.shape[-1], x.shape[0] * x.shape[1]
    if n == 0:
        return np.full(width, np.nan)
    chunks = range(0, len(x), SCALE_CHUNK)
    mean = sum(transform(x[i : i + SCALE_CHUNK]).reshape(-1, width).sum(axis=0) for i in chunks) / n
    squares = sum(((transform(x[i : i + SCALE_CHUNK]).reshape(-1, width) - mean) ** 2).sum(axis=0) for i in chunks)
    return np.asarray(np.sqrt(squares / n), dtype=np.float64)


def scaled_rows(
    scaler: Scaler, x: FloatArray, y: FloatArray, rows: IndexArray
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """The `rows` of windows `x` and labels `y`, scaled, in float32 (the dtype the networks train
    in: the values are those a whole-array transform gives, cast), a chunk of rows at a time."""
    xs, ys = [], []
    for start in range(0, max(len(rows), 1), SCALE_CHUNK):  # once at least: no rows, empty arrays
        part = rows[start : start + SCALE_CHUNK]
        xs.append(scaler.transform_x(x[part]).astype(np.float32))
        ys.append(scaler.transform_y(x[part], y[part]).astype(np.float32))
    return np.concatenate(xs), np.concatenate(ys)


def make_scaler(kind: str, features: tuple[str, ...] = ("close",)) -> Scaler:
    """A fresh scaler of `kind` for windows whose columns are `features`, in that order."""
    if kind == "minmax":
        return MinMaxScaler()
    if kind == "relative":
        return RelativeScaler()
    if kind == "logret":
        return LogReturnScaler(
            anchor_index=features.index("close") if "close" in features else None,
            volume_index=features.index("volume") if "volume" in features else None,
        )
    raise ValueError(f"unknown scaling {kind!r} (choose one of {', '.join(SCALINGS)})")


def scaler_from_params(params: dict[str, Any]) -> Scaler:
    values = dict(params)
    kind = values.pop("kind")
    values.pop("calibration", None)  # stored beside the scaler's own parameters (model/intervals)
    if kind == "minmax":
        return MinMaxScaler(**values)
    if kind == "relative":
        return RelativeScaler(**values)
    if kind == "logret":
        return LogReturnScaler(**values)
    raise ValueError(f"unknown stored scaling {kind!r}")
