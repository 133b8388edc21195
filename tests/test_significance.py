"""Diebold–Mariano, Kupiec and Christoffersen: values computed by hand, by the formula, or by
statsmodels' HAC (an independent implementation, used here only as the reference)."""

import json
import math
from datetime import UTC, date, datetime

import numpy as np
import pytest
import statsmodels.api as sm
from click.testing import CliRunner
from scipy import stats
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from forecaster.cli import cli
from forecaster.market.calendar import trading_days
from forecaster.model.forecasting import Point
from forecaster.model.intervals import QUANTILE_LEVELS
from forecaster.scoring.intervals import pinball, pinball_each
from forecaster.scoring.significance import (
    christoffersen,
    diebold_mariano,
    dm_lags,
    dm_statistic,
    hln_factor,
    kupiec,
    long_run_variance,
    transitions,
)
from forecaster.storage.db import transaction
from forecaster.storage.records import fill_actuals, write_forecasts
from forecaster.storage.schema import Bar, Forecast


def test_dm_of_iid_differential_with_lag_0_is_the_plain_t_statistic() -> None:
    d = np.random.default_rng(1).normal(0.2, 1.0, 200)
    plain_t = d.mean() / (d.std(ddof=0) / math.sqrt(len(d)))
    assert dm_statistic(d, 0) == pytest.approx(plain_t, rel=1e-12)


def test_dm_hac_matches_statsmodels_newey_west() -> None:
    rng = np.random.default_rng(2)
    d = np.zeros(240)
    for t in range(1, 240):  # AR(1): autocorrelated, as daily loss differentials are
        d[t] = 0.5 * d[t - 1] + rng.normal()
    lags = dm_lags(240, 1)
    assert lags == 4  # floor(4 (2.4)^(2/9))
    fit = sm.OLS(d, np.ones(240)).fit(cov_type="HAC", cov_kwds={"maxlags": lags, "use_correction": False})
    assert dm_statistic(d, lags) == pytest.approx(float(fit.tvalues[0]), rel=1e-10)
    assert dm_lags(240, 10) == 9  # an h-step forecast's h - 1 overlapping lags when larger


def test_dm_by_hand_with_the_small_sample_factor() -> None:
    # d = 1, 2, 3, 4: mean 2.5, gamma0 = 1.25, gamma1 = 0.3125, one lag with weight 1/2:
    # long-run variance 1.5625, standard error 0.625, raw DM 4; HLN factor sqrt(3/4).
    d = np.array([1.0, 2.0, 3.0, 4.0])
    assert dm_lags(4, 1) == 1
    assert long_run_variance(d, 1) == pytest.approx(1.5625)
    assert dm_statistic(d, 1) == pytest.approx(4.0)
    assert hln_factor(4, 1) == pytest.approx(math.sqrt(0.75))
    result = diebold_mariano(d, 1)
    assert result.statistic == pytest.approx(4.0 * math.sqrt(0.75))
    assert result.p_value == pytest.approx(2.0 * stats.t.sf(4.0 * math.sqrt(0.75), df=3))
    assert diebold_mariano(-d, 1).statistic == pytest.approx(-result.statistic)  # lower loss: negative


def test_dm_is_nan_where_undefined() -> None:
    assert math.isnan(diebold_mariano(np.zeros(50), 1).statistic)  # a model against itself
    assert math.isnan(diebold_mariano(np.array([1.0, 2.0]), 1).p_value)  # too few targets
    assert math.isnan(diebold_mariano(np.array([]), 1).statistic)


def test_kupiec_by_the_formula() -> None:
    misses = np.zeros(20)
    misses[[2, 9, 15]] = 1.0
    null = 17 * math.log(0.95) + 3 * math.log(0.05)
    fitted = 17 * math.log(17 / 20) + 3 * math.log(3 / 20)
    result = kupiec(misses, 0.95)
    assert result.statistic == pytest.approx(-2.0 * (null - fitted))
    assert result.p_value == pytest.approx(stats.chi2.sf(-2.0 * (null - fitted), 1))
    none = kupiec(np.zeros(50), 0.80)  # no misses: 0 log 0 = 0, LR = -2 n log(0.8)
    assert none.statistic == pytest.approx(-2.0 * 50 * math.log(0.8)) and none.p_value < 1e-5
    assert kupiec(np.array([0.0, 0.0, 0.0, 0.0, 1.0]), 0.80).statistic == pytest.approx(0.0, abs=1e-12)
    assert math.isnan(kupiec(np.array([]), 0.80).p_value)


def test_christoffersen_by_the_formula() -> None:
    misses = np.array([0, 0, 1, 1, 0, 0, 0, 1, 0, 0], dtype=float)
    n00, n01, n10, n11 = transitions(misses)
    assert (n00, n01, n10, n11) == (4, 2, 2, 1)
    pi, pi01, pi11 = 3 / 9, 2 / 6, 1 / 3
    null = 6 * math.log(1 - pi) + 3 * math.log(pi)
    markov = 4 * math.log(1 - pi01) + 2 * math.log(pi01) + 2 * math.log(1 - pi11) + 1 * math.log(pi11)
    result = christoffersen(misses)
    assert result.statistic == pytest.approx(2.0 * (markov - null), abs=1e-12)
    clustered = christoffersen(np.array([0] * 20 + [1] * 5 + [0] * 20, dtype=float))
    # n00 = 38, n01 = 1, n10 = 1, n11 = 4: a miss is followed by a miss 4 times in 5
    assert transitions(np.array([0] * 20 + [1] * 5 + [0] * 20, dtype=float)) == (38, 1, 1, 4)
    lr = 2 * (38 * math.log(38 / 39) + math.log(1 / 39) + math.log(1 / 5) + 4 * math.log(4 / 5))
    lr -= 2 * (39 * math.log(39 / 44) + 5 * math.log(5 / 44))
    assert clustered.statistic == pytest.approx(lr) and clustered.p_value < 0.01


def test_christoffersen_degenerate_counts_are_defined() -> None:
    assert christoffersen(np.zeros(30)).p_value == 1.0  # no misses: nothing to cluster
    assert christoffersen(np.ones(30)).p_value == 1.0  # only misses: the same
    # A single miss on the last day: no transition out of a miss; pi01 = pi, LR = 0.
    last = christoffersen(np.array([0, 0, 0, 1], dtype=float))
    assert last.statistic == pytest.approx(0.0, abs=1e-12) and last.p_value == pytest.approx(1.0)
    assert math.isnan(christoffersen(np.array([1.0])).p_value)


def test_pinball_each_averages_to_pinball() -> None:
    rng = np.random.default_rng(3)
    q = np.sort(rng.normal(100, 2, (30, len(QUANTILE_LEVELS))), axis=1)
    y = rng.normal(100, 2, 30)
    each = pinball_each(q, y)
    assert each.shape == (30,) and each.mean() == pytest.approx(pinball(q, y))
    tau = 0.1  # one forecast, one level: y above q by 2 costs tau * 2
    assert pinball_each(np.array([[98.0]]), np.array([100.0]), (tau,))[0] == pytest.approx(0.2)


TICKERS = ("600519.SH", "000001.SZ")
DAYS = trading_days(date(2024, 1, 2), date(2024, 6, 28))
N = 80  # bars; one forecast a day, one day ahead, as of each day but the last
Z = np.array([-1.96, -1.645, -1.2816, -0.6745, 0.0, 0.6745, 1.2816, 1.645, 1.96])
SPREADS = {"naive": 1.6, "garch": 1.2, "rnn": 1.0}  # per close of 100; the returns have sd 1.0


def _closes(seed: int) -> np.ndarray:
    return 100.0 * (1 + seed) * np.exp(np.cumsum(np.random.default_rng(seed).normal(0.0, 0.01, N)))


def _seed(factory: sessionmaker[Session]) -> dict[tuple[str, str], np.ndarray]:
    """Each model's (N - 1, 9) quantiles per ticker: centred on the last close, spread by model."""
    issued: dict[tuple[str, str], np.ndarray] = {}
    now = datetime(2024, 7, 1, tzinfo=UTC)
    with transaction(factory) as s:
        for k, ticker in enumerate(TICKERS):
            c = _closes(k)
            for i, close in enumerate(c):
                s.add(Bar(ticker=ticker, trade_date=DAYS[i], open=close, high=close, low=close, close=close,
                          pre_close=None, volume=1.0, amount=None, source="test", ingested_at=now))  # fmt: skip
            s.flush()
            for model, spread in SPREADS.items():
                q = c[:-1, None] + spread * c[:-1, None] / 100.0 * Z[None, :]
                issued[(ticker, model)] = q
                for i in range(N - 1):
                    point = Point(DAYS[i + 1], 1, float(c[i]), tuple(float(x) for x in q[i]))
                    write_forecasts(s, ticker=ticker, model=model, model_version_id=None, run_id=None,
                                    as_of=DAYS[i], target="close", last_close=float(c[i]), forecast=[point],
                                    now=now)  # fmt: skip
            fill_actuals(s, ticker, revisit_days=400)
    return issued


def test_evaluate_json_carries_the_tests_per_ticker_and_pooled(factory: sessionmaker[Session]) -> None:
    issued = _seed(factory)
    out = CliRunner().invoke(cli, ["evaluate", "--format", "json"], catch_exceptions=False)
    assert out.exit_code == 0, out.output
    rows = {(r["ticker"], r["model"]): r for r in json.loads(out.stdout)}
    assert [k for k in rows if k[0] == "all"] == [("all", "rnn"), ("all", "naive"), ("all", "garch")]
    pooled_d = {name: np.zeros(N - 1) for name in ("naive", "garch")}
    for k, ticker in enumerate(TICKERS):
        c = _closes(k)
        actual, losses = c[1:], {m: pinball_each(q, c[1:]) for (t, m), q in issued.items() if t == ticker}
        row = rows[(ticker, "rnn")]
        for name in ("naive", "garch"):
            expected = diebold_mariano(losses["rnn"] - losses[name], 1)
            assert row[f"dm_{name}"] == pytest.approx(expected.statistic)
            assert row[f"dm_{name}_p"] == pytest.approx(expected.p_value)
            pooled_d[name] += (losses["rnn"] - losses[name]) / c[:-1] / len(TICKERS)
        assert row["dm_naive"] < 0  # the same median, the true spread: a lower loss than the wider naive
        q = issued[(ticker, "rnn")]
        miss80 = ((actual < q[:, 2]) | (actual > q[:, 6])).astype(float)
        miss95 = ((actual < q[:, 0]) | (actual > q[:, 8])).astype(float)
        assert row["kupiec80_p"] == pytest.approx(kupiec(miss80, 0.80).p_value)
        assert row["kupiec95_p"] == pytest.approx(kupiec(miss95, 0.95).p_value)
        assert row["christoffersen80_p"] == pytest.approx(christoffersen(miss80).p_value)
        assert row["christoffersen95_p"] == pytest.approx(christoffersen(miss95).p_value)
        assert rows[(ticker, "naive")]["dm_naive"] is None  # against itself: undefined, null
    for name in ("naive", "garch"):
        expected = diebold_mariano(pooled_d[name], 1)
        assert rows[("all", "rnn")][f"dm_{name}"] == pytest.approx(expected.statistic)
        assert rows[("all", "rnn")][f"dm_{name}_p"] == pytest.approx(expected.p_value)
    assert rows[("all", "rnn")]["n"] == N - 1 and rows[("all", "rnn")]["mae"] is None


def test_the_pairs_a_baseline_lacks_are_left_out_in_target_order(factory: sessionmaker[Session]) -> None:
    issued = _seed(factory)
    young, gaps = 30, list(range(5, N - 1, 7))  # garch has none of the first 30 days; naive misses every 7th
    with transaction(factory) as s:
        s.execute(delete(Forecast).where(Forecast.model == "garch", Forecast.as_of < DAYS[young]))
        s.execute(delete(Forecast).where(Forecast.model == "naive", Forecast.as_of.in_([DAYS[i] for i in gaps])))
    out = CliRunner().invoke(cli, ["evaluate", "--format", "json", "--ticker", TICKERS[1]], catch_exceptions=False)
    row = next(r for r in json.loads(out.stdout) if r["model"] == "rnn")
    c = _closes(1)
    losses = {m: pinball_each(issued[(TICKERS[1], m)], c[1:]) for m in SPREADS}
    kept = np.setdiff1d(np.arange(N - 1), gaps)
    expected = diebold_mariano((losses["rnn"] - losses["garch"])[young:], 1)
    assert row["dm_garch"] == pytest.approx(expected.statistic)
    expected = diebold_mariano((losses["rnn"] - losses["naive"])[kept], 1)
    assert row["dm_naive"] == pytest.approx(expected.statistic)
    assert row["rel_pinball"] == pytest.approx(losses["rnn"][kept].mean() / losses["naive"][kept].mean())
    assert row["pinball"] == pytest.approx(losses["rnn"].mean()) and row["n"] == N - 1
