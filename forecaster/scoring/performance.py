"""How an equity curve did (pure): returns, risk, drawdown and a hit rate with its interval.

Daily figures are annualised with 252 trading days; Sharpe takes a zero risk-free rate.
"""

import math

import numpy as np

from forecaster.model.windows import FloatArray

TRADING_DAYS = 252
Z95 = 1.959963984540054  # the normal's 97.5 % point: a two-sided 95 % interval
NAN = float("nan")


def wilson(hits: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson's score interval for a binomial share (Wilson, 1927); (NaN, NaN) when n is 0."""
    if n == 0:
        return NAN, NAN
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def max_drawdown(equity: FloatArray) -> float:
    """The deepest fall from a running peak, as a negative share (0 when it never fell)."""
    if equity.size == 0:
        return NAN
    return float(np.min(drawdowns(equity)))


def drawdowns(equity: FloatArray) -> FloatArray:
    """The fall from the running peak on each day (<= 0)."""
    return equity / np.maximum.accumulate(equity) - 1.0


def curve_stats(equity: FloatArray, start: float) -> dict[str, float]:
    """Total and annualised return, annualised volatility and Sharpe of a curve marked daily
    from `start` (the first return is the first day's against `start`)."""
    if equity.size == 0:
        return dict.fromkeys(("total_return", "annual_return", "volatility", "sharpe"), NAN)
    daily = np.diff(np.concatenate([[start], equity])) / np.concatenate([[start], equity[:-1]])
    total = float(equity[-1] / start - 1.0)
    sd = float(np.std(daily, ddof=1)) if daily.size > 1 else NAN
    return {
        "total_return": total,
        "annual_return": (1.0 + total) ** (TRADING_DAYS / equity.size) - 1.0,
        "volatility": sd * math.sqrt(TRADING_DAYS),
        "sharpe": float(np.mean(daily)) / sd * math.sqrt(TRADING_DAYS) if sd > 0 else NAN,
    }


def hit_rate(long: FloatArray, realised: FloatArray) -> dict[str, float]:
    """Share of days whose stance (long: a rise, flat: a fall) matched the realised move, with
    Wilson's 95 % interval; days without a move are left out."""
    moved = realised != 0
    hits = int(np.sum((long.astype(bool) == (realised > 0)) & moved))
    n = int(np.sum(moved))
    lo, hi = wilson(hits, n)
    return {"hit_rate": hits / n if n else NAN, "hit_lo": lo, "hit_hi": hi, "hit_n": n}
