"""The daily routine end to end, with tiny models (a few units, 1-2 epochs) on the bundled data."""

import hashlib
from datetime import date

import numpy as np
import pytest
from sqlalchemy import select, text

from forecaster.model.baselines import drift_forecast, naive_forecast
from forecaster.model.spec import BASELINES
from forecaster.storage.bars import load_bars
from forecaster.storage.db import transaction
from forecaster.storage.schema import Bar, Forecast, ModelVersion, Plot
from forecaster.storage.schema_runs import Run, RunItem
from tests.helpers import AS_OF, KINDS, TICKER, pipeline_settings, poison_after, ready_db, routine


def forecast_rows(factory):
    with factory() as s:
        return [tuple(r) for r in s.execute(text("select * from forecasts order by model, as_of, target_date")).all()]


@pytest.fixture
def settings(tmp_path):
    return pipeline_settings(tmp_path, horizon=2)


@pytest.fixture
def factory(settings):
    return ready_db(settings)


@pytest.mark.slow
def test_each_kind_trains_and_forecasts_with_versions_and_plots(settings, factory):
    report = routine(settings, factory)
    assert report.ok, [(o.model, o.error) for t in report.tickers for o in t.outcomes]
    (ticker,) = report.tickers
    assert ticker.as_of == AS_OF
    by_model = {o.model: o for o in ticker.outcomes}
    assert set(by_model) == {*BASELINES, *KINDS, "ensemble"}
    for kind in KINDS:
        o = by_model[kind]
        assert o.action == "retrain" and o.reason == "no model yet"
        assert [p.target_date for p in o.forecast] == [date(2011, 7, 1), date(2011, 7, 4)]  # Fri, then Mon
        assert [p.horizon for p in o.forecast] == [1, 2]
        assert all(np.isfinite(p.yhat) and 50 < p.yhat < 150 for p in o.forecast)  # Moutai (qfq) traded ~100
    with factory() as s:
        last_close = s.scalar(select(Bar.close).where(Bar.trade_date == AS_OF))
        assert [p.yhat for p in by_model["naive"].forecast] == [last_close, last_close]
        models = len(BASELINES) + len(KINDS) + 1  # and the ensemble
        assert s.scalar(text("select count(*) from forecasts")) == models * 2
        # Every model carries quantiles and bands: baselines, quantile networks and their ensemble.
        banded = dict(s.execute(text("select model, count(lo80) from forecasts group by model")).all())
        assert banded == dict.fromkeys([*BASELINES, "rnn", "lstm", "gru", "ensemble"], 2)
        ordered = s.scalars(text("select count(*) from forecasts where q025 <= q500 and q500 <= q975")).one()
        assert ordered == models * 2  # non-crossing, networks and ensemble included
        versions = s.scalars(select(ModelVersion)).all()
        assert sorted(v.kind for v in versions) == sorted(KINDS)
        for v in versions:
            assert v.as_of == AS_OF and v.train_end == AS_OF and v.parent_id is None and v.action == "retrain"
            path = settings.data_dir / v.path
            assert hashlib.sha256(path.read_bytes()).hexdigest() == v.sha256
            assert v.epochs_run in (1, 2) and v.val_loss is not None
        plots = s.scalars(select(Plot)).all()
        assert {p.kind for p in plots} == {"forecast", "validation"}
        for p in plots:
            assert (settings.data_dir / p.path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        run = s.scalars(select(Run)).one()
        assert run.status == "ok" and run.finished_at is not None and "train" in (run.timings or "")
        items = s.scalars(select(RunItem)).all()
        assert {(i.model, i.status) for i in items} == {(k, "ok") for k in (*KINDS, "ensemble")}


@pytest.mark.slow
def test_the_same_run_twice_leaves_the_same_rows(settings, factory):
    assert routine(settings, factory).ok
    before = forecast_rows(factory)
    again = routine(settings, factory)
    assert again.ok
    assert {o.action for o in again.tickers[0].outcomes if o.model in KINDS} == {"reuse"}
    assert forecast_rows(factory) == before
    with factory() as s:
        assert s.scalar(text("select count(*) from model_versions")) == 3


@pytest.mark.slow
def test_fine_tune_makes_a_child_version_and_retrain_a_new_root(settings, factory):
    assert routine(settings, factory).ok
    nxt = routine(settings, factory, as_of=date(2011, 7, 1), kinds=("gru",), between="finetune")
    (o,) = [o for o in nxt.tickers[0].outcomes if o.model == "gru"]
    assert o.action == "finetune"
    with factory() as s:
        child = s.get(ModelVersion, o.version_id)
        assert child is not None and child.parent_id is not None and child.action == "finetune"
        parent = s.get(ModelVersion, child.parent_id)
        assert parent is not None and parent.as_of == AS_OF and child.as_of == date(2011, 7, 1)
        assert child.path != parent.path and child.spec == parent.spec
    forced = routine(settings, factory, as_of=date(2011, 7, 1), kinds=("gru",), force="retrain")
    (f,) = [o for o in forced.tickers[0].outcomes if o.model == "gru"]
    assert f.action == "retrain" and f.version_id != o.version_id
    with factory() as s:
        fresh = s.get(ModelVersion, f.version_id)
        assert fresh is not None and fresh.parent_id is None
        # One forecast per (ticker, model, as_of, target_date): the newest version's.
        rows = s.scalars(select(Forecast).where(Forecast.model == "gru", Forecast.as_of == date(2011, 7, 1))).all()
        assert len(rows) == 2 and {r.model_version_id for r in rows} == {f.version_id}


@pytest.mark.slow
def test_between_retrains_a_later_day_predicts_with_the_version_as_it_is_by_default(settings, factory):
    assert settings.between_retrains == "predict"
    first = routine(settings, factory, kinds=("gru",))
    (trained,) = [o for o in first.tickers[0].outcomes if o.model == "gru"]
    nxt = routine(settings, factory, as_of=date(2011, 7, 1), kinds=("gru",))
    (o,) = [o for o in nxt.tickers[0].outcomes if o.model == "gru"]
    assert (o.action, o.version_id) == ("reuse", trained.version_id) and "predicting with the version" in o.reason
    with factory() as s:
        assert s.scalar(text("select count(*) from model_versions")) == 1
        rows = s.scalars(select(Forecast).where(Forecast.model == "gru", Forecast.as_of == date(2011, 7, 1))).all()
        assert rows and {r.model_version_id for r in rows} == {trained.version_id}


@pytest.mark.slow
def test_a_tampered_model_file_is_detected_and_retrained(settings, factory):
    assert routine(settings, factory, kinds=("rnn",)).ok
    with factory() as s:
        version = s.scalars(select(ModelVersion)).one()
    path = settings.data_dir / version.path
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    report = routine(settings, factory, as_of=date(2011, 7, 1), kinds=("rnn",))
    assert report.ok
    (o,) = [o for o in report.tickers[0].outcomes if o.model == "rnn"]
    assert o.action == "retrain" and "sha256" in o.reason
    with factory() as s:
        assert s.scalar(text("select count(*) from model_versions")) == 2


@pytest.mark.slow
def test_nothing_after_as_of_is_read(tmp_path):
    """Two databases, one with a poisoned future: identical forecasts (and seeds make them equal)."""
    clean = pipeline_settings(tmp_path / "clean")
    poisoned = pipeline_settings(tmp_path / "poisoned")
    clean_factory, poisoned_factory = ready_db(clean), ready_db(poisoned)
    with transaction(clean_factory) as s:
        s.execute(text("delete from bars where trade_date > :d"), {"d": AS_OF.isoformat()})
    poison_after(poisoned_factory, AS_OF)
    a = routine(clean, clean_factory)
    b = routine(poisoned, poisoned_factory)
    assert a.ok and b.ok
    fa = {o.model: [p.yhat for p in o.forecast] for o in a.tickers[0].outcomes}
    fb = {o.model: [p.yhat for p in o.forecast] for o in b.tickers[0].outcomes}
    assert fa == fb


@pytest.mark.slow
def test_actuals_are_filled_when_the_bars_exist(settings, factory):
    assert routine(settings, factory, kinds=("rnn",)).ok
    with factory() as s:
        rows = s.execute(
            text(
                "select model, target_date, yhat, actual, abs_error from v_forecasts "
                "where as_of = '2011-06-30' order by model, target_date"
            )
        ).all()
        closes = dict(
            s.execute(
                select(Bar.trade_date, Bar.close).where(Bar.trade_date.in_([date(2011, 7, 1), date(2011, 7, 4)]))
            ).all()
        )
    assert len(rows) == (len(BASELINES) + 1) * 2  # rnn and the baselines, two days ahead
    for model, target_date, yhat, actual, abs_error in rows:
        assert actual == closes[date.fromisoformat(target_date)], model
        assert abs_error == pytest.approx(abs(yhat - actual))


@pytest.mark.slow
def test_one_failing_model_does_not_stop_the_others(settings, factory, monkeypatch):
    from forecaster.model.training import train_new as real

    def flaky(bars, spec, train, **kw):
        if spec.kind == "lstm":
            raise RuntimeError("simulated training crash")
        return real(bars, spec, train, **kw)

    monkeypatch.setattr("forecaster.routine.tasks.train_new", flaky)  # where the task looks it up
    report = routine(settings, factory)
    assert not report.ok
    outcomes = {o.model: o for o in report.tickers[0].outcomes}
    assert outcomes["lstm"].error == "simulated training crash"
    assert outcomes["rnn"].ok and outcomes["gru"].ok
    with factory() as s:
        run = s.scalars(select(Run)).one()
        assert run.status == "partial" and "simulated training crash" in (run.error or "")
        failed = s.scalars(select(RunItem).where(RunItem.status == "error")).one()
        assert failed.model == "lstm"
        assert s.scalar(text("select count(*) from forecasts where model = 'lstm'")) == 0
        assert s.scalar(text("select count(*) from forecasts where model = 'gru'")) == 2


def test_baselines_follow_the_evaluation_rules(settings, factory):
    with factory() as s:
        bars = load_bars(s, TICKER, until=AS_OF)
    close = bars["close"].to_numpy()
    # naive is the last close whatever the target; drift adds h x the mean daily change.
    assert naive_forecast(bars, 3).tolist() == [close[-1]] * 3
    step = (close[-1] - close[0]) / (len(close) - 1)
    assert drift_forecast(bars, 2) == pytest.approx([close[-1] + step, close[-1] + 2 * step])


@pytest.mark.slow
def test_target_open_still_uses_the_last_close_as_naive(tmp_path):
    s = pipeline_settings(tmp_path, target="open", features=["open", "close"])
    factory = ready_db(s)
    report = routine(s, factory, kinds=("rnn",))
    assert report.ok
    with factory() as session:
        row = session.execute(text("select target, yhat, last_close from forecasts where model = 'naive'")).one()
    assert row.target == "open" and row.yhat == row.last_close
