"""GARCH(1,1) with Student-t innovations: the textbook model a quant runs for a daily range.

Constant mean, fitted by the `arch` package on the last WINDOW daily log returns (from
MIN_RETURNS on while the history is shorter). The parameters are re-estimated every REFIT_EVERY
returns and held fixed in between, while the variance is filtered through every return up to the
as-of day. Which returns a fit sees depends only on how many the history holds (the fit ends at the
last multiple of REFIT_EVERY), so an as-of gives the same forecast in a daily run and in a backfill,
whatever ran before it; fits are cached in the process by their returns, so a backfill fits once
every REFIT_EVERY days.

Returns are in percent inside this module: the optimiser is better conditioned there (`arch`'s own
advice), and the quantiles leave it as prices.
"""

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
from scipy import stats

from forecaster.model.intervals import QUANTILE_LEVELS
from forecaster.model.windows import FloatArray

if TYPE_CHECKING:
    from arch.univariate.base import ARCHModel

WINDOW = 1000  # daily log returns behind a fit
MIN_RETURNS = 250  # fewer and the tails (nu) are not identified
REFIT_EVERY = 5  # returns between two fits
PATHS = 20_000  # simulated paths for horizons past one day
_SEED = 20_190_506  # fixed: the same bars give the same quantiles


@dataclass(frozen=True)
class GarchParams:
    """sigma2[t+1] = omega + alpha * (r[t] - mu)^2 + beta * sigma2[t]; r[t] = mu + sigma[t] z, z ~ t(nu)
    scaled to unit variance. Returns in percent."""

    mu: float
    omega: float
    alpha: float
    beta: float
    nu: float


def _model(returns_pct: FloatArray) -> "ARCHModel":
    from arch import arch_model  # imported here: only this baseline needs it

    return arch_model(returns_pct, mean="Constant", vol="GARCH", p=1, q=1, dist="t", rescale=False)


@lru_cache(maxsize=512)
def _fit_cached(returns_bytes: bytes) -> GarchParams:
    fitted = _model(np.frombuffer(returns_bytes, dtype=np.float64)).fit(disp="off", show_warning=False)
    p = fitted.params
    return GarchParams(float(p["mu"]), float(p["omega"]), float(p["alpha[1]"]), float(p["beta[1]"]), float(p["nu"]))


def fit(returns_pct: FloatArray) -> GarchParams:
    """Maximum-likelihood parameters on these returns (cached by their values)."""
    return _fit_cached(np.ascontiguousarray(returns_pct, dtype=np.float64).tobytes())


def fit_span(n_returns: int) -> tuple[int, int]:
    """[start, end) of the returns the current parameters were fitted on, for a history of n returns."""
    if n_returns < MIN_RETURNS:
        raise ValueError(f"{n_returns} daily returns are too few for garch (need {MIN_RETURNS})")
    end = max(n_returns - n_returns % REFIT_EVERY, MIN_RETURNS)
    return max(0, end - WINDOW), end


def next_variance(params: GarchParams, returns_pct: FloatArray) -> float:
    """The variance of the return after the last one, filtered with fixed parameters from the
    first return given (`arch`'s backcast starts the recursion)."""
    fixed = _model(returns_pct).fix([params.mu, params.omega, params.alpha, params.beta, params.nu])
    return float(fixed.forecast(horizon=1, reindex=False).variance.to_numpy()[-1, 0])


def _unit_t(nu: float, size: tuple[int, ...], rng: np.random.Generator) -> FloatArray:
    return np.asarray(rng.standard_t(nu, size=size) * np.sqrt((nu - 2.0) / nu), dtype=np.float64)


def cumulative_return_quantiles(
    params: GarchParams, variance: float, horizon: int, levels: tuple[float, ...] = QUANTILE_LEVELS
) -> FloatArray:
    """Quantiles of the 1..horizon-day log return in percent, (horizon, levels): exact for one day,
    simulated (PATHS paths, a fixed seed) for the variance's path beyond it."""
    scale = np.sqrt((params.nu - 2.0) / params.nu)
    first = params.mu + np.sqrt(variance) * scale * stats.t.ppf(levels, params.nu)
    if horizon == 1:
        return np.asarray(first[None, :], dtype=np.float64)
    rng = np.random.default_rng(_SEED)
    z = _unit_t(params.nu, (horizon, PATHS), rng)  # (horizon, paths)
    sigma2 = np.full(PATHS, variance)
    total = np.zeros(PATHS)
    rows = [first]
    for h in range(horizon):
        shock = np.sqrt(sigma2) * z[h]
        total += params.mu + shock
        if h:
            rows.append(np.quantile(total, levels))
        sigma2 = params.omega + params.alpha * shock**2 + params.beta * sigma2
    return np.asarray(np.vstack(rows), dtype=np.float64)


def garch_quantiles(close: FloatArray, horizon: int, levels: tuple[float, ...] = QUANTILE_LEVELS) -> FloatArray:
    """Price quantiles (horizon, levels) after the last close, from the closes up to the as-of day."""
    returns_pct = np.diff(np.log(close)) * 100.0
    start, end = fit_span(len(returns_pct))
    params = fit(returns_pct[start:end])
    variance = next_variance(params, returns_pct[start:])
    log_q = cumulative_return_quantiles(params, variance, horizon, levels) / 100.0
    return np.asarray(close[-1] * np.exp(log_q), dtype=np.float64)
