"""Writes of forecasts, actuals and plots: idempotent upserts on natural keys, on both databases."""

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from forecaster.model.forecasting import Point
from forecaster.storage.db import transaction
from forecaster.storage.records import fill_actuals, record_plot, write_forecasts
from forecaster.storage.schema import Bar, Forecast, Plot

pytestmark = pytest.mark.both_databases

TICKER = "600519.SH"
AS_OF = date(2024, 3, 1)
TARGETS = [date(2024, 3, 4), date(2024, 3, 5)]
FIRST = datetime(2024, 3, 1, 17, 30, tzinfo=UTC)
LATER = datetime(2024, 3, 2, 9, 0, tzinfo=UTC)


def write(factory: sessionmaker[Session], yhats: list[float], now: datetime) -> None:
    with transaction(factory) as session:
        write_forecasts(
            session,
            ticker=TICKER,
            model="naive",
            model_version_id=None,
            run_id=None,
            as_of=AS_OF,
            target="close",
            last_close=100.0,
            forecast=[Point(d, h, y) for h, (d, y) in enumerate(zip(TARGETS, yhats, strict=True), start=1)],
            now=now,
        )


def stored(factory: sessionmaker[Session]) -> list[tuple[object, ...]]:
    with factory() as s:
        rows = s.execute(
            select(Forecast.target_date, Forecast.yhat, Forecast.actual, Forecast.created_at).order_by(
                Forecast.target_date
            )
        ).all()
    return [tuple(r) for r in rows]


def add_bar(session: Session, day: date, close: float) -> None:
    session.add(
        Bar(ticker=TICKER, trade_date=day, open=close, high=close, low=close, close=close, pre_close=None,
            volume=1.0, amount=None, source="test", ingested_at=FIRST)
    )  # fmt: skip


def test_rewriting_the_same_forecast_changes_no_row_and_a_new_value_replaces_it(factory):
    write(factory, [101.0, 102.0], FIRST)
    first = stored(factory)
    write(factory, [101.0, 102.0], LATER)  # the same day run again
    assert stored(factory) == first == [(TARGETS[0], 101.0, None, FIRST), (TARGETS[1], 102.0, None, FIRST)]
    write(factory, [101.5, 102.0], LATER)  # a new value: that row replaced in place, the other kept
    assert stored(factory) == [(TARGETS[0], 101.5, None, LATER), (TARGETS[1], 102.0, None, FIRST)]


def test_actuals_are_filled_when_the_bar_arrives_and_follow_a_revised_bar(factory):
    write(factory, [101.0, 102.0], FIRST)
    with transaction(factory) as session:
        add_bar(session, TARGETS[0], 100.5)
        assert fill_actuals(session, TICKER) == 1
    assert [row[2] for row in stored(factory)] == [100.5, None]
    with transaction(factory) as session:
        bar = session.get(Bar, (TICKER, TARGETS[0]))
        assert bar is not None
        bar.close = 100.7  # revised by a later ingest
        add_bar(session, TARGETS[1], 99.0)
        fill_actuals(session, TICKER)
    assert [row[2] for row in stored(factory)] == [100.7, 99.0]


def test_a_plot_is_recorded_once_per_ticker_day_and_kind(factory):
    for path, now in (("plots/a.png", FIRST), ("plots/b.png", LATER)):
        with transaction(factory) as session:
            record_plot(session, ticker=TICKER, as_of=AS_OF, kind="forecast", path=path, run_id=None, now=now)
    with factory() as s:
        rows = s.execute(select(Plot.path, Plot.created_at)).all()
    assert [tuple(r) for r in rows] == [("plots/b.png", LATER)]


def test_dead_runs_are_closed_only_for_this_machine(factory: sessionmaker[Session]):
    """A pid is only meaningful on the machine that wrote it: with one database shared by several
    machines, another machine's `running` row must be left alone even if no such pid lives here."""
    from forecaster.storage.runs import close_dead_runs, this_host
    from forecaster.storage.schema_runs import JobRun, Run

    dead_pid = 2**22 + 12345  # above Linux's default pid_max: no process has it
    with transaction(factory) as session:
        for host in (this_host(), "other-machine", None):
            session.add(Run(command="run", tickers=TICKER, status="running", pid=dead_pid, host=host, started_at=FIRST))
            session.add(JobRun(job="daily_update", started_at=FIRST, status="running", pid=dead_pid, host=host))
    with transaction(factory) as session:
        assert close_dead_runs(session, now=FIRST, stale_minutes=120) == 4  # this machine's and the host-less rows
    with factory() as s:
        for table in (Run, JobRun):
            status = {host: state for host, state in s.execute(select(table.host, table.status))}
            assert status == {this_host(): "interrupted", None: "interrupted", "other-machine": "running"}
