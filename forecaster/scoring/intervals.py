"""Interval and quantile scores: pure functions over arrays (shared/docs/EVALUATION.md).

`quantiles` is (n, len(levels)) in price units, each row non-decreasing; `actual` is (n,).
"""

import numpy as np

from forecaster.model.intervals import INTERVALS, QUANTILE_LEVELS
from forecaster.model.windows import FloatArray


def pinball_each(quantiles: FloatArray, actual: FloatArray, levels: tuple[float, ...] = QUANTILE_LEVELS) -> FloatArray:
    """(n,) pinball loss of each forecast: the mean over levels of max(tau (y - q), (tau - 1)(y - q))."""
    tau = np.asarray(levels, dtype=np.float64)[None, :]  # (1, levels)
    diff = np.asarray(actual, dtype=np.float64)[:, None] - quantiles  # (n, levels)
    return np.asarray(np.mean(np.maximum(tau * diff, (tau - 1.0) * diff), axis=1), dtype=np.float64)


def pinball(quantiles: FloatArray, actual: FloatArray, levels: tuple[float, ...] = QUANTILE_LEVELS) -> float:
    """Mean over forecasts and levels of the pinball loss; approximates the CRPS."""
    return float(np.mean(pinball_each(quantiles, actual, levels)))


def bounds(quantiles: FloatArray, level: float) -> tuple[FloatArray, FloatArray]:
    """(lo, hi) of the central interval of nominal coverage `level` (0.80 or 0.95)."""
    lo, hi = INTERVALS[level]
    return quantiles[:, lo], quantiles[:, hi]


def misses(lo: FloatArray, hi: FloatArray, actual: FloatArray) -> FloatArray:
    """1.0 where the actual fell outside [lo, hi], else 0.0 (the coverage tests' hit sequence)."""
    return np.asarray(~((actual >= lo) & (actual <= hi)), dtype=np.float64)


def coverage(lo: FloatArray, hi: FloatArray, actual: FloatArray) -> float:
    """Share of actuals inside [lo, hi]."""
    return 1.0 - float(np.mean(misses(lo, hi, actual)))


def width(lo: FloatArray, hi: FloatArray) -> float:
    return float(np.mean(hi - lo))


def winkler(lo: FloatArray, hi: FloatArray, actual: FloatArray, level: float) -> float:
    """Mean interval score at nominal coverage `level`: the width plus 2/alpha times each miss's distance."""
    alpha = 1.0 - level
    below = np.maximum(lo - actual, 0.0)
    above = np.maximum(actual - hi, 0.0)
    return float(np.mean((hi - lo) + (2.0 / alpha) * (below + above)))


def interval_scores(quantiles: FloatArray, actual: FloatArray) -> dict[str, float]:
    """The interval columns of a scores row, from (n, levels) quantiles and (n,) actuals;
    `rel_pinball` is left to the caller, who knows naive's pinball on the same targets."""
    lo80, hi80 = bounds(quantiles, 0.80)
    lo95, hi95 = bounds(quantiles, 0.95)
    return {
        "coverage_80": coverage(lo80, hi80, actual),
        "coverage_95": coverage(lo95, hi95, actual),
        "width_80": width(lo80, hi80),
        "winkler_80": winkler(lo80, hi80, actual, 0.80),
        "pinball": pinball(quantiles, actual),
    }
