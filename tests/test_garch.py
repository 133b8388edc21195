"""The garch baseline: its fit is arch's, its schedule refits every few returns, its quantiles
are GARCH-t's, and it reads nothing after the as-of day."""

import numpy as np
import pytest
from arch import arch_model
from scipy import stats

from forecaster.model import garch
from forecaster.model.intervals import QUANTILE_LEVELS


def simulate(n: int, seed: int = 3, mu: float = 0.05, omega: float = 0.05, alpha: float = 0.08, beta: float = 0.9):
    """Closes whose percent log returns follow a known GARCH(1,1)-t(6)."""
    rng = np.random.default_rng(seed)
    nu = 6.0
    z = rng.standard_t(nu, n) * np.sqrt((nu - 2) / nu)
    r = np.empty(n)
    s2 = omega / (1 - alpha - beta)
    for t in range(n):
        r[t] = mu + np.sqrt(s2) * z[t]
        s2 = omega + alpha * (r[t] - mu) ** 2 + beta * s2
    return 100.0 * np.exp(np.concatenate([[0.0], np.cumsum(r / 100.0)]))


def test_fit_span_follows_the_schedule():
    with pytest.raises(ValueError, match="too few for garch"):
        garch.fit_span(garch.MIN_RETURNS - 1)
    assert garch.fit_span(252) == (0, 250)
    assert garch.fit_span(1203) == (200, 1200)
    # held for REFIT_EVERY returns, then moved on
    assert {garch.fit_span(n) for n in range(1500, 1505)} == {(500, 1500)}
    assert garch.fit_span(1505) == (505, 1505)


def test_one_day_variance_and_quantiles_are_arch_s():
    close = simulate(1200)
    r = np.diff(np.log(close)) * 100
    start, end = garch.fit_span(len(r))
    own = arch_model(r[start:end], mean="Constant", vol="GARCH", p=1, q=1, dist="t", rescale=False)
    fitted = own.fit(disp="off", show_warning=False)
    params = garch.fit(r[start:end])
    assert params.alpha == pytest.approx(fitted.params["alpha[1]"])
    expected_var = float(fitted.forecast(horizon=1, reindex=False).variance.to_numpy()[-1, 0])
    assert garch.next_variance(params, r[start:end]) == pytest.approx(expected_var, rel=1e-9)
    q = garch.cumulative_return_quantiles(params, expected_var, 1)
    unit = stats.t.ppf(QUANTILE_LEVELS, params.nu) * np.sqrt((params.nu - 2) / params.nu)
    np.testing.assert_allclose(q[0], params.mu + np.sqrt(expected_var) * unit)


def test_fit_recovers_a_known_process():
    params = garch.fit(np.diff(np.log(simulate(3000, seed=11))) * 100)
    assert params.alpha + params.beta == pytest.approx(0.98, abs=0.03)
    assert 3.5 < params.nu < 12


def test_quantiles_are_ordered_and_widen_with_the_horizon():
    close = simulate(900)
    q = garch.garch_quantiles(close, 5)  # (horizon, levels) in prices
    assert q.shape == (5, len(QUANTILE_LEVELS))
    assert np.all(np.diff(q, axis=1) > 0)
    spread = q[:, -1] / q[:, 0]
    assert np.all(np.diff(spread) > 0)
    # two days of GARCH-t: about sqrt(2) one day's 95 % width in log terms (the variance moves little)
    ratio = np.log(spread[1]) / np.log(spread[0])
    assert 1.3 < ratio < 1.55


def test_simulated_first_day_agrees_with_the_exact_one():
    """The paths start from the same distribution as the exact first row: check the simulation
    against it through a two-day run whose second day has no variance left."""
    params = garch.GarchParams(mu=0.0, omega=1e-12, alpha=0.0, beta=0.0, nu=6.0)
    two = garch.cumulative_return_quantiles(params, 4.0, 2)
    # day two adds a variance of omega ~ 0, so its quantiles are day one's, up to simulation noise
    np.testing.assert_allclose(two[1], two[0], atol=0.05)


def test_reads_nothing_after_the_as_of_day():
    close = simulate(1100)
    as_of = 1040
    before = garch.garch_quantiles(close[: as_of + 1], 3)
    later = close.copy()
    later[as_of + 1 :] *= 1.5  # a jump after the as-of day
    np.testing.assert_array_equal(garch.garch_quantiles(later[: as_of + 1], 3), before)


def test_same_history_same_quantiles_cached_or_not():
    close = simulate(1000)
    first = garch.garch_quantiles(close, 2)
    garch._fit_cached.cache_clear()
    np.testing.assert_array_equal(garch.garch_quantiles(close, 2), first)


def test_the_baseline_s_point_is_its_median_or_the_plain_mean_on_a_short_history():
    import pandas as pd

    from forecaster.model.baselines import garch_forecast, garch_quantiles
    from forecaster.model.intervals import MEDIAN

    long = pd.DataFrame({"close": simulate(600)})
    np.testing.assert_array_equal(garch_forecast(long, 3), garch_quantiles(long, 3)[:, MEDIAN])
    short = pd.DataFrame({"close": [10.0, 11.0, 12.1]})  # two returns of log(1.1)
    np.testing.assert_allclose(garch_forecast(short, 2), [12.1 * 1.1, 12.1 * 1.21])
    with pytest.raises(ValueError, match="too few for garch"):
        garch_quantiles(short, 1)
