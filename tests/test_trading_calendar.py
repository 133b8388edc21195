"""The stored calendar under a clock in 2027: estimated holidays, tushare `trade_cal` replacing
the estimates, target dates corrected, the override file, bars on closed days, the daemon's
holiday week, and the command. The tushare client runs for real against tests/tushare_server."""

import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from forecaster.cli import cli
from forecaster.config import Settings, load_settings
from forecaster.daemon.jobrun import JobContext
from forecaster.errors import EmptyAnswerError
from forecaster.ingest.calendar import prepare_calendar
from forecaster.ingest.sources.tushare_pro import TushareSource
from forecaster.ingest.update import ingest_ticker
from forecaster.market.calendar import BUILTIN, Day
from forecaster.model.forecasting import Point
from forecaster.model.spec import BASELINES
from forecaster.routine.driver import RoutineOptions
from forecaster.routine.pipeline import run_routine
from forecaster.storage.calendar import correct_target_dates, load_calendar, stored_days, sync_builtin, write_days
from forecaster.storage.db import open_database, session_factory, transaction
from forecaster.storage.records import write_forecasts
from forecaster.storage.schema import CalendarFetch, IngestLog
from jobs import daily_update
from tests.tushare_server import FakeTushare, Fault, serve

TICKER = "600519.SH"
EVE = date(2027, 2, 4)  # Thursday; the estimate closes Fri 5 and Mon 8 .. Thu 11 February
# What the exchange "publishes" for 2027 in these tests: the estimate's Spring Festival plus
# Friday 12 February, and its own National Day week.
OFFICIAL_CLOSED = {date(2027, 1, 1), *(date(2027, 2, d) for d in (5, 8, 9, 10, 11, 12))}
OFFICIAL_CLOSED |= {date(2027, 10, d) for d in (1, 4, 5, 6, 7)}


@pytest.fixture
def fake() -> Iterator[FakeTushare]:
    with serve(FakeTushare()) as server:
        server.add_bars(TICKER, date(2026, 8, 3), EVE)  # the built-in (estimated) trading days
        server.refused.add("trade_cal")  # an account with too few points, to begin with
        yield server


def settings_for(tmp_path: Path, fake: FakeTushare, **extra: Any) -> Settings:
    return load_settings(
        data_dir=tmp_path / "data",
        tushare_token=fake.token,
        tushare_api_url=fake.url,
        tushare_retry_base_s=0,
        tushare_retry_total_s=0,
        horizon=3,
        models=[],
        **extra,
    )


def source_for(fake: FakeTushare, today: date) -> TushareSource:
    return TushareSource(fake.token, fake.url, retry_base_s=0, retry_total_s=0, today=lambda: today)


def factory_for(settings: Settings) -> sessionmaker[Session]:
    return session_factory(open_database(settings.db_url))


def targets(settings: Settings) -> dict[tuple[str, int], tuple[str, int]]:
    """(model, horizon) -> (target date, target_estimated) as v_forecasts shows them."""
    with sqlite3.connect(settings.data_dir / "forecaster.db") as db:
        rows = db.execute("select model, horizon, target_date, target_estimated from v_forecasts").fetchall()
    return {(m, h): (t, e) for m, h, t, e in rows}


def trade_cal_calls(fake: FakeTushare) -> int:
    return sum(1 for c in fake.calls if c["api"] == "trade_cal")


def forecast_as_of_eve(settings: Settings, fake: FakeTushare) -> None:
    options = RoutineOptions(kinds=(), as_of=EVE, plots=False)
    source = source_for(fake, EVE)
    report = run_routine(settings, factory_for(settings), tickers=[TICKER], options=options, source=source, today=EVE)
    assert report.ok and report.ingests[0].counts.new > 0


@pytest.mark.slow
def test_estimated_holidays_then_official_days_correct_the_targets(tmp_path, fake):
    settings = settings_for(tmp_path, fake)
    forecast_as_of_eve(settings, fake)
    # No forecast on a Spring Festival weekday: the first day after the estimated closure.
    estimated = {(m, h): (d, 1) for m in BASELINES for h, d in enumerate(["2027-02-12", "2027-02-15", "2027-02-16"], 1)}
    assert targets(settings) == estimated
    factory = factory_for(settings)
    with factory() as session:
        (fetch,) = session.scalars(select(CalendarFetch)).all()
    assert (fetch.status, fetch.fetched_on) == ("refused", EVE)  # a warning, not a failure
    # Asked at most once a day: the refusal counts as today's answer.
    prepare_calendar(settings, factory, today=EVE, source=source_for(fake, EVE))
    assert trade_cal_calls(fake) == 1

    # The next day the account may call trade_cal, and the exchange has closed the 12th too.
    fake.refused.clear()
    fake.set_calendar(date(2027, 1, 1), date(2028, 12, 31), closed=OFFICIAL_CLOSED)
    update = prepare_calendar(settings, factory, today=date(2027, 2, 5), source=source_for(fake, date(2027, 2, 5)))
    assert update.fetch is not None and update.fetch.startswith("tushare trade_cal: 731 day(s) 2027-01-01..2028-12-31")
    assert update.corrected == 3 * len(BASELINES) and update.warnings == []  # the baselines x 3 horizons
    official = {(m, h): (d, 0) for m in BASELINES for h, d in enumerate(["2027-02-15", "2027-02-16", "2027-02-17"], 1)}
    assert targets(settings) == official
    with factory() as session:
        assert stored_days(session, date(2027, 2, 12), date(2027, 2, 12)) == {
            date(2027, 2, 12): Day(date(2027, 2, 12), False, "tushare")
        }
        assert load_calendar(session).official_through() == date(2028, 12, 31)

    # The override file wins over tushare, and a later tushare answer does not undo it.
    override = tmp_path / "days.csv"
    override.write_text("date,open\n2027-02-15,0\n")
    with_file = settings_for(tmp_path, fake, calendar_file=override)
    prepare_calendar(
        with_file, factory, today=date(2027, 2, 6), source=source_for(fake, date(2027, 2, 6)), refresh=True
    )
    assert [targets(settings)[("naive", h)][0] for h in (1, 2, 3)] == ["2027-02-16", "2027-02-17", "2027-02-18"]
    with factory() as session:
        assert load_calendar(session).day(date(2027, 2, 15)) == Day(date(2027, 2, 15), False, "override")


def test_a_bar_on_a_closed_day_opens_it(tmp_path, fake):
    settings = settings_for(tmp_path, fake)
    forecast_as_of_eve(settings, fake)
    feb10 = date(2027, 2, 10)
    assert not BUILTIN.is_open(feb10)
    fake.add_bars(TICKER, feb10, feb10, days=[feb10], price=fake.daily[TICKER][-1][5])
    factory = factory_for(settings)
    result = ingest_ticker(factory, source_for(fake, feb10), TICKER, today=feb10)
    assert result.ok and result.closed_days == [feb10] and result.counts.new == 1
    with factory() as session:
        calendar = load_calendar(session)
        log = session.scalars(select(IngestLog).order_by(IngestLog.id.desc())).first()
    assert calendar.day(feb10) == Day(feb10, True, "observed")
    assert log is not None and log.closed_day_bars == 1 and "bars on closed days: 2027-02-10" in (log.warnings or "")
    # The forecasts made on the eve now target the day that traded.
    assert targets(settings)[("naive", 1)] == ("2027-02-10", 0)


@pytest.mark.slow
def test_an_estimated_open_day_without_bars_is_no_error_and_closes_later(tmp_path, fake):
    # 2027-05-04 is open by the estimate; say the exchange closed it.
    may4 = date(2027, 5, 4)
    assert BUILTIN.is_open(may4) and BUILTIN.is_estimated(may4)
    src = source_for(fake, date(2027, 5, 6))
    fake.faults.append(Fault("http", api="daily"))  # the client makes an HTTP error an empty frame
    assert src.fetch(TICKER, may4, may4, BUILTIN).bars.empty  # estimated days only: "no bar"
    fake.faults.append(Fault("http", api="daily"))
    with pytest.raises(EmptyAnswerError):  # a day exchange_calendars has open: a failure
        src.fetch(TICKER, date(2026, 12, 30), date(2026, 12, 30), BUILTIN)

    settings = settings_for(tmp_path, fake)
    factory = factory_for(settings)
    later = [d for d in BUILTIN.trading_days(date(2027, 2, 12), date(2027, 5, 7)) if d != may4]
    fake.add_bars(TICKER, date(2027, 2, 12), date(2027, 5, 7), days=later, price=fake.daily[TICKER][-1][5])
    prepare_calendar(settings, factory, today=date(2027, 5, 7))
    assert ingest_ticker(factory, src, TICKER, today=date(2027, 5, 7)).ok
    with factory() as session:
        assert load_calendar(session).day(may4) == Day(may4, False, "observed")  # a later bar arrived


def _same(day: date) -> date:
    return day


@pytest.mark.slow
def test_the_daemon_passes_a_holiday_week_without_an_error(tmp_path, fake):
    settings = settings_for(tmp_path, fake)
    factory = factory_for(settings)
    statuses = {}
    for day in [EVE, *(date(2027, 2, d) for d in (5, 8, 9, 10, 11))]:
        ctx = JobContext(settings, factory, source_for(fake, day), today=partial(_same, day))
        record = daily_update.run(ctx)
        statuses[day] = (record.status, record.error)
    assert statuses[EVE] == ("ok", None)
    assert all(v == ("no-data", None) for d, v in statuses.items() if d != EVE), statuses
    assert "not a trading day (estimated)" in (record.summary or "")


@pytest.mark.slow
def test_the_calendar_command_and_status(tmp_path, fake):
    settings = settings_for(tmp_path, fake)
    forecast_as_of_eve(settings, fake)
    env = {"FORECASTER_DATA_DIR": str(settings.data_dir)}
    runner = CliRunner()
    result = runner.invoke(cli, ["calendar", "--from", "2027-02-04", "--to", "2027-02-12", "--format", "csv"], env=env)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "date,weekday,open,source,updated_at"
    assert [ln.split(",")[:4] for ln in lines[1:3]] == [
        ["2027-02-04", "Thu", "1", "observed"],  # the eve's bar confirmed the estimate
        ["2027-02-05", "Fri", "0", "estimated"],
    ]
    assert lines[-1].startswith("2027-02-12,Fri,1,estimated,")
    refresh = runner.invoke(cli, ["calendar", "--refresh"], env=env)
    assert refresh.exit_code == 1 and "Error: no tushare token" in refresh.output
    status = runner.invoke(cli, ["status"], env=env)
    assert "calendar: official through 2026-12-31, estimated from 2027-01-01" in status.stdout
    assert "tushare trade_cal refused on 2027-02-04" in status.stdout


@pytest.mark.both_databases
def test_calendar_storage_on_both_databases(factory):
    now = datetime(2027, 2, 5, 10, tzinfo=UTC)
    with transaction(factory) as session:
        assert len(sync_builtin(session, date(2027, 12, 31), now)) == (date(2027, 12, 31) - date(2005, 1, 4)).days + 1
        assert sync_builtin(session, date(2027, 12, 31), now) == []  # nothing due the second time
        forecast = [Point(date(2027, 2, 12), 1, 1.0), Point(date(2027, 2, 15), 2, 1.0)]
        write_forecasts(
            session,
            ticker=TICKER,
            model="naive",
            model_version_id=None,
            run_id=None,
            as_of=EVE,
            target="close",
            last_close=1.0,
            forecast=forecast,
            now=now,
        )
    with transaction(factory) as session:
        assert write_days(session, [Day(date(2027, 2, 12), False, "tushare")], now) != []
        assert write_days(session, [Day(date(2027, 2, 12), True, "estimated")], now) == []  # weaker: ignored
        assert correct_target_dates(session, load_calendar(session)) == 2
    with factory() as session:
        rows = session.execute(
            text("select horizon, target_date, target_estimated from v_forecasts order by horizon")
        ).all()
    assert [(h, str(t), int(e)) for h, t, e in rows] == [(1, "2027-02-15", 1), (2, "2027-02-16", 1)]
