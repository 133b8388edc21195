"""A young stock (fewer bars than a network needs) and a suspended one (no bar on the run's day)
beside a long one: the network is skipped with the day it qualifies, the suspended ticker is not
forecast again from its old bar, the run is ok, and health names the suspension; a delisted one
(its listing says so) is likewise not forecast, said `delisted on D`, and health ignores it."""

from datetime import UTC, date, datetime

import pandas as pd
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from forecaster.cli import cli
from forecaster.ingest.sources.csvfile import CsvSource
from forecaster.ingest.update import ingest_ticker
from forecaster.market.calendar import next_trading_days, trading_days
from forecaster.reporting.watchlist import ticker_status
from forecaster.routine.driver import RoutineOptions
from forecaster.routine.health import CRITICAL, OK, WARNING, newest_bars
from forecaster.routine.pipeline import run_routine
from forecaster.storage.calendar import load_calendar
from forecaster.storage.db import transaction
from forecaster.storage.records import complete_days
from forecaster.storage.schema import Forecast, Listing
from forecaster.storage.schema_runs import Run
from tests.helpers import tiny_env, tiny_settings
from tests.tushare_server import DAILY_FIELDS, synthetic_daily

LONG, YOUNG, STALE = "600000.SH", "688001.SH", "000002.SZ"
DAYS = trading_days(date(2024, 1, 2), date(2024, 6, 28))
AS_OF = DAYS[-1]
STALE_LAST = DAYS[-11]  # its bars stop 10 trading days before the as-of
TODAY = date(2024, 7, 1)


def _csv(tmp_path, stale_days=DAYS[:-10]):
    rows = (
        synthetic_daily(LONG, DAYS[0], AS_OF, seed=1)
        + synthetic_daily(YOUNG, DAYS[-6], AS_OF, seed=2)  # listed 6 trading days ago
        + synthetic_daily(STALE, DAYS[0], AS_OF, seed=3, days=stale_days)
    )
    path = tmp_path / "bars.csv"
    pd.DataFrame(rows, columns=DAILY_FIELDS).to_csv(path, index=False)
    return path


def _ingest(factory, path):
    for ticker in (LONG, YOUNG, STALE):
        assert ingest_ticker(factory, CsvSource(path), ticker, today=TODAY).ok


def test_a_young_network_is_skipped_and_a_suspended_ticker_is_not_forecast(tmp_path, factory):
    settings = tiny_settings(tmp_path)  # window 10: a forecast needs 10 bars
    _ingest(factory, _csv(tmp_path))
    options = RoutineOptions(kinds=("rnn",), as_of=AS_OF, plots=False)  # as a backfill's day
    report = run_routine(settings, factory, tickers=[LONG, YOUNG, STALE], options=options, source=None, today=TODAY)
    assert report.ok
    tickers = {t.ticker: t for t in report.tickers}
    young = {o.model: o for o in tickers[YOUNG].outcomes}
    qualifies = next_trading_days(AS_OF, 4)[-1]
    assert young["rnn"].action == "skipped" and young["rnn"].ok
    assert young["rnn"].reason == f"6 bars up to {AS_OF}, need 10: forecast from {qualifies}"
    assert all(young[b].forecast for b in ("naive", "ewma", "drift", "garch"))
    assert {o.model for o in tickers[LONG].outcomes} >= {"rnn", "naive"}
    stale = tickers[STALE]
    assert stale.ok and stale.outcomes == [] and stale.suspended_since == DAYS[-10] and stale.last_bar == STALE_LAST
    with factory() as session:
        assert session.scalars(select(Forecast).where(Forecast.ticker == STALE)).all() == []
        run = session.get(Run, report.run_id)
        assert run is not None and run.status == "ok"
        assert f"{STALE}: suspended since {DAYS[-10]} (last bar {STALE_LAST}); not forecast" in (run.note or "")
        # The young ticker's skipped network does not keep the day incomplete (a backfill would redo it).
        assert AS_OF in complete_days(session, [LONG, YOUNG], ["rnn"], AS_OF, AS_OF)


@pytest.mark.slow
def test_the_cli_run_exits_0_and_status_health_and_report_name_the_suspension(tmp_path, factory):
    settings = tiny_settings(tmp_path)
    _ingest(factory, _csv(tmp_path))
    env = {**tiny_env(), "FORECASTER_DATA_DIR": str(settings.data_dir)}
    env["FORECASTER_TICKERS"] = f"{LONG},{YOUNG},{STALE}"
    before = RoutineOptions(kinds=(), as_of=STALE_LAST, plots=False)  # forecast while it still traded
    run_routine(settings, factory, tickers=[STALE], options=before, source=None, today=TODAY)
    result = CliRunner().invoke(cli, ["run", "--no-ingest", "--models", "rnn"], env=env)
    assert result.exit_code == 0, result.output
    assert f"note: {STALE}: suspended since {DAYS[-10]}" in result.stderr
    young_row = next(ln for ln in result.stdout.splitlines() if ln.startswith(YOUNG) and " rnn " in ln)
    assert "skipped" in young_row and "need 10" in young_row
    assert any(ln.startswith(STALE) and "suspended" in ln for ln in result.stdout.splitlines())
    status = CliRunner().invoke(cli, ["status"], env=env)
    assert f"suspended since {DAYS[-10]}" in next(ln for ln in status.stdout.splitlines() if ln.startswith(STALE))
    page = (settings.data_dir / "report" / "index.html").read_text()
    assert f"{STALE}: suspended since {DAYS[-10]}" in page


def test_health_warns_naming_a_suspended_ticker_and_is_critical_when_every_ticker_is_behind(tmp_path, factory):
    _ingest(factory, _csv(tmp_path))
    evening = datetime(2024, 6, 28, 12, 0, tzinfo=UTC)  # 20:00 in Beijing, the as-of day
    with factory() as session:
        calendar = load_calendar(session)
        check = newest_bars(session, [LONG, STALE], evening, calendar)
        assert check.status == WARNING and f"{STALE} suspended since {DAYS[-10]}" in check.detail
        late = newest_bars(session, [LONG, STALE], datetime(2024, 7, 3, 12, 0, tzinfo=UTC), calendar)
        assert late.status == CRITICAL and "every ticker 2 trading day(s) behind" in late.detail


def test_the_first_forecast_after_a_suspension_says_it_follows_a_gap(tmp_path, factory):
    settings = tiny_settings(tmp_path)
    resumed = [d for d in DAYS if not DAYS[-11] < d < AS_OF]  # no bar for 9 trading days, then the as-of
    _ingest(factory, _csv(tmp_path, stale_days=resumed))
    options = RoutineOptions(kinds=(), plots=False)
    report = run_routine(settings, factory, tickers=[LONG, STALE], options=options, source=None, today=TODAY)
    tickers = {t.ticker: t for t in report.tickers}
    assert tickers[STALE].as_of == AS_OF and tickers[STALE].outcomes
    assert tickers[STALE].note == f"after a gap since {DAYS[-10]}" and tickers[LONG].note is None
    with factory() as session:
        run = session.get(Run, report.run_id)
        assert run is not None and run.note == f"{STALE}: after a gap since {DAYS[-10]}"


def test_a_delisted_ticker_is_not_forecast_said_delisted_and_health_ignores_it(tmp_path, factory):
    _ingest(factory, _csv(tmp_path))
    delisted = DAYS[-5]  # after its last bar, before the as-of
    with transaction(factory) as session:
        session.add(
            Listing(
                ticker=STALE, kind="stock", name="万科A", market="主板", exchange="SZSE", list_status="D",
                list_date=date(1991, 1, 29), delist_date=delisted, source="bundled",
                updated_at=datetime(2024, 7, 1, tzinfo=UTC),
            )
        )  # fmt: skip
    options = RoutineOptions(kinds=(), plots=False)
    settings = tiny_settings(tmp_path)
    report = run_routine(settings, factory, tickers=[LONG, STALE], options=options, source=None, today=TODAY)
    assert report.ok
    stale = next(t for t in report.tickers if t.ticker == STALE)
    assert stale.outcomes == [] and stale.delisted_on == delisted
    with factory() as session:
        assert session.scalars(select(Forecast).where(Forecast.ticker == STALE)).all() == []
        run = session.get(Run, report.run_id)
        assert run is not None and run.status == "ok"
        assert run.note == f"{STALE}: delisted on {delisted} (last bar {STALE_LAST}); not forecast"
        assert ticker_status(session, STALE) == ("delisted", f"on {delisted} (last bar {STALE_LAST}); not forecast")
        check = newest_bars(session, [LONG, STALE], datetime(2024, 6, 28, 12, 0, tzinfo=UTC), load_calendar(session))
        assert check.status == OK and STALE not in check.detail
