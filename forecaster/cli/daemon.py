"""`forecaster daemon`: the scheduled jobs until SIGTERM."""

import logging

import click
from sqlalchemy.orm import Session, sessionmaker

from forecaster.cli.options import FORMAT_OPTION
from forecaster.cli.output import echo_rows
from forecaster.cli.runtime import CliError, load_training_stack, open_db
from forecaster.config import Settings
from jobs import JOBS, RUN_NOW


@click.command()
@click.option("--schedule", metavar="CRON", help="Daily update, a 5-field crontab line (default: FORECASTER_SCHEDULE).")
@click.option(
    "--timezone",
    "tz",
    metavar="TZ",
    help="Time zone the schedules are read in (default: FORECASTER_SCHEDULER_TIMEZONE, else FORECASTER_TIMEZONE).",
)
@click.option("--run-now", is_flag=True, help="Also run the daily update once, right after start-up.")
@click.option("--list", "list_jobs", is_flag=True, help="Print each job and its next fire time, then exit.")
@click.option("--skip-smoke", is_flag=True, help="Do not run the start-up smoke test (for tests and development only).")
@FORMAT_OPTION
@click.pass_obj
def daemon(
    settings: Settings,
    schedule: str | None,
    tz: str | None,
    run_now: bool,
    list_jobs: bool,
    skip_smoke: bool,
    fmt: str,
) -> None:
    """Run the scheduled jobs (see jobs/README.md) until SIGTERM or Ctrl-C.

    Daily update Monday–Friday 17:30 Asia/Shanghai and a full retrain Saturday 09:00 by default.
    Starts with the smoke test and refuses to start if it fails. Only one forecaster process
    trains on a database at a time; every job run is recorded (see `status`).
    """
    from forecaster.daemon.jobrun import JobContext
    from forecaster.daemon.scheduler import build_scheduler, job_triggers, planned_runs, serve
    from forecaster.ingest.sources import make_source
    from forecaster.storage.db import session_factory

    if fmt != "table" and not list_jobs:
        raise click.UsageError("--format shapes the --list output; give it with --list")
    updates = {k: v for k, v in {"schedule": schedule, "scheduler_timezone": tz}.items() if v is not None}
    settings = settings.model_copy(update=updates)
    job_triggers(settings, JOBS)  # a bad schedule or time zone fails here, before any other work
    ctx = JobContext(settings, session_factory(open_db(settings)), make_source("auto", settings))
    if list_jobs:
        scheduler = build_scheduler(ctx, JOBS, run_now=RUN_NOW if run_now else None)
        rows = [
            {"job": p.job_id, "next_fire": p.next_fire, "timezone": p.next_fire and str(p.next_fire.tzinfo)}
            for p in planned_runs(scheduler, ctx.now())
        ]  # next_fire None: the job never fires again
        echo_rows(rows, fmt, ["job", "next_fire", "timezone"], empty="no jobs")
        return
    # The daemon logs one line per step; APScheduler's own bookkeeping only when it goes wrong.
    from forecaster.cli.logsetup import configure_logging

    configure_logging(min(logging.getLogger().level, logging.INFO), settings.log_format, timestamps=True)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    load_training_stack()
    if not skip_smoke:
        _startup_smoke(settings, ctx.factory)
    click.echo(f"source: {ctx.source.description}", err=True)
    serve(ctx, build_scheduler(ctx, JOBS, run_now=RUN_NOW if run_now else None))


def _startup_smoke(settings: Settings, factory: "sessionmaker[Session]") -> None:
    from forecaster.course.letters import record_smoke, run_smoke
    from forecaster.storage.db import transaction

    results = run_smoke(None, None, 0, settings.data_dir / "smoke")
    with transaction(factory) as session:
        record_smoke(session, results)
    failed = [r.task for r in results if not r.ok]
    if failed:
        raise CliError(f"smoke test failed at start-up ({', '.join(failed)}); the daemon did not start")
    logging.getLogger("forecaster.daemon").info(
        "smoke test ok: %d task(s) in %.1f s", len(results), sum(r.seconds for r in results)
    )
