"""Conformalized quantile regression (Romano, Patterson & Candes 2019) on the inner validation
slice: pure numpy.

For each central interval (80 %, 95 %) and horizon, the conformity score of a validation sample
is E = max(lo - y, y - hi): positive when y falls outside the network's interval, by how far.
The offset Q is the ceil((n + 1)(1 - alpha))-th smallest E; the calibrated interval is
[lo - Q, hi + Q] (the levels between the intervals' ends move in proportion, see `shifts`),
which widens the interval when the network was over-confident on the slice and narrows it
(Q < 0) when it was too cautious. If the validation samples and a later target
are exchangeable, the calibrated interval covers that target with probability >= 1 - alpha;
after a change of regime that promise is void (the routine's online correction is for that).

Offsets are in the network's output units (the scaled log return for `logret`), so they scale
with the price level, and are applied before the inverse scaling. They travel with the model
version inside its stored scaler parameters (`CALIBRATION_KEY`).
"""

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from forecaster.model.quantiles import INTERVALS, MEDIAN, QUANTILE_LEVELS
from forecaster.model.windows import FloatArray

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
