"""The quantile set, the baselines' quantiles and the interval scores, on hand-made numbers."""

from datetime import date

import numpy as np
import pandas as pd
import pytest

from forecaster.model import baselines
from forecaster.model.forecasting import points
from forecaster.model.intervals import INTERVALS, MEDIAN, QUANTILE_LEVELS, average
from forecaster.scoring.intervals import bounds, coverage, pinball, width, winkler


def bars_of(close: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"close": close})


def test_the_intervals_name_the_right_levels():
    assert QUANTILE_LEVELS[MEDIAN] == 0.5
    assert [QUANTILE_LEVELS[i] for i in INTERVALS[0.80]] == [0.10, 0.90]
    assert [QUANTILE_LEVELS[i] for i in INTERVALS[0.95]] == [0.025, 0.975]


def test_pinball_by_hand():
    # y = 10; q = 8 at tau 0.1 costs 0.1 * 2; q = 12 at tau 0.9 costs 0.1 * 2; q = 10 costs nothing.
    q = np.array([[8.0, 10.0, 12.0]])
    assert pinball(q, np.array([10.0]), (0.1, 0.5, 0.9)) == pytest.approx((0.2 + 0.0 + 0.2) / 3)
    # y = 13 above everything: 0.1 * 5, 0.5 * 3, 0.9 * 1
    assert pinball(q, np.array([13.0]), (0.1, 0.5, 0.9)) == pytest.approx((0.5 + 1.5 + 0.9) / 3)


def test_coverage_width_and_winkler_by_hand():
    lo, hi = np.array([9.0, 9.0, 9.0, 9.0]), np.array([11.0, 11.0, 11.0, 11.0])
    y = np.array([10.0, 11.0, 8.0, 12.5])
    assert coverage(lo, hi, y) == 0.5
    assert width(lo, hi) == 2.0
    # misses: 1 below, 1.5 above; 2 / alpha = 10 at 80 %
    assert winkler(lo, hi, y, 0.80) == pytest.approx(2.0 + 10.0 * (1.0 + 1.5) / 4)
    q = np.tile(np.arange(9.0), (2, 1))
    assert [a.tolist() for a in bounds(q, 0.80)] == [[2.0, 2.0], [6.0, 6.0]]


def test_naive_quantiles_are_the_empirical_quantiles_of_past_log_returns():
    rng = np.random.default_rng(3)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, 800)))
    q = baselines.naive_quantiles(bars_of(close), 2)
    assert q.shape == (2, len(QUANTILE_LEVELS))
    one_day = np.diff(np.log(close))[-baselines.RETURNS :]
    assert q[0] == pytest.approx(close[-1] * np.exp(np.quantile(one_day, QUANTILE_LEVELS)))
    assert np.all(np.diff(q, axis=1) >= 0) and q[1, -1] - q[1, 0] > q[0, -1] - q[0, 0]  # wider further out


def test_ewma_quantiles_follow_recent_volatility_and_centre_on_the_last_close():
    rng = np.random.default_rng(4)
    calm_then_wild = np.concatenate([rng.normal(0, 0.005, 500), rng.normal(0, 0.03, 60)])
    close = 100.0 * np.exp(np.cumsum(calm_then_wild))
    q = baselines.ewma_quantiles(bars_of(close), 1)
    assert q[0, MEDIAN] == pytest.approx(close[-1])
    sigma = np.log(q[0, -1] / close[-1]) / 1.959964
    assert 0.02 < sigma < 0.04  # the last 60 days' 3 %, not the long run's ~0.8 %
    assert baselines.ewma_sigma(close) == pytest.approx(sigma, rel=1e-4)


def test_drift_quantiles_surround_the_drift_point():
    close = np.linspace(100.0, 200.0, 700) * (1 + 0.01 * np.sin(np.arange(700)))
    point = baselines.drift_forecast(bars_of(close), 3)
    q = baselines.drift_quantiles(bars_of(close), 3)
    assert np.all(q[:, 0] < point) and np.all(q[:, -1] > point) and np.all(np.diff(q, axis=1) >= 0)


def test_quantiles_refuse_a_history_too_short():
    with pytest.raises(ValueError, match="too few"):
        baselines.naive_quantiles(bars_of(np.array([1.0, 2.0])), 1)


def test_the_ensemble_averages_each_level():
    a, b = np.array([[1.0, 2.0, 3.0]]), np.array([[3.0, 4.0, 9.0]])
    assert average([a, b]).tolist() == [[2.0, 3.0, 6.0]]
    with pytest.raises(ValueError, match="at least one"):
        average([])


def test_points_carry_their_quantiles():
    q = np.array([[1.0] * 9, [2.0] * 9])
    rows = points(date(2020, 4, 24), np.array([1.0, 2.0]), q)
    assert [p.target_date for p in rows] == [date(2020, 4, 27), date(2020, 4, 28)]
    assert rows[1].quantiles == (2.0,) * 9
    assert points(date(2020, 4, 24), np.array([1.0]))[0].quantiles is None
