"""Is a difference real? Pure tests over arrays (docs/models.md, "Is a difference real?").

- Diebold–Mariano (1995) on a loss differential d_t = loss(model) − loss(baseline) over the same
  targets: mean(d) over a Newey–West (Bartlett kernel) standard error, with the Harvey–Leybourne–
  Newbold (1997) small-sample factor and Student-t(n − 1) p-values. Negative: the model's loss is lower.
- Kupiec (1995) proportion-of-failures likelihood ratio: is the miss rate of an interval its nominal
  one? chi²(1).
- Christoffersen (1998) independence likelihood ratio: does a miss make the next one likelier
  (a first-order Markov chain against independence)? chi²(1).

Undefined results are NaN (JSON null): too few points, or a differential with no variance.
"""

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats
from scipy.special import xlogy

from forecaster.model.windows import FloatArray

NAN = float("nan")


@dataclass(frozen=True)
class Stat:
    """A statistic and its two-sided (DM) or upper-tail (likelihood ratio) p-value."""

    statistic: float = NAN
    p_value: float = NAN


def dm_lags(n: int, horizon: int) -> int:
    """Newey–West bandwidth: the h − 1 lags an h-step forecast's errors overlap by, or the usual
    automatic rule ⌊4 (n/100)^(2/9)⌋ (Newey & West 1994) where larger, since daily losses of
    interval forecasts are autocorrelated through volatility clustering even at h = 1."""
    return max(horizon - 1, math.floor(4.0 * float((n / 100.0) ** (2.0 / 9.0))))


def long_run_variance(d: FloatArray, lags: int) -> float:
    """Newey–West (1987) long-run variance of `d`: autocovariances up to `lags`, Bartlett weights
    1 − k/(lags + 1), each with denominator n (which keeps it non-negative)."""
    e = np.asarray(d, dtype=np.float64) - float(np.mean(d))
    n = len(e)
    total = float(e @ e) / n
    for k in range(1, min(lags, n - 1) + 1):
        total += 2.0 * (1.0 - k / (lags + 1.0)) * float(e[k:] @ e[:-k]) / n
    return total


def dm_statistic(d: FloatArray, lags: int) -> float:
    """mean(d) / sqrt(long-run variance / n), without the small-sample factor; NaN if undefined."""
    n = len(d)
    variance = long_run_variance(d, lags) if n > 1 else 0.0
    if not variance > 0.0:
        return NAN
    return float(np.mean(d)) / math.sqrt(variance / n)


def hln_factor(n: int, horizon: int) -> float:
    """Harvey, Leybourne & Newbold (1997): sqrt((n + 1 − 2h + h(h − 1)/n) / n)."""
    return math.sqrt(max(n + 1 - 2 * horizon + horizon * (horizon - 1) / n, 0.0) / n)


def diebold_mariano(d: FloatArray, horizon: int) -> Stat:
    """DM test of mean(d) = 0 for h-step forecasts: HLN-corrected statistic, two-sided t(n − 1) p."""
    n = len(d)
    raw = dm_statistic(d, dm_lags(n, horizon)) if n > 2 else NAN
    if math.isnan(raw):
        return Stat()
    statistic = raw * hln_factor(n, horizon)
    return Stat(statistic, float(2.0 * stats.t.sf(abs(statistic), df=n - 1)))


def kupiec(misses: FloatArray, level: float) -> Stat:
    """Kupiec's POF test that the miss rate is 1 − `level`. With no misses (or only misses) the
    likelihood uses 0·log 0 = 0, so the test is still defined."""
    n, x = len(misses), int(np.sum(misses))
    if n == 0:
        return Stat()
    p, rate = 1.0 - level, x / n
    null = xlogy(n - x, 1.0 - p) + xlogy(x, p)
    fitted = xlogy(n - x, 1.0 - rate) + xlogy(x, rate)
    return _lr_test(2.0 * (fitted - null))


def transitions(misses: FloatArray) -> tuple[int, int, int, int]:
    """(n00, n01, n10, n11): counts of consecutive (previous, next) pairs, 1 = a miss."""
    m = np.asarray(misses, dtype=bool)
    prev, nxt = m[:-1], m[1:]
    return (
        int(np.sum(~prev & ~nxt)),
        int(np.sum(~prev & nxt)),
        int(np.sum(prev & ~nxt)),
        int(np.sum(prev & nxt)),
    )


def christoffersen(misses: FloatArray) -> Stat:
    """Christoffersen's independence test on misses in target order. A state never left or never
    entered contributes 0·log 0 = 0: no misses at all (or no hits) gives LR = 0, p = 1; a miss only
    on the last day (no transition out of a miss) is tested on the other transitions alone."""
    if len(misses) < 2:
        return Stat()
    n00, n01, n10, n11 = transitions(misses)
    pi = (n01 + n11) / (n00 + n01 + n10 + n11)
    pi01 = n01 / (n00 + n01) if n00 + n01 else 0.0
    pi11 = n11 / (n10 + n11) if n10 + n11 else 0.0
    null = xlogy(n00 + n10, 1.0 - pi) + xlogy(n01 + n11, pi)
    markov = xlogy(n00, 1.0 - pi01) + xlogy(n01, pi01) + xlogy(n10, 1.0 - pi11) + xlogy(n11, pi11)
    return _lr_test(2.0 * (markov - null))


def _lr_test(lr: float) -> Stat:
    lr = max(float(lr), 0.0)  # rounding can leave a tiny negative where the fits coincide
    return Stat(lr, float(stats.chi2.sf(lr, df=1)))
