"""Moments cross the storage edge aware: UTC without tzinfo in the column, aware UTC back out,
and a naive datetime refused on the way in (one slipping past the clock shows up here)."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session, sessionmaker

from forecaster.storage.bars import upsert_bars
from forecaster.storage.db import transaction
from forecaster.storage.runs import last_scheduled
from forecaster.storage.schema import Bar
from forecaster.storage.schema_runs import JobRun, Run

EVENING_IN_BEIJING = datetime(2024, 3, 1, 17, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
SAME_IN_UTC = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)


def _add_run(factory: sessionmaker[Session], started_at: datetime) -> int:
    with transaction(factory) as session:
        run = Run(command="run", tickers="600519.SH", status="ok", started_at=started_at)
        session.add(run)
        session.flush()
        return run.id


@pytest.mark.both_databases
def test_a_moment_is_stored_as_utc_and_read_back_aware(factory):
    run_id = _add_run(factory, EVENING_IN_BEIJING)
    with factory() as session:
        read = session.get(Run, run_id)
        raw = session.scalar(text("select started_at from runs where id = :id"), {"id": run_id})
    assert read is not None
    assert read.started_at == SAME_IN_UTC and read.started_at.utcoffset() == timedelta(0)
    assert read.started_at.tzinfo is UTC
    assert str(raw).startswith("2024-03-01 09:30:00")  # the stored form is unchanged: UTC, no offset


@pytest.mark.both_databases
def test_aggregates_and_core_updates_go_through_the_type(factory):
    with transaction(factory) as session:
        session.add(JobRun(job="daily_update", status="ok", scheduled_for=EVENING_IN_BEIJING, started_at=SAME_IN_UTC))
        session.execute(update(JobRun).values(finished_at=SAME_IN_UTC + timedelta(minutes=5)))
    with factory() as session:
        assert last_scheduled(session, "daily_update") == SAME_IN_UTC
        assert last_scheduled(session, "daily_update").tzinfo is UTC  # type: ignore[union-attr]
        assert session.scalar(select(JobRun.finished_at)) == datetime(2024, 3, 1, 9, 35, tzinfo=UTC)


@pytest.mark.both_databases
def test_a_naive_moment_is_refused(factory):
    with pytest.raises(sa_exc.StatementError, match="naive datetime"):
        _add_run(factory, datetime(2024, 3, 1, 9, 30))
    with pytest.raises(sa_exc.StatementError, match="naive datetime"), transaction(factory) as session:
        session.execute(update(Run).values(finished_at=datetime(2024, 3, 1, 9, 30)))
    with factory() as session:
        assert session.scalar(select(Run.id)) is None


@pytest.mark.both_databases
def test_the_bulk_bar_path_converts_and_refuses_the_same_way(factory):
    bars = pd.DataFrame(
        {"trade_date": pd.to_datetime(["2024-03-01"]), "open": [1.0], "high": [1.0], "low": [1.0], "close": [1.0],
         "pre_close": [None], "volume": [1.0], "amount": [None]}
    )  # fmt: skip
    with pytest.raises(TypeError, match="naive datetime"), transaction(factory) as session:
        upsert_bars(session, "600519.SH", bars, "csv", datetime(2024, 3, 1, 9, 30))
    with transaction(factory) as session:
        upsert_bars(session, "600519.SH", bars, "csv", EVENING_IN_BEIJING)
    with factory() as session:
        assert session.scalar(select(Bar.ingested_at)) == SAME_IN_UTC
