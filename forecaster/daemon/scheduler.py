"""The daemon: an APScheduler 3.x BlockingScheduler built from the jobs it is handed (the CLI
hands it the modules of `jobs/`; the library never imports them).

`build_scheduler` returns it unstarted, so its jobs and next fire times can be inspected (tests,
`--list`, `status`); `serve` starts it and owns the signals.

Misfires: jobs live in a MemoryJobStore, with `coalesce=True` and `misfire_grace_time` of
`misfire_grace_s` (APScheduler's own default of 1 s would skip a fire the executor was late
for). A daemon that was *down* at a fire time learns of it from the database instead: at start
the newest fire time within the grace period is compared with the newest `job_runs.scheduled_for`
and, if no execution covered it, one catch-up run is added — one, however many ticks were missed.
"""

import logging
import signal
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.date import DateTrigger

from forecaster.config import Settings
from forecaster.daemon.jobrun import JobContext
from forecaster.ingest.calendar import warn_coverage
from forecaster.routine.stops import StopSignals
from forecaster.storage.calendar import load_calendar
from forecaster.storage.runs import last_scheduled

log = logging.getLogger(__name__)


class Job(Protocol):
    """What a module of `jobs/` declares: its id, its trigger and its body."""

    JOB_ID: str

    def trigger(self, settings: Settings, timezone: str) -> BaseTrigger: ...

    def run(self, ctx: JobContext, scheduled_for: datetime | None = None) -> object: ...


@dataclass(frozen=True)
class PlannedRun:
    job_id: str
    name: str
    next_fire: datetime | None


def scheduler_timezone(settings: Settings) -> str:
    return settings.scheduler_timezone or settings.timezone


def job_triggers(settings: Settings, jobs: Sequence[Job]) -> dict[str, tuple[Job, BaseTrigger]]:
    """Each job's trigger; an invalid schedule or time zone raises ConfigError here, at start-up."""
    tz = scheduler_timezone(settings)
    return {job.JOB_ID: (job, job.trigger(settings, tz)) for job in jobs}


def build_scheduler(
    ctx: JobContext,
    jobs: Sequence[Job],
    *,
    now: datetime | None = None,
    run_now: str | None = None,
    catch_up: bool = True,
) -> BlockingScheduler:
    """The scheduler with `jobs` (not started); `ctx.scheduler` is set to it.

    `run_now`: the id of a job to run once right away as well (`--run-now`).
    """
    settings = ctx.settings
    scheduler = BlockingScheduler(
        timezone=scheduler_timezone(settings),
        # One worker: the daemon's own jobs run one after another, never side by side.
        executors={"default": ThreadPoolExecutor(max_workers=1)},
        job_defaults={"coalesce": True, "misfire_grace_time": settings.misfire_grace_s, "max_instances": 1},
    )
    ctx.scheduler = scheduler
    now = now or ctx.now()
    grace = timedelta(seconds=settings.misfire_grace_s)
    for job_id, (module, trigger) in job_triggers(settings, jobs).items():
        # Explicit, not only job_defaults: APScheduler applies those when it starts, and tests and
        # `--list` look at the jobs of a scheduler that never starts.
        scheduler.add_job(
            module.run,
            trigger,
            args=[ctx],
            id=job_id,
            name=job_id,
            coalesce=True,
            misfire_grace_time=settings.misfire_grace_s,
        )
        if run_now == job_id:
            scheduler.add_job(
                module.run, DateTrigger(run_date=now), args=[ctx], id=f"{job_id}:now", name=f"{job_id} (run now)"
            )
            continue
        missed = _missed(ctx, job_id, trigger, now, grace) if catch_up else None
        if missed is not None:
            log.info("%s: missed its fire time %s; one catch-up run now", job_id, missed.isoformat())
            scheduler.add_job(
                module.run,
                DateTrigger(run_date=now),
                args=[ctx],
                kwargs={"scheduled_for": missed},
                id=f"{job_id}:catch-up",
                name=f"{job_id} (catch-up for {missed:%Y-%m-%d %H:%M})",
            )
    return scheduler


def _missed(ctx: JobContext, job_id: str, trigger: BaseTrigger, now: datetime, grace: timedelta) -> datetime | None:
    from forecaster.daemon.triggers import missed_fire_time

    with ctx.factory() as session:
        handled = last_scheduled(session, job_id)
    return missed_fire_time(trigger, handled, now, grace)


def planned_runs(scheduler: BaseScheduler, now: datetime) -> list[PlannedRun]:
    """Each job's next fire time after `now`, computed from its trigger (works unstarted)."""
    return [
        PlannedRun(job.id, job.name, job.trigger.get_next_fire_time(None, now))
        for job in sorted(scheduler.get_jobs(), key=lambda j: j.id)
    ]


def serve(
    ctx: JobContext, scheduler: BlockingScheduler, signals: Sequence[int] = (signal.SIGTERM, signal.SIGINT)
) -> None:
    """Run until SIGTERM / SIGINT, then return once the current job has stopped.

    First signal: no new fires; the running job stops at its next step boundary (recording
    `interrupted`). A second signal: this process's open rows are marked `interrupted` and it
    exits at once (status 0); every write being its own transaction, the database stays consistent.
    """

    def on_stop() -> None:
        if scheduler.running:
            scheduler.shutdown(wait=False)

    stop = StopSignals(event=ctx.stop, on_stop=on_stop, second_exit_code=lambda _signum: 0, signals=signals)
    stop.factory = ctx.factory
    with stop:
        with ctx.factory() as session:  # and again with every daily update
            warn_coverage(load_calendar(session), ctx.exchange_today())
        for run in planned_runs(scheduler, ctx.now()):
            log.info("job %s: next run %s", run.name, run.next_fire.isoformat() if run.next_fire else "never")
        if not ctx.stop.is_set():
            scheduler.start()  # blocks until shutdown
        # The pool's worker is still finishing (or abandoning) its job: wait, signals still heard.
        stopped = threading.Event()
        while ctx.busy.is_set() and not stopped.wait(0.1):
            pass
    log.info("daemon stopped")
