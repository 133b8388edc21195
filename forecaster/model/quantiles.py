"""The fixed quantile set every forecast carries, and the intervals read from it.

Levels are probabilities of the h-day-ahead price; the 80 % interval is [q_0.10, q_0.90] and the
95 % interval [q_0.025, q_0.975] (shared/docs/EVALUATION.md). One set for every model and
baseline, so that their pinball losses compare on the same terms.
"""

from collections.abc import Sequence
from typing import Final

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
