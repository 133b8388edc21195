"""The fixed quantile set every forecast carries, the intervals read from it, and their two
calibrations: conformal offsets from a network's validation slice, then the online correction
from each ticker's matured forecasts.

Levels are probabilities of the h-day-ahead price; the 80 % interval is [q_0.10, q_0.90] and the
95 % interval [q_0.025, q_0.975] (shared/docs/EVALUATION.md). One set for every model and
baseline, so that their pinball losses compare on the same terms.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from forecaster.model.windows import FloatArray

QUANTILE_LEVELS: Final[tuple[float, ...]] = (0.025, 0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95, 0.975)
MEDIAN: Final[int] = QUANTILE_LEVELS.index(0.50)
# (lo, hi) positions in QUANTILE_LEVELS of each central interval, by nominal coverage.
INTERVALS: Final[dict[float, tuple[int, int]]] = {
    0.80: (QUANTILE_LEVELS.index(0.10), QUANTILE_LEVELS.index(0.90)),
    0.95: (QUANTILE_LEVELS.index(0.025), QUANTILE_LEVELS.index(0.975)),
}


def average(quantile_sets: Sequence[FloatArray]) -> FloatArray:
    """The ensemble's quantiles: the mean of each level over the members.

    Averaging rows that are each non-decreasing keeps them non-decreasing, so no re-sorting.
    """
    if not quantile_sets:
        raise ValueError("an ensemble needs at least one member")
    return np.asarray(np.mean(np.stack(quantile_sets), axis=0), dtype=np.float64)


def widen_with_horizon(rows: FloatArray, median: int = MEDIAN) -> FloatArray:
    """(horizon, levels) quantiles, each level's distance from its row's median at least that of
    the row before: an interval never narrows as the horizon grows.

    Calibrated per horizon (conformal offsets from a small validation slice, online factors from
    few matured forecasts), a longer horizon can come out narrower than a shorter one, which no
    forecast of a random walk's price should say. Distances are in price units, so widths are
    non-decreasing as the user reads them, and the ensemble's mean of such rows keeps the property.
    Only moved entries are rewritten, so one horizon (the default) comes back bit for bit.
    Running extremes of rows that are each ordered keep each row ordered."""
    q = np.asarray(rows, dtype=np.float64)
    centre = q[:, [median]]
    dist = q - centre
    wide = dist.copy()
    wide[:, :median] = np.minimum.accumulate(dist[:, :median], axis=0)
    wide[:, median + 1 :] = np.maximum.accumulate(dist[:, median + 1 :], axis=0)
    return np.where(wide == dist, q, centre + wide)


# Conformalized quantile regression (Romano, Patterson & Candes 2019) on the inner validation
# slice: pure numpy.
#
# For each central interval (80 %, 95 %) and horizon, the conformity score of a validation sample
# is E = max(lo - y, y - hi): positive when y falls outside the network's interval, by how far.
# The offset Q is the ceil((n + 1)(1 - alpha))-th smallest E; the calibrated interval is
# [lo - Q, hi + Q] (the levels between the intervals' ends move in proportion, see `shifts`),
# which widens the interval when the network was over-confident on the slice and narrows it
# (Q < 0) when it was too cautious. If the validation samples and a later target
# are exchangeable, the calibrated interval covers that target with probability >= 1 - alpha;
# after a change of regime that promise is void (the routine's online correction is for that).
#
# Offsets are in the network's output units (the scaled log return for `logret`), so they scale
# with the price level, and are applied before the inverse scaling. They travel with the model
# version inside its stored scaler parameters (`CALIBRATION_KEY`).
CALIBRATION_KEY = "calibration"


@dataclass(frozen=True)
class Calibration:
    """offsets[level] is (horizon,): the conformity offset of that central interval per horizon."""

    offsets: dict[float, tuple[float, ...]]
    n: int  # validation samples it was computed on

    def to_params(self) -> dict[str, Any]:
        return {"n": self.n, "offsets": {f"{level:.2f}": list(v) for level, v in self.offsets.items()}}

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> "Calibration":
        return cls({float(k): tuple(map(float, v)) for k, v in params["offsets"].items()}, int(params["n"]))


def conformity_offset(lo: FloatArray, hi: FloatArray, y: FloatArray, level: float) -> float:
    """The CQR offset for one interval from (n,) bounds and labels."""
    n = len(y)
    if n == 0:
        raise ValueError("conformal calibration needs at least one validation sample")
    scores = np.sort(np.maximum(lo - y, y - hi))
    k = math.ceil((n + 1) * level)  # 1-based rank; with few samples it can pass n: take the largest
    return float(scores[min(k, n) - 1])


def calibrate(quantiles: FloatArray, y: FloatArray) -> Calibration:
    """Offsets from the validation slice: `quantiles` (n, horizon, levels) and `y` (n, horizon),
    both in the network's output units."""
    offsets = {
        level: tuple(
            conformity_offset(quantiles[:, h, lo], quantiles[:, h, hi], y[:, h], level) for h in range(y.shape[1])
        )
        for level, (lo, hi) in INTERVALS.items()
    }
    return Calibration(offsets, len(y))


def shifts(calibration: Calibration, levels: tuple[float, ...] = QUANTILE_LEVELS) -> FloatArray:
    """(horizon, levels) outward moves: each interval's ends move by exactly its offset, and the
    levels between are interpolated linearly in the level (0 at the median, which never moves).

    Moving only the four interval ends would leave 0.05 and 0.25 where they were, and a running
    max would then undo most of a widening (0.10 pushed below 0.05 is lifted back to it)."""
    lo80, hi80 = (QUANTILE_LEVELS[i] for i in INTERVALS[0.80])
    lo95, hi95 = (QUANTILE_LEVELS[i] for i in INTERVALS[0.95])
    tau = np.asarray(levels, dtype=np.float64)
    rows = []
    for q80, q95 in zip(calibration.offsets[0.80], calibration.offsets[0.95], strict=True):
        down = np.interp(tau, [lo95, lo80, 0.5], [q95, q80, 0.0])  # levels beyond the ends: their end's
        up = np.interp(tau, [0.5, hi80, hi95], [0.0, q80, q95])
        rows.append(np.where(tau < 0.5, -down, up))
    return np.asarray(np.vstack(rows), dtype=np.float64)


def apply(quantiles: FloatArray, calibration: Calibration | None) -> FloatArray:
    """(n, horizon, levels) quantiles moved outward by `shifts` (inward where an offset is
    negative), then put back in order from the median outwards: each lower level at most the
    one above it, each upper level at least the one below. Levels nearer the median win, so the
    80 % interval is exactly its calibrated one, and a 95 % end that a large narrowing would put
    inside it is moved out to the 80 % end (quantiles never cross)."""
    if calibration is None:
        return quantiles
    out = np.asarray(quantiles, dtype=np.float64) + shifts(calibration)[None, :, :]
    m = MEDIAN
    out[..., : m + 1] = np.flip(np.minimum.accumulate(np.flip(out[..., : m + 1], axis=-1), axis=-1), axis=-1)
    out[..., m:] = np.maximum.accumulate(out[..., m:], axis=-1)
    return out


def from_scaler_params(params: dict[str, Any]) -> Calibration | None:
    """The calibration stored with a version's scaler parameters; None for a version without one."""
    stored = params.get(CALIBRATION_KEY)
    return None if stored is None else Calibration.from_params(stored)


# Online calibration of the issued intervals from matured forecasts: pure functions.
#
# Adaptive conformal inference (Gibbs & Candès 2021) moves the miscoverage level used for the
# next interval by gamma (alpha - err_t) after each outcome. With a fixed set of nine quantile
# levels there is no q_0.01 to move to, so the same update drives a width factor instead (the
# "quantile tracking" form of Angelopoulos, Candès & Tibshirani 2023): after each matured forecast,
#
#     log s <- log s + gamma (err_t - alpha),    err_t = 1 if the actual fell outside the interval,
#
# and the next interval is the model's, stretched by s about its median. Summed, the recursion
# has a closed form, log s_T = gamma (misses - alpha n): the state is two counts over the matured
# forecasts, so it is recomputed from the database every day (a backfill and the daily run agree,
# and a rerun changes nothing). The same identity is the guarantee: the miss rate over those n
# forecasts is alpha + log s_T / (gamma n), so it tends to alpha as long as s stays bounded
# (which it does for any bounded sequence of moves: a factor too large stops the misses, one too
# small makes them). It promises nothing about any single day or a short window.
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
