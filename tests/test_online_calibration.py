"""The online calibration (model/intervals, routine/calibration) and the ensemble, in the routine:
derived from the database, the same in a backfill and in day-by-day runs, idempotent."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import text

from forecaster.ingest.sources.csvfile import CsvSource
from forecaster.ingest.update import ingest_ticker
from forecaster.model.forecasting import Point
from forecaster.model.intervals import GAMMA, MAX_LOG_SCALE, MEDIAN, QUANTILE_LEVELS, calibrated, scale, stretch
from forecaster.model.spec import BASELINES
from forecaster.routine.backfill import backfill
from forecaster.routine.baselines_and_ensemble import ensemble_outcome
from forecaster.routine.driver import RoutineOptions
from forecaster.routine.pipeline import run_routine
from forecaster.routine.task_results import ModelOutcome
from forecaster.routine.tasks import KindResult, ModelTask, run_model_task
from forecaster.storage.db import open_database, session_factory, transaction
from forecaster.storage.records import complete_days
from tests.helpers import SYNTHETIC_TICKER as TICKER
from tests.helpers import TODAY, synthetic_csv, tiny_settings

Z = np.array([-1.96, -1.645, -1.2816, -0.6745, 0.0, 0.6745, 1.2816, 1.645, 1.96])
START, END = date(2023, 7, 3), date(2023, 7, 28)  # 20 trading days
ROWS = "select model, as_of, target_date, yhat, q500, lo80, hi80, lo95, hi95, scale80, scale95 from forecasts"


def test_the_factor_is_the_closed_form_of_the_update_and_its_identity_bounds_the_miss_rate():
    assert scale(0, 0, 0.80) == 1.0
    log_s, n, misses = 0.0, 0, 0
    rng = np.random.default_rng(1)
    for miss in rng.random(300) < 0.25:  # any sequence of hits and misses
        log_s += GAMMA * (float(miss) - 0.20)
        n, misses = n + 1, misses + int(miss)
        # The factor applied is clipped; the state it comes from is not.
        assert np.log(scale(n, misses, 0.80)) == pytest.approx(np.clip(log_s, -MAX_LOG_SCALE, MAX_LOG_SCALE))
    assert misses / n - 0.20 == pytest.approx(log_s / (GAMMA * n))


def test_coverage_recovers_after_the_volatility_doubles():
    rng = np.random.default_rng(0)
    sd = np.r_[np.full(300, 1.0), np.full(300, 2.0)]
    moves = [float(x) for x in rng.normal(0.0, 1.0, len(sd)) * sd]
    model = tuple(Z)  # a model that never learns of the change: its interval stays N(0, 1)'s
    n = misses = 0
    inside_raw, inside = [], []
    for y in moves:
        lo, hi = stretch(model, 0.80, scale(n, misses, 0.80))
        inside.append(lo <= y <= hi)
        inside_raw.append(-1.2816 <= y <= 1.2816)
        n, misses = n + 1, misses + int(not inside[-1])
    late = slice(400, 600)  # 100 days after the change
    assert np.mean(inside_raw[late]) < 0.6  # the model's own interval covers about half
    assert 0.72 <= np.mean(inside[late]) <= 0.88
    assert 0.76 <= np.mean(inside) <= 0.84


def test_stretching_keeps_the_median_and_each_side():
    q = (90.0, 92.0, 95.0, 98.0, 100.0, 101.0, 103.0, 104.0, 106.0)
    assert stretch(q, 0.80, 2.0) == (90.0, 106.0)
    assert calibrated(q).lo80 == 95.0 and calibrated(q).hi95 == 106.0


def _setup(folder: Path, **extra: Any) -> tuple[Any, Any]:
    settings = tiny_settings(folder, models=["rnn"], **extra)
    return settings, session_factory(open_database(settings.db_url))


def _rows(factory: Any) -> list[tuple[Any, ...]]:
    with factory() as s:
        return [tuple(r) for r in s.execute(text(ROWS + " order by model, as_of, target_date")).all()]


@pytest.mark.slow
def test_a_backfill_and_day_by_day_runs_issue_the_same_intervals(tmp_path):
    csv = synthetic_csv(tmp_path)
    settings, replayed = _setup(tmp_path / "a")
    assert ingest_ticker(replayed, CsvSource(csv), TICKER, today=TODAY).ok
    options = RoutineOptions(kinds=(), between="predict")
    assert backfill(settings, replayed, tickers=[TICKER], start=START, end=END, options=options, today=TODAY).ok
    daily_settings, daily = _setup(tmp_path / "b")
    days = sorted({date.fromisoformat(str(r[1])) for r in _rows(replayed)})
    assert len(days) == 20
    for day in days:  # as the daemon: that day's bar arrives, then the routine runs on it
        assert ingest_ticker(daily, CsvSource(csv), TICKER, today=TODAY, end=day).ok
        run_routine(daily_settings, daily, tickers=[TICKER], options=RoutineOptions(kinds=(), plots=False),
                    source=None, today=TODAY)  # fmt: skip
    rows = _rows(replayed)
    assert rows == _rows(daily)
    assert {r[0] for r in rows} == set(BASELINES)
    # garch needs 250 returns for quantiles; the synthetic stock has 160 bars: its point alone
    assert all((r[5] is None) == (r[0] == "garch") for r in rows)
    last = {r[0]: r for r in rows if str(r[1]) == days[-1].isoformat()}
    assert {r[9] for r in last.values()} != {1.0}  # 19 matured forecasts moved the factors
    with replayed() as s:
        misses = "sum(case when actual < lo80 or actual > hi80 then 1 else 0 end)"
        query = f"select count(*), {misses} from forecasts where model = 'ewma' and target_date <= :d"
        tallies = s.execute(text(query), {"d": days[-1]}).one()
    assert last["ewma"][9] == pytest.approx(scale(tallies[0], tallies[1], 0.80))
    # Run again (a rerun of the last day, a backfill of the whole range): nothing changes.
    run_routine(settings, replayed, tickers=[TICKER], options=RoutineOptions(kinds=(), as_of=days[-1], plots=False),
                source=None, today=TODAY)  # fmt: skip
    with transaction(replayed) as s:
        s.execute(text("delete from forecasts where model = 'ewma' and as_of = :d"), {"d": days[5]})
    assert backfill(settings, replayed, tickers=[TICKER], start=START, end=END, options=options, today=TODAY).ok
    assert _rows(replayed) == rows


class WithQuantiles:
    """The local executor, with (horizon, levels) quantiles put on each network's result as the
    quantile networks will: a stand-in for them (issue 17's other half) at the task seam."""

    @contextmanager
    def running(self, checkpoint: Callable[[], None]) -> Iterator["WithQuantiles"]:
        yield self

    def submit(self, task: ModelTask) -> Iterator[KindResult]:
        result = run_model_task(task)
        for one in result.tickers if result.error is None else []:
            spread = 0.01 * (1 + ("rnn", "gru").index(one.kind))
            values = np.asarray(one.forecast)[:, None]
            one.quantiles = (values * np.exp(spread * Z)[None, :]).tolist()
        return iter([result])

    def rest(self) -> Iterator[KindResult]:
        return iter([])


def test_the_ensemble_is_half_the_networks_average_and_half_garch_where_garch_has_quantiles():
    def outcome(model: str, centre: float, quantiles: bool = True) -> ModelOutcome:
        q = tuple(centre + Z) if quantiles else None
        return ModelOutcome(model, "x", forecast=[Point(date(2023, 7, 4), 1, centre, q)])

    nets = [outcome("rnn", 100.0), outcome("gru", 102.0), outcome("naive", 50.0)]  # naive: never a member
    both = ensemble_outcome([*nets, outcome("garch", 105.0)], START)
    assert both is not None and both.reason == "average of rnn, gru, half and half with garch"
    np.testing.assert_allclose(both.forecast[0].quantiles or (), (101.0 + 105.0) / 2 + Z)
    assert both.forecast[0].yhat == pytest.approx(103.0)
    alone = ensemble_outcome([*nets, outcome("garch", 105.0, quantiles=False)], START)  # garch too young
    assert alone is not None and alone.reason == "average of rnn, gru"
    np.testing.assert_allclose(alone.forecast[0].quantiles or (), 101.0 + Z)
    assert ensemble_outcome([nets[0], outcome("garch", 105.0)], START) is None  # one network: no ensemble


@pytest.mark.slow
def test_the_ensemble_averages_the_networks_quantiles_and_completes_the_day(tmp_path):
    settings, factory = _setup(tmp_path, horizon=2)
    assert ingest_ticker(factory, CsvSource(synthetic_csv(tmp_path)), TICKER, today=TODAY).ok
    options = RoutineOptions(kinds=("rnn", "gru"), as_of=START, plots=False)
    report = run_routine(settings, factory, tickers=[TICKER], options=options, source=None, today=TODAY,
                         executor=WithQuantiles())  # fmt: skip
    assert report.ok, [(o.model, o.error) for t in report.tickers for o in t.outcomes]
    assert [o.model for o in report.tickers[0].outcomes] == [*BASELINES, "rnn", "gru", "ensemble"]
    cols = ", ".join(f"q{round(level * 1000):03d}" for level in QUANTILE_LEVELS)
    with factory() as s:
        q = {m: np.array(s.execute(text(f"select {cols} from forecasts where model = :m order by horizon"),
                                   {"m": m}).all()) for m in ("rnn", "gru", "ensemble")}  # fmt: skip
        yhat = s.execute(text("select yhat from forecasts where model = 'ensemble' order by horizon")).scalars().all()
        item = s.execute(text("select status, reason from run_items where model = 'ensemble'")).one()
    assert q["ensemble"] == pytest.approx((q["rnn"] + q["gru"]) / 2)
    assert yhat == pytest.approx(q["ensemble"][:, MEDIAN])
    assert tuple(item) == ("ok", "average of rnn, gru")
    with factory() as s:
        assert complete_days(s, [TICKER], ("rnn", "gru"), START, START) == {START}
    with transaction(factory) as s:  # killed after the networks, before the ensemble: not done
        s.execute(text("delete from forecasts where model = 'ensemble'"))
    with factory() as s:
        assert complete_days(s, [TICKER], ("rnn", "gru"), START, START) == set()
