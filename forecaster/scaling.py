"""Scalers for windows: fit on training windows only, then transform anything.

Two kinds, chosen by the `scaling` setting:

- `minmax` — the course's: one global min/max per feature, fit on the training windows. Prices
  that later leave the training range map outside [0, 1] and the network must extrapolate
  (on the course split, 2019–2020 Moutai maps to ~1.6).
- `relative` — per-window: every value divided by the window's last value, minus 1, then divided
  by a spread fit on the training windows. The model learns relative moves, which keep the same
  scale whatever the price level. Labels are relative to the last target value in the window.

Parameters round-trip through `params()` / `scaler_from_params()` so a stored model version can
be used for forecasting and fine-tuning with exactly the scaling it was trained with.
"""

from typing import Any, Protocol

import numpy as np

from forecaster.windows import FloatArray

_TINY = 1e-12


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
        return {
            "kind": self.kind,
            "spread_x": self.spread_x.tolist(),
            "spread_y": self.spread_y,
            "target_index": self.target_index,
        }


SCALINGS = ("relative", "minmax")


def make_scaler(kind: str) -> Scaler:
    if kind == "minmax":
        return MinMaxScaler()
    if kind == "relative":
        return RelativeScaler()
    raise ValueError(f"unknown scaling {kind!r} (choose one of {', '.join(SCALINGS)})")


def scaler_from_params(params: dict[str, Any]) -> Scaler:
    values = dict(params)
    kind = values.pop("kind")
    if kind == "minmax":
        return MinMaxScaler(**values)
    if kind == "relative":
        return RelativeScaler(**values)
    raise ValueError(f"unknown stored scaling {kind!r}")
