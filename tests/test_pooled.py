"""One network per kind over the training universe: one version per kind cited by every ticker's
forecast, one batched predict, a universe-only ticker trained on but not forecast, and nothing
after the as-of day of any ticker read."""

from datetime import date

import pandas as pd
import pytest
from sqlalchemy import text

from forecaster.ingest.sources.csvfile import CsvSource
from forecaster.ingest.update import ingest_ticker
from forecaster.market.calendar import trading_days
from forecaster.routine.backfill import backfill
from forecaster.routine.driver import RoutineOptions
from forecaster.routine.pipeline import run_routine
from forecaster.routine.task_inputs import universe_key
from forecaster.storage.db import open_database, session_factory
from tests.helpers import poison_after, tiny_settings
from tests.tushare_server import DAILY_FIELDS, synthetic_daily

WATCH, EXTRA = ["600000.SH", "000002.SZ"], "300750.SZ"
DAYS = trading_days(date(2024, 1, 2), date(2024, 6, 28))
AS_OF, TODAY = DAYS[-20], date(2024, 7, 1)


def _db(tmp_path, name):
    settings = tiny_settings(tmp_path / name, universe=EXTRA)
    factory = session_factory(open_database(settings.db_url))
    rows = [r for i, t in enumerate([*WATCH, EXTRA]) for r in synthetic_daily(t, DAYS[0], DAYS[-1], seed=i + 1)]
    path = tmp_path / f"{name}.csv"
    pd.DataFrame(rows, columns=DAILY_FIELDS).to_csv(path, index=False)
    for ticker in [*WATCH, EXTRA]:
        assert ingest_ticker(factory, CsvSource(path), ticker, today=TODAY).ok
    return settings, factory


def _run(settings, factory):
    options = RoutineOptions(kinds=("rnn", "gru"), as_of=AS_OF, plots=False)
    report = run_routine(settings, factory, tickers=WATCH, options=options, source=None, today=TODAY)
    assert report.ok, [(o.model, o.error) for t in report.tickers for o in t.outcomes if o.error]
    with factory() as s:
        forecasts = s.execute(
            text("select ticker, model, yhat, q025, q975, model_version_id from forecasts order by ticker, model")
        ).all()
        versions = s.execute(text("select id, ticker, kind, action from model_versions order by id")).all()
    return forecasts, versions


@pytest.mark.slow
def test_one_version_per_kind_over_the_universe_and_nothing_after_the_as_of_read(tmp_path):
    settings, factory = _db(tmp_path, "clean")
    forecasts, versions = _run(settings, factory)
    key = universe_key([*WATCH, EXTRA])
    assert [(v.ticker, v.kind, v.action) for v in versions] == [(key, "rnn", "retrain"), (key, "gru", "retrain")]
    networks = [f for f in forecasts if f.model in ("rnn", "gru")]
    # Every watch-list ticker forecast by each kind's one version; the universe's other ticker not at all.
    assert sorted((f.ticker, f.model) for f in networks) == sorted((t, m) for t in WATCH for m in ("rnn", "gru"))
    by_kind = {v.kind: v.id for v in versions}
    assert all(f.model_version_id == by_kind[f.model] for f in networks)
    assert {f.ticker for f in forecasts} == set(WATCH)
    # The same day again, in a database whose every ticker's later prices (the universe-only one's
    # too) are a hundred times higher: the same forecasts, to the last digit.
    settings_p, poisoned = _db(tmp_path, "poisoned")
    poison_after(poisoned, AS_OF)
    again, _ = _run(settings_p, poisoned)
    assert [tuple(f[:5]) for f in again] == [tuple(f[:5]) for f in forecasts]


@pytest.mark.slow
def test_a_backfill_day_a_watch_list_ticker_has_no_bar_is_the_same_universe(tmp_path):
    settings, factory = _db(tmp_path, "gap")
    gap = DAYS[-15:-12]  # WATCH[1] suspended three days inside the replayed range
    with factory() as s:
        s.execute(text("delete from bars where ticker = :t and trade_date >= :a and trade_date <= :b"),
                  {"t": WATCH[1], "a": gap[0], "b": gap[-1]})  # fmt: skip
        s.commit()
    options = RoutineOptions(kinds=("rnn",), plots=False)
    report = backfill(settings, factory, tickers=WATCH, start=DAYS[-17], end=DAYS[-10], options=options, today=TODAY)
    assert len(report.runs) == 8 and all(r.ok for r in report.runs)
    with factory() as s:
        versions = s.execute(text("select ticker, action, as_of from model_versions")).all()
        days = s.execute(text("select distinct as_of from forecasts where ticker = :t and model = 'rnn'"),
                         {"t": WATCH[1]}).scalars().all()  # fmt: skip
    # One line of versions, retrained once: the three days did not name another universe.
    assert versions == [(universe_key([*WATCH, EXTRA]), "retrain", DAYS[-17].isoformat())]
    assert len(days) == 8 - len(gap)


@pytest.mark.slow
def test_a_universe_ticker_changes_what_the_networks_learn(tmp_path):
    settings, factory = _db(tmp_path, "with")
    pooled, _ = _run(settings, factory)
    alone = tiny_settings(tmp_path / "without", universe="")  # the same bars, the extra ticker not trained on
    alone_factory = session_factory(open_database(alone.db_url))
    with factory() as s, alone_factory() as t:
        for row in s.execute(text("select * from bars")).mappings():
            t.execute(text(f"insert into bars ({', '.join(row)}) values ({', '.join(':' + k for k in row)})"), row)
        t.commit()
    options = RoutineOptions(kinds=("rnn", "gru"), as_of=AS_OF, plots=False)
    assert run_routine(alone, alone_factory, tickers=WATCH, options=options, source=None, today=TODAY).ok
    with alone_factory() as t:
        keys = t.execute(text("select distinct ticker from model_versions")).scalars().all()
        solo = t.execute(text("select ticker, model, yhat from forecasts order by ticker, model")).all()
    assert keys == [universe_key(WATCH)]
    networks = {(f.ticker, f.model): f.yhat for f in pooled if f.model in ("rnn", "gru")}
    assert any(networks[(f.ticker, f.model)] != f.yhat for f in solo if f.model in ("rnn", "gru"))


def test_a_pooled_fine_tune_takes_the_newest_days_of_every_ticker_about_finetune_days_in_all():
    from forecaster.model.networks import build_model
    from forecaster.model.scaling import make_scaler
    from forecaster.model.spec import ModelSpec, TrainSpec
    from forecaster.model.training import fine_tune, prepare
    from tests.helpers import bundled_bars

    spec = ModelSpec(kind="rnn", window=10, units=(2, 2), adjust="none", features=("close",))
    train = TrainSpec(finetune_epochs=1, finetune_days=60, val_fraction=0.1, batch_size=64)
    bars = bundled_bars(200)
    histories = {"A.SH": bars, "B.SH": bars * 2, "C.SH": bars * 3}  # three tickers: 20 days each
    data = prepare(histories, spec)
    scaler = make_scaler("logret", spec.features).fit(data.x, data.y, 0)
    model = build_model("rnn", window=10, n_features=1, units=(2, 2), quantiles=True, seed=1)
    fitted = fine_tune(model, scaler, histories, spec, train)
    assert sorted(set(fitted.val_tickers)) == ["A.SH", "B.SH", "C.SH"]  # the newest days, of every ticker
    assert len(fitted.val_tickers) == 6  # 10 % of 3 x 20 windows
    assert fitted.val_dates.max() == bars.index[-1]


@pytest.mark.slow
def test_a_universe_named_by_its_index_trains_on_the_constituents_of_the_day(tmp_path):
    from click.testing import CliRunner

    from forecaster.cli import cli
    from forecaster.storage.index_members import members_on
    from tests.tushare_server import FakeTushare, serve

    start, end = date(2024, 1, 2), date(2024, 6, 28)
    fake = FakeTushare()
    fake.add_index("000300.SH", start, end, "沪深300")
    stocks = ["600000.SH", "600036.SH", "000001.SZ", "000002.SZ"]
    for i, code in enumerate(stocks):
        fake.add_listing(code, f"stock {i}", date(2001, 1, 1))
        fake.add_bars(code, start, end, seed=i + 1)
    fake.add_members("000300.SH", date(2024, 3, 1), stocks[1:3])  # March: two members
    fake.add_members("000300.SH", date(2024, 6, 3), stocks[1:])  # June: three
    env = {
        "TUSHARE_TOKEN": fake.token,
        "FORECASTER_DATA_DIR": str(tmp_path / "data"),
        "FORECASTER_TICKERS": stocks[0],
        "FORECASTER_UNIVERSE": "000300.SH,600036.SH",  # a stock beside the index: its names are asked
        "FORECASTER_HISTORY_START": str(start),
        "FORECASTER_MODELS": "gru",
        "FORECASTER_WINDOW": "10",
        "FORECASTER_UNITS": "4,4",
        "FORECASTER_MAX_EPOCHS": "1",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    with serve(fake):
        env["FORECASTER_TUSHARE_API_URL"] = fake.url
        ingest = CliRunner().invoke(cli, ["ingest", "--end", str(end)], env=env, catch_exceptions=False)
        assert ingest.exit_code == 0, ingest.output
        asked = [c["api"] for c in fake.calls]
        # The listings told which code is an index once; the refused namechange was asked once too.
        assert asked.count("stock_basic") == 4 and asked.count("namechange") == 1  # four list statuses, one ask
        run = CliRunner().invoke(cli, ["run", "--as-of", "2024-04-30", "--no-ingest"], env=env)
    assert run.exit_code == 0, run.output
    assert all(f"{code}:" in ingest.output for code in stocks)  # the members' bars, not the index's
    settings = tiny_settings(tmp_path)
    factory = session_factory(open_database(settings.db_url))
    with factory() as s:
        assert members_on(s, "000300.SH", date(2024, 4, 30)) == ["000001.SZ", "600036.SH"]  # March's, point in time
        assert members_on(s, "000300.SH", date(2024, 2, 1)) == ["000001.SZ", "600036.SH"]  # before it: the first
        versions = s.execute(text("select ticker from model_versions")).scalars().all()
        forecast = s.execute(text("select distinct ticker from forecasts where model = 'gru'")).scalars().all()
    assert versions == [universe_key([stocks[0], "000300.SH", "600036.SH"])]  # keyed by the universe as named
    assert forecast == [stocks[0]]
