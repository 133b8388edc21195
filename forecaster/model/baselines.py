"""The baselines every model must clear, as points and as quantiles (shared/docs/EVALUATION.md).

- naive: the last close at the as-of date, for every horizon and whatever the target column; its
  quantiles are the empirical quantiles of the last `RETURNS` overlapping h-day log returns;
- ewma: the naive point with a RiskMetrics EWMA volatility (lambda 0.94) and normal quantiles of
  the h-day log return (sigma * sqrt(h)): the usual quant's benchmark for a daily range;
- drift: the last close plus h x the average daily change of the close over the history used;
  its quantiles are those of its own past h-day errors, as log ratios of actual to forecast;
- garch: GARCH(1,1) with Student-t innovations and a constant mean (model/garch.py), the
  textbook model for a daily range; its point is the constant mean's (the median of its
  quantiles), and it has quantiles from garch.MIN_RETURNS daily returns on.

Quantile arrays are (horizon, len(levels)) in price units, non-decreasing along each row. Each
as-of sees only its own past: the caller passes the bars up to the as-of date.
"""

from statistics import NormalDist

import numpy as np
import pandas as pd

from forecaster.model import garch
from forecaster.model.intervals import MEDIAN, QUANTILE_LEVELS
from forecaster.model.windows import FloatArray

RETURNS = 500  # overlapping h-day returns behind the naive and drift quantiles
EWMA_LAMBDA = 0.94  # RiskMetrics' daily decay


def _close(bars: pd.DataFrame) -> FloatArray:
    return np.asarray(bars["close"].to_numpy(dtype="float64"), dtype=np.float64)


def naive_forecast(bars: pd.DataFrame, horizon: int) -> FloatArray:
    return np.full(horizon, float(bars["close"].iloc[-1]))


def drift_step(close: FloatArray) -> float:
    """Average daily change of the close over the history given."""
    return float((close[-1] - close[0]) / (len(close) - 1)) if len(close) > 1 else 0.0


def drift_forecast(bars: pd.DataFrame, horizon: int) -> FloatArray:
    close = _close(bars)
    return np.asarray(close[-1] + drift_step(close) * np.arange(1, horizon + 1), dtype=np.float64)


def _log_returns(close: FloatArray, h: int) -> FloatArray:
    """The last RETURNS overlapping h-day log returns (fewer on a short history)."""
    logs = np.log(close)
    return np.asarray((logs[h:] - logs[:-h])[-RETURNS:], dtype=np.float64)


def _need(close: FloatArray, horizon: int) -> None:
    if len(close) < horizon + 2:
        raise ValueError(f"{len(close)} closes are too few for {horizon}-day quantiles")


def naive_quantiles(bars: pd.DataFrame, horizon: int, levels: tuple[float, ...] = QUANTILE_LEVELS) -> FloatArray:
    close = _close(bars)
    _need(close, horizon)
    rows = [np.quantile(_log_returns(close, h), levels) for h in range(1, horizon + 1)]
    return np.asarray(close[-1] * np.exp(np.vstack(rows)), dtype=np.float64)  # (horizon, levels)


def ewma_sigma(close: FloatArray, decay: float = EWMA_LAMBDA) -> float:
    """One-day volatility of log returns after the recursion sigma2 = decay sigma2 + (1 - decay) r^2.

    Seeded with the mean square of the first returns of the last RETURNS, so the start barely
    matters: decay^RETURNS is ~1e-13.
    """
    r = np.diff(np.log(close))[-RETURNS:]
    var = float(np.mean(r[:20] ** 2))
    for x in r:
        var = decay * var + (1.0 - decay) * float(x) ** 2
    return float(np.sqrt(var))


def ewma_quantiles(bars: pd.DataFrame, horizon: int, levels: tuple[float, ...] = QUANTILE_LEVELS) -> FloatArray:
    close = _close(bars)
    _need(close, horizon)
    z = np.asarray([NormalDist().inv_cdf(t) for t in levels])  # (levels,)
    scale = ewma_sigma(close) * np.sqrt(np.arange(1, horizon + 1))[:, None]  # (horizon, 1)
    return np.asarray(close[-1] * np.exp(scale * z[None, :]), dtype=np.float64)


def drift_quantiles(bars: pd.DataFrame, horizon: int, levels: tuple[float, ...] = QUANTILE_LEVELS) -> FloatArray:
    close = _close(bars)
    _need(close, horizon)
    step = drift_step(close)
    point = drift_forecast(bars, horizon)
    rows = []
    for h in range(1, horizon + 1):
        past = close[:-h][-RETURNS:] + h * step  # the drift forecast made h days before each close
        actual = close[h:][-RETURNS:]
        ok = past > 0  # a steep negative drift can forecast below zero; such errors have no log ratio
        rows.append(point[h - 1] * np.exp(np.quantile(np.log(actual[ok] / past[ok]), levels)))
    return np.asarray(np.vstack(rows), dtype=np.float64)


def garch_quantiles(bars: pd.DataFrame, horizon: int, levels: tuple[float, ...] = QUANTILE_LEVELS) -> FloatArray:
    return garch.garch_quantiles(_close(bars), horizon, levels)


def garch_forecast(bars: pd.DataFrame, horizon: int) -> FloatArray:
    """The median of garch's quantiles; on a history too short for a fit, the constant mean
    estimated as the plain mean of the daily log returns (what the fit's mean starts from)."""
    close = _close(bars)
    if len(close) - 1 >= garch.MIN_RETURNS:
        return np.asarray(garch_quantiles(bars, horizon)[:, MEDIAN], dtype=np.float64)
    mean = float(np.mean(np.diff(np.log(close)))) if len(close) > 1 else 0.0
    return np.asarray(close[-1] * np.exp(mean * np.arange(1, horizon + 1)), dtype=np.float64)
