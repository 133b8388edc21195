"""`forecaster ingest` and `forecaster status`: bars in, and what the database holds."""

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import click
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from forecaster.cli.calendar import echo_calendar_status
from forecaster.cli.options import DAY, TICKER_OPTION, TICKERS_FILE_OPTION, source_option, tickers_from
from forecaster.cli.runtime import CliError, open_db, read_db, stoppable
from forecaster.config import Settings
from forecaster.errors import ForecasterError


@click.command()
@TICKER_OPTION
@TICKERS_FILE_OPTION
@source_option("auto = tushare when a token is set, else the bundled CSV.")
@click.option(
    "--csv", "csv_path", type=click.Path(path_type=Path), help="CSV file or directory to read (layouts: docs/data.md)."
)
@click.option("--start", type=DAY, help="First date (default: a few trading days before the last stored bar).")
@click.option("--end", type=DAY, help="Last date (default: today).")
@click.pass_obj
def ingest(
    settings: Settings,
    ticker: Sequence[str],
    tickers_file: Path | None,
    source: str,
    csv_path: Path | None,
    start: date | None,
    end: date | None,
) -> None:
    """Fetch daily bars into the database; incremental, and re-running changes nothing."""
    from forecaster.cli.progress import progress
    from forecaster.clock import today_in
    from forecaster.ingest.calendar import prepare_calendar
    from forecaster.ingest.sources import make_source
    from forecaster.ingest.update import ingest_tickers
    from forecaster.storage.db import session_factory

    tickers = tickers_from(ticker, tickers_file) or settings.tickers
    if start and end and start > end:
        raise click.BadParameter(f"--start {start} is after --end {end}")
    bar_source = make_source(source, settings, csv_path)  # type: ignore[arg-type]  # Choice checked it
    with stoppable() as stop:  # a signal stops it between two tickers
        factory = session_factory(open_db(settings))
        click.echo(f"source: {bar_source.description}")
        today = today_in(settings.timezone)
        calendar = prepare_calendar(settings, factory, today=today, source=bar_source).calendar
        results = ingest_tickers(
            factory,
            bar_source,
            progress(tickers, desc="ingest", unit="ticker"),
            today=today,
            overlap_days=settings.ingest_overlap_days,
            calendar=calendar,
            start=None if start is None else lambda _ticker: start,
            end=end,
            on_ticker=lambda result, _seconds: click.echo(result.summary()),
            check_stop=stop.check,
        )
    failed = sum(not r.ok for r in results)
    if failed:
        raise CliError(f"{failed} of {len(tickers)} ticker(s) failed to ingest")


@click.command()
@click.pass_obj
def status(settings: Settings) -> None:
    """What is in the database: tickers, bar ranges and counts, the last ingest of each."""
    from forecaster.storage.db import current_revision, parse_url, session_factory
    from forecaster.storage.queries import failed_ingests_without_bars, ticker_summaries

    engine = read_db(settings)
    click.echo(f"database: {parse_url(settings.db_url)} (schema {current_revision(engine)})")
    with session_factory(engine)() as session:
        summaries = ticker_summaries(session)
        orphans = failed_ingests_without_bars(session)
    if not summaries:
        click.echo("no bars yet: run `forecaster ingest`")
    else:
        click.echo(f"{'ticker':<10} {'bars':>6} {'first':<10} {'last':<10} {'factors':>7}  {'sources':<10} last ingest")
    for s in summaries:
        click.echo(
            f"{s.ticker:<10} {s.bars:>6} {s.first.isoformat():<10} {s.last.isoformat():<10} "
            f"{s.factors:>7}  {s.sources:<10} {_describe_ingest(s.last_ingest)}"
        )
    for entry in orphans:
        click.echo(f"{entry.ticker:<10} {'0':>6} {'-':<10} {'-':<10} {'0':>7}  {'-':<10} {_describe_ingest(entry)}")
    _echo_models_and_runs(engine)
    _echo_last_smoke(engine)
    _echo_jobs(settings, engine)
    echo_calendar_status(settings, engine)


def _echo_jobs(settings: Settings, engine: Engine) -> None:
    from forecaster.storage.db import session_factory
    from forecaster.storage.queries import recent_job_runs
    from forecaster.storage.runs import shown_status

    factory = session_factory(engine)
    with factory() as session:
        runs = recent_job_runs(session, limit=5)
    for r in runs:
        when = f"{r.started_at:%Y-%m-%d %H:%M} UTC"
        detail = r.error or r.summary or ""
        click.echo(f"job {r.job:<15} {when} {shown_status(r):<11} {detail}".rstrip())
    try:
        planned = _planned_runs(settings, factory, catch_up=False)
    except ForecasterError as exc:  # a bad schedule must not hide the rest of the status
        click.echo(f"daemon schedule: {exc}")
        return
    for p in planned:
        click.echo(f"next {p.name:<14} {p.next_fire:%Y-%m-%d %H:%M %Z}" if p.next_fire else f"next {p.name}: never")


def _planned_runs(settings: Settings, factory: "sessionmaker[Session]", *, catch_up: bool) -> list[Any]:
    from forecaster.daemon.jobrun import JobContext
    from forecaster.daemon.scheduler import build_scheduler, planned_runs
    from forecaster.ingest.sources import make_source
    from jobs import JOBS

    ctx = JobContext(settings, factory, make_source("auto", settings))
    scheduler = build_scheduler(ctx, JOBS, catch_up=catch_up)
    return planned_runs(scheduler, ctx.now())


def _echo_models_and_runs(engine: Engine) -> None:
    from forecaster.storage.db import session_factory
    from forecaster.storage.queries import current_models, last_run
    from forecaster.storage.runs import describe_status

    with session_factory(engine)() as session:
        models = current_models(session)
        run = last_run(session)
    if models:
        click.echo(f"{'ticker':<10} {'model':<6} {'version':>7} {'versions':>8}  {'as of':<10} {'action':<9} val loss")
    for version, count in models:
        val = f"{version.val_loss:.4f}" if version.val_loss is not None else "-"
        click.echo(
            f"{version.ticker:<10} {version.kind:<6} {version.id:>7} {count:>8}  {version.as_of.isoformat():<10} "
            f"{version.action:<9} {val}"
        )
    if run is not None:
        when = f"{run.started_at:%Y-%m-%d %H:%M} UTC"
        status = describe_status(run)
        click.echo(f"last run: {run.id} ({run.command}) {when} {status}" + (f": {run.error}" if run.error else ""))


def _describe_ingest(entry: Any) -> str:
    if entry is None:
        return "-"
    when = f"{entry.started_at:%Y-%m-%d %H:%M} UTC"
    if entry.status != "ok":
        return f"{when} {entry.source} FAILED: {entry.error}"
    return f"{when} {entry.source} +{entry.rows_new} new, {entry.rows_changed} revised"


def _echo_last_smoke(engine: Engine) -> None:
    from forecaster.storage.db import session_factory
    from forecaster.storage.queries import last_smoke

    with session_factory(engine)() as session:
        run = last_smoke(session)
    if run is not None:
        verdict = "ok" if run.ok else "FAILED"
        click.echo(f"last smoke test: {run.started_at:%Y-%m-%d %H:%M} UTC {verdict} ({run.seconds:.1f} s)")
