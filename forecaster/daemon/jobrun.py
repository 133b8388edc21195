"""Running one daemon job: its `job_runs` row, the run lock, stop requests, the no-new-bar rule
and late-bar retries. The modules in `jobs/` compose these; nothing here knows a schedule.

Every database write is its own short transaction, so a job stopped at any point leaves the
database consistent; the row's status says how it ended.
"""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.date import DateTrigger
from sqlalchemy.orm import Session, sessionmaker

from forecaster import clock
from forecaster.config import Settings
from forecaster.errors import ForecasterError, Interrupted, LockBusy
from forecaster.ingest.calendar import prepare_calendar, warn_coverage
from forecaster.ingest.calls import calls_line, calls_made
from forecaster.ingest.sources import BarSource
from forecaster.ingest.update import IngestResult, ingest_tickers
from forecaster.routine.lock import run_lock
from forecaster.routine.policy import Force
from forecaster.storage.bars import newest_bar_date
from forecaster.storage.calendar import load_calendar
from forecaster.storage.db import transaction
from forecaster.storage.runs import close_stale_rows, finish_job_run, last_handled_as_of, start_job_run

if TYPE_CHECKING:
    from forecaster.routine.pipeline import RunReport

log = logging.getLogger(__name__)

# Job runs that finished the routine for their bar: a later job with no newer bar has nothing to do.
_HANDLED = ("ok", "failed")


@dataclass
class JobContext:
    """What every job needs; built once by the daemon (or a test) and passed to each job."""

    settings: Settings
    factory: sessionmaker[Session]
    source: BarSource
    scheduler: BaseScheduler | None = None  # late-bar retries are added to it
    stop: threading.Event = field(default_factory=threading.Event)
    busy: threading.Event = field(default_factory=threading.Event)  # set while a job runs
    today: Callable[[], date] | None = None  # the exchange's date; tests pin it
    now: Callable[[], datetime] = clock.now

    def stopping(self) -> bool:
        return self.stop.is_set()

    def check_stop(self) -> None:
        if self.stop.is_set():
            raise Interrupted("stop requested")

    def exchange_today(self) -> date:
        return self.today() if self.today is not None else clock.today_in(self.settings.timezone)


@dataclass
class JobRecord:
    """How a job ended; the job body fills it in and `run_job` writes it to the row."""

    job: str
    status: str = "ok"
    summary: str = ""
    error: str | None = None
    as_of: date | None = None
    run_id: int | None = None
    row_id: int = 0
    retry_at: datetime | None = None


def run_job(ctx: JobContext, job: str, scheduled_for: datetime | None, body: Callable[[JobRecord], None]) -> JobRecord:
    """Record a `job_runs` row around `body`, run under the run lock; never raises a job's error.

    The lock wait is bounded (`job_lock_wait_s`) and gives `skipped`; a stop request gives
    `interrupted`; any other error gives `failed` and the daemon carries on with the next fire.
    """
    started = time.perf_counter()
    record = JobRecord(job)
    ctx.busy.set()
    try:
        with transaction(ctx.factory) as session:
            record.row_id = start_job_run(
                session,
                job=job,
                scheduled_for=scheduled_for,
                now=ctx.now(),
            )
        log.info("%s: started (job run %d, scheduled for %s)", job, record.row_id, scheduled_for or "now")
        before = calls_made(ctx.source)  # one source for the daemon's life: this job's calls are the difference
        _run_body(ctx, job, record, body)
        calls = calls_line(ctx.source, before)
        if calls is not None and not calls.startswith("0 "):
            record.summary = "; ".join(filter(None, (record.summary, calls)))
        with transaction(ctx.factory) as session:
            finish_job_run(
                session,
                record.row_id,
                status=record.status,
                summary=record.summary or None,
                error=record.error,
                as_of=record.as_of,
                run_id=record.run_id,
                now=ctx.now(),
            )
        log.info("%s: %s in %.1f s%s", job, record.status, time.perf_counter() - started, _tail(record))
    finally:
        ctx.busy.clear()
    return record


def _tail(record: JobRecord) -> str:
    text = f": {record.summary}" if record.summary else ""
    return text + (f" ({record.error})" if record.error else "")


def _run_body(ctx: JobContext, job: str, record: JobRecord, body: Callable[[JobRecord], None]) -> None:
    try:
        ctx.check_stop()
        lock = run_lock(ctx.settings, f"daemon {job}", wait_s=ctx.settings.job_lock_wait_s, should_stop=ctx.stopping)
        with lock:
            with transaction(ctx.factory) as session:
                close_stale_rows(session, keep=record.row_id, now=ctx.now())
            body(record)
    except LockBusy as exc:
        record.status, record.error = "skipped", str(exc)
    except Interrupted as exc:
        record.status, record.error = "interrupted", str(exc)
        record.run_id = exc.run_id or record.run_id
    except ForecasterError as exc:
        record.status, record.error = "failed", str(exc)
    except Exception as exc:  # the job boundary: record it, keep the daemon alive
        log.exception("%s failed", job)
        record.status, record.error = "failed", f"{type(exc).__name__}: {exc}"


def ingest_all(ctx: JobContext) -> list[IngestResult]:
    """Bring every ticker's bars up to date; one log line each, with its duration."""
    today = ctx.exchange_today()
    calendar = prepare_calendar(ctx.settings, ctx.factory, today=today, source=ctx.source).calendar
    warn_coverage(calendar, today)
    results = ingest_tickers(
        ctx.factory,
        ctx.source,
        ctx.settings.tickers,
        today=today,
        overlap_days=ctx.settings.ingest_overlap_days,
        calendar=calendar,
        check_stop=ctx.check_stop,
        on_ticker=lambda result, seconds: log.info("ingest %s in %.1f s", result.summary(), seconds),
    )
    if results and not any(r.ok for r in results):
        raise ForecasterError("ingest failed for every ticker: " + "; ".join(r.summary() for r in results))
    return results


def new_bar_pending(ctx: JobContext, job: str, ingests: list[IngestResult]) -> bool:
    """Is there a bar the routine has not yet forecast from?

    True when this ingest added a bar, or when the newest stored bar is newer than the newest one
    a finished run of `job` used (e.g. the previous run was interrupted after its ingest). On a
    holiday, a suspension or before the data is published neither holds: a no-data day. On days
    the calendar only estimates, an empty answer is no error: an unannounced holiday is no-data.
    """
    if any(r.ok and r.counts.new > 0 for r in ingests):
        return True
    with ctx.factory() as session:
        newest = newest_bar_date(session, ctx.settings.tickers)
        done = last_handled_as_of(session, job, _HANDLED)
    return newest is not None and (done is None or newest > done)


def record_no_data(ctx: JobContext, record: JobRecord) -> None:
    today = ctx.exchange_today()
    with ctx.factory() as session:
        newest = newest_bar_date(session, ctx.settings.tickers)
        day = load_calendar(session).day(today)
    kind = "trading day, bar not published yet" if day.is_open else "not a trading day"
    kind += " (estimated)" if day.source == "estimated" else ""
    record.status = "no-data"
    record.summary = f"no new bar on {today} ({kind}); newest stored bar {newest or 'none'}"


def schedule_late_retry(ctx: JobContext, record: JobRecord, func: Callable[..., Any], attempt: int) -> None:
    """On a trading day with no bar yet, run `func` again later; at most `late_retries` times."""
    settings = ctx.settings
    with ctx.factory() as session:
        open_today = load_calendar(session).is_open(ctx.exchange_today())
    if not open_today or ctx.scheduler is None:
        return
    if attempt >= settings.late_retries:
        record.summary += f"; gave up after {attempt} retries"
        return
    when = ctx.now() + timedelta(minutes=settings.late_retry_minutes)
    ctx.scheduler.add_job(
        func,
        DateTrigger(run_date=when),
        args=[ctx],
        kwargs={"scheduled_for": when, "attempt": attempt + 1},
        id=f"{record.job}:retry",
        name=f"{record.job} (late-bar retry {attempt + 1}/{settings.late_retries})",
        replace_existing=True,
    )
    record.retry_at = when
    record.summary += f"; retry {attempt + 1}/{settings.late_retries} at {when:%Y-%m-%d %H:%M %Z}"


def run_routine_for(ctx: JobContext, record: JobRecord, *, force: Force, ingest: bool) -> "RunReport":
    """The daily routine for today's newest bars, its outcome written into `record`."""
    from forecaster.routine.driver import RoutineOptions  # Keras: only when a job trains
    from forecaster.routine.pipeline import run_routine  # Keras: only when a job trains

    options = RoutineOptions(kinds=tuple(ctx.settings.models), force=force, should_stop=ctx.stopping)
    report = run_routine(
        ctx.settings,
        ctx.factory,
        tickers=ctx.settings.tickers,
        options=options,
        source=ctx.source if ingest else None,
        today=ctx.exchange_today(),
        command="daemon",
    )
    record.run_id = report.run_id
    dates = [t.as_of for t in report.tickers if t.as_of is not None]
    record.as_of = max(dates) if dates else None
    actions = "; ".join(
        f"{t.ticker} " + ", ".join(f"{o.model} {o.action}" for o in t.outcomes if o.ok and o.action != "baseline")
        for t in report.tickers
    )
    seconds = ", ".join(f"{k} {v:.1f}s" for k, v in sorted(report.timings.items()))
    record.summary = f"run {report.run_id} as of {record.as_of}: {actions or 'nothing'} ({seconds})"
    log.info("routine: %s", record.summary)
    from forecaster.reporting.html import refresh_report  # never raises: a stale report is only a warning

    refresh_report(ctx.settings.data_dir, ctx.factory, ctx.exchange_today())
    if not report.ok:
        record.status = "failed"
        record.error = f"run {report.run_id} finished with failures (see its run items)"
    return report
