"""Run rows (`runs`, one per routine or backfill) and job-run rows (`job_runs`, one per daemon job
execution): their whole lifecycle, from start to a dead process's row closed. Every function
takes the caller's Session and never commits."""

import json
import os
import socket
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.orm import Session

from forecaster.storage.schema_runs import JobRun, Run, RunItem


def start_run(
    session: Session, *, command: str, as_of: date | None, tickers: list[str], pid: int, now: datetime
) -> Run:
    run = Run(
        command=command,
        as_of=as_of,
        tickers=",".join(tickers),
        status="running",
        pid=pid,
        host=this_host(),
        started_at=now,
        heartbeat_at=now,
    )
    session.add(run)
    session.flush()
    return run


def this_host() -> str:
    """The name rows record beside their pid (a pid means nothing on another machine)."""
    return socket.gethostname()[:255]


def mine(table: type[Run] | type[JobRun]) -> ColumnElement[bool]:
    """Rows started on this machine (or before hosts were recorded, when there was only one)."""
    return or_(table.host == this_host(), table.host.is_(None))


def process_alive(pid: int | None) -> bool:
    """Is process `pid` still there (on this machine)? A reused pid reads as alive: safe side."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by another user
    return True


def heartbeat(session: Session, run_id: int, *, now: datetime) -> None:
    """The run is alive at `now`: a row whose heartbeat is older than the bound reads interrupted."""
    session.execute(update(Run).where(Run.id == run_id, Run.status == "running").values(heartbeat_at=now))


def why_dead(row: Run | JobRun, *, now: datetime, stale_minutes: int) -> str | None:
    """Why a `running` row's run is over though the row does not say so; None while it may live.
    A run row silent longer than the bound is over whatever its host: that is how another
    machine's run on a shared database is judged, its pid meaning nothing here. (A job run has no
    heartbeat of its own; its routine's run row has.)"""
    if row.status != "running":
        return None
    if isinstance(row, Run) and now - (row.heartbeat_at or row.started_at) > timedelta(minutes=stale_minutes):
        return f"no heartbeat for over {stale_minutes} min"
    if row.host in (None, this_host()) and not process_alive(row.pid):
        return "its process is gone"
    return None


def shown_status(row: Run | JobRun, *, now: datetime, stale_minutes: int) -> str:
    """A row's status as a reader should see it: `running` only while its run may be alive. A dead
    run's row (see `why_dead`) reads `interrupted`; the next writing command closes it."""
    return "interrupted" if why_dead(row, now=now, stale_minutes=stale_minutes) else row.status


def describe_status(row: Run | JobRun, *, now: datetime, stale_minutes: int) -> str:
    """`shown_status`, saying why when it differs from the stored one."""
    why = why_dead(row, now=now, stale_minutes=stale_minutes)
    return f"interrupted ({why})" if why else row.status


def close_dead_runs(session: Session, *, now: datetime, stale_minutes: int) -> int:
    """Mark `running` runs / job_runs rows whose run is over (kill -9, power loss; see `why_dead`)
    as interrupted, so no row claims to be running forever. Rows of live processes are left
    alone, so this is safe without the run lock; so are other machines' rows while their
    heartbeat is fresh (a shared PostgreSQL database)."""
    rows: list[Run | JobRun] = [*session.scalars(select(Run).where(Run.status == "running"))]
    rows += session.scalars(select(JobRun).where(JobRun.status == "running"))
    closed = 0
    for row in rows:
        if why := why_dead(row, now=now, stale_minutes=stale_minutes):
            table = type(row)  # the status guard: a row finished meanwhile keeps what it says
            session.execute(
                update(table)
                .where(table.id == row.id, table.status == "running")
                .values(status="interrupted", error=f"closed by a later command: {why}", finished_at=now)
            )
            closed += 1
    return closed


def finish_run(
    session: Session,
    run_id: int,
    *,
    status: str,
    error: str | None,
    timings: dict[str, float],
    now: datetime,
    note: str | None = None,
) -> None:
    timings_text = json.dumps(timings, sort_keys=True)
    session.execute(
        update(Run)
        .where(Run.id == run_id)
        .values(status=status, error=error, note=note, timings=timings_text, finished_at=now)
    )


def add_run_item(session: Session, item: RunItem) -> None:
    session.add(item)


def start_job_run(session: Session, *, job: str, scheduled_for: datetime | None, now: datetime) -> int:
    row = JobRun(
        job=job, scheduled_for=scheduled_for, started_at=now, status="running", pid=os.getpid(), host=this_host()
    )
    session.add(row)
    session.flush()
    return row.id


def finish_job_run(
    session: Session,
    row_id: int,
    *,
    status: str,
    summary: str | None,
    error: str | None,
    as_of: date | None,
    run_id: int | None,
    now: datetime,
) -> None:
    session.execute(
        update(JobRun)
        .where(JobRun.id == row_id)
        .values(status=status, summary=summary, error=error, as_of=as_of, run_id=run_id, finished_at=now)
    )


def last_handled_as_of(session: Session, job: str, statuses: tuple[str, ...]) -> date | None:
    """The newest bar date a finished execution of `job` (one of `statuses`) forecast from."""
    return session.scalar(select(func.max(JobRun.as_of)).where(JobRun.job == job, JobRun.status.in_(statuses)))


def close_stale_rows(session: Session, *, keep: int, now: datetime) -> int:
    """Mark `running` rows left by a process that died (SIGKILL, power loss) as interrupted.

    Only called while holding the run lock: then nobody else can be running, so any other
    `running` row is stale.
    """
    reason = "the process ended before the job finished"
    jobs = session.execute(
        update(JobRun)
        .where(JobRun.status == "running", JobRun.id != keep)
        .values(status="interrupted", error=reason, finished_at=now)
    )
    runs = session.execute(
        update(Run).where(Run.status == "running").values(status="interrupted", error=reason, finished_at=now)
    )
    return int(getattr(jobs, "rowcount", 0) or 0) + int(getattr(runs, "rowcount", 0) or 0)


def mark_interrupted(session: Session, *, pid: int, now: datetime) -> None:
    """A second signal: this process's open rows say `interrupted` before it exits at once."""
    reason = "stopped by a second signal mid-step"
    session.execute(
        update(JobRun)
        .where(JobRun.status == "running", JobRun.pid == pid, mine(JobRun))
        .values(status="interrupted", error=reason, finished_at=now)
    )
    session.execute(
        update(Run)
        .where(Run.status == "running", Run.pid == pid, mine(Run))
        .values(status="interrupted", error=reason, finished_at=now)
    )


def last_scheduled(session: Session, job: str) -> datetime | None:
    """The newest fire time (aware, UTC) an execution of `job` was recorded for and not cut short."""
    return session.scalar(
        select(func.max(JobRun.scheduled_for)).where(
            JobRun.job == job, JobRun.status.not_in(("running", "interrupted"))
        )
    )


def record_stop(session: Session, run_id: int, reason: str) -> None:
    """Say on an interrupted run's row what stopped it (the signal), before any failures it listed."""
    listed = session.scalar(select(Run.error).where(Run.id == run_id))
    error = f"{reason}\n{listed}" if listed else reason
    session.execute(update(Run).where(Run.id == run_id).values(status="interrupted", error=error))
