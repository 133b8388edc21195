"""The inputs study's bars and extra inputs (bench/studies/inputs.py): the development market read
with the product's CSV reader up to the last scored day, qfq, and the columns a variant appends to
each day's inputs, with the scaler that puts them beside the product's scaled prices."""

from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecaster.ingest.sources.csvfile import CsvSource
from forecaster.ingest.sources.csvlayouts import factors_from_pre_close
from forecaster.model.baselines import EWMA_LAMBDA
from forecaster.model.scaling import Scaler, make_scaler
from forecaster.model.spec import ModelSpec
from forecaster.model.windows import FloatArray

MEASURED = date(2019, 4, 25)  # the market's last year begins: never used here
LAST_READ = date(2018, 12, 28)  # the last scored target
BAR_COLUMNS = ["open", "high", "low", "close", "volume"]
# The appended inputs, by the name a variant gives: levels first, the ticker's one-hot last.
LEVELS = ("mkt_ret", "mkt_range", "sigma")
TICKER = "ticker"
_TINY = 1e-12


def read_market(market: Path, codes: list[str]) -> dict[str, pd.DataFrame]:
    """Each code's bars up to LAST_READ, qfq as the product adjusts (raw x factor / the newest
    factor, factors from the exchange's previous close), indexed by day. Rows after LAST_READ are
    dropped as read, before anything is computed from them."""
    assert LAST_READ < MEASURED
    source, out = CsvSource(market), {}
    for code in codes:
        bars = source.fetch(code, None, LAST_READ).bars
        bars = bars[bars["trade_date"] <= pd.Timestamp(LAST_READ)].reset_index(drop=True)
        if bars.empty:
            continue
        frame = bars.set_index(pd.DatetimeIndex(bars["trade_date"]).rename("trade_date"))[BAR_COLUMNS].astype(float)
        factors = factors_from_pre_close(bars)
        if factors is not None:
            f = factors["adj_factor"].to_numpy(float)
            frame[["open", "high", "low", "close"]] = frame[["open", "high", "low", "close"]].mul(f / f[-1], axis=0)
        out[code] = frame
    return out


def with_extras(histories: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Every history with the extra input columns; each day's values use only bars of that day
    and before (the cross-section's of that day, the ticker's own up to it)."""
    returns = {c: np.log(h["close"]).diff() for c, h in histories.items()}
    ranges = {c: np.log(h["high"] / h["low"]) for c, h in histories.items()}
    # The cross-section that day: the mean over the tickers with a bar (and a return) that day.
    market = pd.DataFrame(
        {"mkt_ret": pd.DataFrame(returns).mean(axis=1), "mkt_range": pd.DataFrame(ranges).mean(axis=1)}
    )
    out = {}
    for i, (code, bars) in enumerate(sorted(histories.items())):
        r = returns[code]
        # RiskMetrics' recursion from the first return on (pandas' adjusted EWM: weights over the
        # returns seen so far, so no later return seeds it); the listing day has none: 0.
        sigma = np.sqrt((r**2).ewm(alpha=1 - EWMA_LAMBDA, adjust=True).mean()).fillna(0.0)
        extra = market.reindex(bars.index).fillna(0.0).assign(sigma=sigma, ticker=float(i))
        out[code] = pd.concat([bars, extra], axis=1)
    return out


class Appended:
    """A Scaler (model/scaling's protocol) for windows of the spec's price columns followed by
    appended inputs: the product's scaler on the prices, each level standardised by its mean and
    std on the training windows, the ticker's index as a one-hot of `onehot` columns."""

    kind = "appended"

    def __init__(self, inner: Scaler, prices: int, levels: int, onehot: int) -> None:
        self.inner, self.prices, self.levels, self.onehot = inner, prices, levels, onehot
        self.mean = np.zeros(levels)
        self.std = np.ones(levels)

    @classmethod
    def for_extras(cls, spec: ModelSpec, extras: tuple[str, ...], codes: list[str]) -> "Appended":
        levels = [e for e in extras if e in LEVELS]
        assert list(extras) == levels + ([TICKER] if TICKER in extras else []), "levels first, the ticker last"
        onehot = len(codes) if TICKER in extras else 0
        return cls(make_scaler(spec.scaling, spec.features), len(spec.features), len(levels), onehot)

    def _price(self, x: FloatArray) -> FloatArray:
        return x[..., : self.prices]

    def fit(self, x: FloatArray, y: FloatArray, target_index: int) -> "Appended":
        self.inner.fit(self._price(x), y, target_index)
        if self.levels:
            flat = x[..., self.prices : self.prices + self.levels].reshape(-1, self.levels)
            self.mean, self.std = flat.mean(axis=0), np.maximum(flat.std(axis=0), _TINY)
        return self

    def transform_x(self, x: FloatArray) -> FloatArray:
        end = self.prices + self.levels
        parts = [self.inner.transform_x(self._price(x)), (x[..., self.prices : end] - self.mean) / self.std]
        if self.onehot:  # float32, as the fit takes it: 57 columns of 150,000 windows
            index = x[:, 0, end].astype(int)  # constant along the window
            hot = np.zeros((len(x), x.shape[1], self.onehot), dtype=np.float32)
            hot[np.arange(len(x)), :, index] = 1.0
            return np.concatenate([p.astype(np.float32) for p in parts] + [hot], axis=-1)
        return np.asarray(np.concatenate(parts, axis=-1), dtype=np.float64)

    def transform_y(self, x: FloatArray, y: FloatArray) -> FloatArray:
        return self.inner.transform_y(self._price(x), y)

    def inverse_y(self, x: FloatArray, y_scaled: FloatArray) -> FloatArray:
        return self.inner.inverse_y(self._price(x), y_scaled)

    def params(self) -> dict[str, Any]:
        extra = {"mean": self.mean.tolist(), "std": self.std.tolist(), "onehot": self.onehot}
        return {"kind": self.kind, "inner": self.inner.params(), **extra}
