"""A run row's heartbeat: written at its start and after each ticker; a `running` row silent for
longer than FORECASTER_STALE_RUN_MINUTES is over whatever machine ran it, so readers show it
`interrupted` and the next writing command closes it (stored rows, a chosen `now`)."""

import os
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from forecaster.cli import cli
from forecaster.routine import driver
from forecaster.storage.db import transaction
from forecaster.storage.runs import close_dead_runs, describe_status, heartbeat, shown_status, start_run, this_host
from forecaster.storage.schema_runs import JobRun, Run

START = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
BOUND = 120  # minutes


def add(factory: sessionmaker[Session], *, host: str, pid: int, beat: datetime | None) -> int:
    with transaction(factory) as session:
        row = Run(command="run", tickers="600519.SH", status="running", pid=pid, host=host, started_at=START)
        row.heartbeat_at = beat
        session.add(row)
        session.flush()
        return row.id


@pytest.mark.both_databases
def test_a_silent_run_is_over_on_any_machine_and_a_beating_one_is_not(factory):
    beat = START + timedelta(minutes=30)
    other = add(factory, host="other-machine", pid=1, beat=beat)  # its pid means nothing here
    alive_here = add(factory, host=this_host(), pid=os.getpid(), beat=beat)  # alive, but silent too long
    never_beat = add(factory, host="other-machine", pid=1, beat=None)  # an older row: its start counts
    with transaction(factory) as session:
        session.add(JobRun(job="daily_update", started_at=START, status="running", pid=1, host="other-machine"))
    soon, late = beat + timedelta(minutes=BOUND), beat + timedelta(minutes=BOUND + 1)
    with factory() as session:
        row = session.get(Run, other)
        assert row is not None
        assert shown_status(row, now=soon, stale_minutes=BOUND) == "running"
        assert shown_status(row, now=late, stale_minutes=BOUND) == "interrupted"
        assert describe_status(row, now=late, stale_minutes=BOUND) == "interrupted (no heartbeat for over 120 min)"
    with transaction(factory) as session:
        assert close_dead_runs(session, now=START + timedelta(minutes=BOUND), stale_minutes=BOUND) == 0
        assert close_dead_runs(session, now=soon, stale_minutes=BOUND) == 1  # the one that never beat
        assert close_dead_runs(session, now=late, stale_minutes=BOUND) == 2
    with factory() as session:
        rows = {r.id: (r.status, r.error, r.finished_at) for r in session.scalars(select(Run))}
        jobs = [r.status for r in session.scalars(select(JobRun))]
    stale = "closed by a later command: no heartbeat for over 120 min"
    assert rows == {never_beat: ("interrupted", stale, soon), other: ("interrupted", stale, late),
                    alive_here: ("interrupted", stale, late)}  # fmt: skip
    assert jobs == ["running"]  # a job run has no heartbeat: another machine's is left alone


@pytest.mark.both_databases
def test_the_heartbeat_starts_with_the_run_and_stops_with_it(factory):
    with transaction(factory) as session:
        run_id = start_run(session, command="run", as_of=None, tickers=["600519.SH"], pid=os.getpid(), now=START).id
    later = START + timedelta(minutes=90)
    with transaction(factory) as session:
        heartbeat(session, run_id, now=later)
    with factory() as session:
        row = session.get(Run, run_id)
        assert row is not None and (row.started_at, row.heartbeat_at) == (START, later)
        row.status = "ok"
        session.commit()
    with transaction(factory) as session:
        heartbeat(session, run_id, now=later + timedelta(minutes=5))  # a finished run beats no more
    with factory() as session:
        assert session.scalar(select(Run.heartbeat_at).where(Run.id == run_id)) == later


def test_the_routine_beats_after_each_ticker(monkeypatch):
    beats: list[int] = []

    def recording(session: Session, run_id: int, *, now: datetime) -> None:
        beats.append(run_id)
        heartbeat(session, run_id, now=now)

    monkeypatch.setattr(driver, "heartbeat", recording)
    result = CliRunner().invoke(cli, ["run", "--models", "", "--no-plots", "--as-of", "2020-04-24"])
    assert result.exit_code == 0, result.output
    assert beats == [1]  # one ticker (FORECASTER_TICKERS' default), run 1
