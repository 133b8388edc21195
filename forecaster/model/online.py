"""Online calibration of the issued intervals from matured forecasts: pure functions.

Adaptive conformal inference (Gibbs & Candès 2021) moves the miscoverage level used for the
next interval by gamma (alpha - err_t) after each outcome. With a fixed set of nine quantile
levels there is no q_0.01 to move to, so the same update drives a width factor instead (the
"quantile tracking" form of Angelopoulos, Candès & Tibshirani 2023): after each matured forecast,

    log s <- log s + gamma (err_t - alpha),    err_t = 1 if the actual fell outside the interval,

and the next interval is the model's, stretched by s about its median. Summed, the recursion
has a closed form, log s_T = gamma (misses - alpha n): the state is two counts over the matured
forecasts, so it is recomputed from the database every day (a backfill and the daily run agree,
and a rerun changes nothing). The same identity is the guarantee: the miss rate over those n
forecasts is alpha + log s_T / (gamma n), so it tends to alpha as long as s stays bounded
(which it does for any bounded sequence of moves: a factor too large stops the misses, one too
small makes them). It promises nothing about any single day or a short window.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from forecaster.model.quantiles import INTERVALS, MEDIAN, widen_with_horizon

GAMMA = 0.1  # a miss at 80 % widens the next interval by e^0.08 (8 %), a hit narrows it by 2 %
# The factor applied is clipped to [e^-3, e^3]; the state (the counts) is not, so the identity
# above holds, and only a model whose intervals are wrong by 20x at once sees the clip.
MAX_LOG_SCALE = 3.0
LEVELS = tuple(INTERVALS)  # (0.80, 0.95)


@dataclass(frozen=True)
class Interval:
    """The 80 % and 95 % intervals of one forecast as issued, and the factors applied."""

    lo80: float
    hi80: float
    lo95: float
    hi95: float
    scale80: float = 1.0
    scale95: float = 1.0


def scale(n: int, misses: int, level: float, gamma: float = GAMMA) -> float:
    """The width factor after `n` matured forecasts of which `misses` fell outside."""
    log_s = gamma * (misses - (1.0 - level) * n)
    return float(np.exp(np.clip(log_s, -MAX_LOG_SCALE, MAX_LOG_SCALE)))


def stretch(quantiles: Sequence[float], level: float, factor: float) -> tuple[float, float]:
    """The interval of nominal coverage `level`, its distance to the median times `factor`.

    Each side keeps its own distance, so a skewed interval stays skewed.
    """
    lo_idx, hi_idx = INTERVALS[level]
    median = float(quantiles[MEDIAN])
    lo, hi = float(quantiles[lo_idx]), float(quantiles[hi_idx])
    return median - factor * (median - lo), median + factor * (hi - median)


def calibrated(quantiles: Sequence[float], scales: Mapping[float, float] | None = None) -> Interval:
    """Both intervals of one forecast; `scales` by level (missing: 1, the model's own)."""
    factors = {level: (scales or {}).get(level, 1.0) for level in LEVELS}
    lo80, hi80 = stretch(quantiles, 0.80, factors[0.80])
    lo95, hi95 = stretch(quantiles, 0.95, factors[0.95])
    # Calibrated apart, the two could cross; the 95 % interval always contains the 80 % one.
    return Interval(lo80, hi80, min(lo95, lo80), max(hi95, hi80), factors[0.80], factors[0.95])


def widened(intervals: Sequence[Interval], medians: Sequence[float]) -> list[Interval]:
    """Intervals of horizons 1, 2, ... (with their medians), none narrower than the one before.

    Each horizon's factors come from its own matured forecasts, so a few misses more at day 4
    than at day 5 would make day 5's interval the narrower: `widen_with_horizon` undoes that."""
    rows = np.array([(i.lo95, i.lo80, m, i.hi80, i.hi95) for i, m in zip(intervals, medians, strict=True)])
    wide = widen_with_horizon(rows, median=2)
    return [
        Interval(lo95=r[0], lo80=r[1], hi80=r[3], hi95=r[4], scale80=i.scale80, scale95=i.scale95)
        for i, r in zip(intervals, wide.tolist(), strict=True)
    ]
