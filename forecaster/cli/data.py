"""`forecaster ingest` and `forecaster status`: bars in, and what the database holds."""

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import click
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from forecaster import clock
from forecaster.cli.calendar import calendar_status, echo_calendar_status
from forecaster.cli.options import DAY, FORMAT_OPTION, TICKER_OPTION, TICKERS_FILE_OPTION, source_option, tickers_from
from forecaster.cli.output import echo_rows, strict_json
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
    from forecaster.ingest.calls import calls_line
    from forecaster.ingest.sources import make_source
    from forecaster.ingest.universe import universe_tickers
    from forecaster.ingest.update import ingest_tickers
    from forecaster.storage.db import session_factory

    asked = tickers_from(ticker, tickers_file, settings)
    today = today_in(settings.timezone)
    if start and start > (end or today):  # --end defaults to today: a future --start is a backwards range
        raise click.BadParameter(f"--start {start} is after --end {end or f'{today} (today)'}")
    bar_source = make_source(source, settings, csv_path)  # type: ignore[arg-type]  # Choice checked it
    with stoppable() as stop:  # a signal stops it between two tickers
        factory = session_factory(open_db(settings))
        click.echo(f"source: {bar_source.description}")
        calendar = prepare_calendar(settings, factory, today=today, source=bar_source).calendar
        # The networks' training universe too (an index: its constituents), unless a CSV is named here.
        tickers = asked or (
            settings.tickers if csv_path else universe_tickers(factory, bar_source, settings, None, today)
        )
        results = ingest_tickers(
            factory,
            bar_source,
            tickers,
            today=today,
            overlap_days=settings.ingest_overlap_days,
            calendar=calendar,
            start=None if start is None else lambda _ticker: start,
            end=end,
            on_ticker=lambda result, _seconds: click.echo(result.summary()),
            check_stop=stop.check,
            each=lambda names: progress(names, desc="ingest", unit="ticker"),
        )
    if (calls := calls_line(bar_source)) is not None:
        click.echo(calls)
    failed = sum(not r.ok for r in results)
    if failed:
        raise CliError(f"{failed} of {len(tickers)} ticker(s) failed to ingest")


@click.command()
@FORMAT_OPTION
@click.pass_obj
def status(settings: Settings, fmt: str) -> None:
    """What is in the database: tickers, bar ranges and counts, the last ingest of each.

    In CSV, one row per ticker; in JSON, one object with the tickers, the current models, the
    last run and the calendar's lines (the table also lists the daemon's jobs and schedule)."""
    from forecaster.storage.db import current_revision, parse_url

    engine = read_db(settings)
    database = f"database: {parse_url(settings.db_url)} (schema {current_revision(engine)})"
    tickers = _ticker_rows(engine)
    if fmt == "csv":
        click.echo(database, err=True)
        echo_rows(tickers, "csv", list(tickers[0]) if tickers else [], empty="")
        return
    if fmt == "json":
        payload = {"database": database, "tickers": tickers, **_models_and_run(engine, settings)}
        click.echo(strict_json({**payload, "watchlist": watch_rows(engine, None)}))
        return
    click.echo(database)
    if not tickers:
        click.echo("no bars yet: run `forecaster ingest`")
    else:
        header = f"{'ticker':<10} {'name':<8} {'bars':>6} {'first':<10} {'last':<10} {'factors':>7}  {'sources':<10}"
        click.echo(f"{header} last ingest")
    for t in tickers:
        first, last = t["first"] or "-", t["last"] or "-"
        click.echo(
            f"{t['ticker']:<10} {t['name'] or '-':<8} {t['bars']:>6} {first:<10} {last:<10} {t['factors']:>7}  "
            f"{t['sources']:<10} {t['last_ingest']}" + (f"  {t['state']}" if t["state"] else "")
        )
    from forecaster.reporting.watchlist import WATCH_COLUMNS

    watch = watch_rows(engine, None)
    if watch:
        click.echo("watch-list (the next trading day's forecast; see `forecaster report`):")
        echo_rows(watch, "table", WATCH_COLUMNS, empty="")
    _echo_models_and_runs(engine, settings)
    _echo_last_smoke(engine)
    _echo_jobs(settings, engine)
    echo_calendar_status(settings, engine)


def watch_rows(engine: Engine, tickers: Sequence[str] | None) -> list[dict[str, Any]]:
    """The watch-list (forecaster.reporting.watchlist) of the tickers with forecasts, as rows."""
    from forecaster.reporting.watchlist import watchlist
    from forecaster.storage.db import session_factory
    from forecaster.storage.queries import latest_forecasts

    with session_factory(engine)() as session:
        latest = latest_forecasts(session, tickers=tickers)
        shown = sorted(set(latest["ticker"]) | set(tickers or []))
        return [r.as_dict() for r in watchlist(session, shown, latest)]


def _ticker_rows(engine: Engine) -> list[dict[str, Any]]:
    """One row per ticker with bars, then one per ticker whose only ingests failed."""
    from forecaster.routine.staleness import stale_state
    from forecaster.storage.calendar import load_calendar
    from forecaster.storage.db import session_factory
    from forecaster.storage.listings import delist_dates, ticker_names
    from forecaster.storage.queries import failed_ingests_without_bars, ticker_summaries

    with session_factory(engine)() as session:
        summaries = ticker_summaries(session)
        orphans = failed_ingests_without_bars(session)
        calendar = load_calendar(session)
        names = ticker_names(session, [s.ticker for s in summaries] + [e.ticker for e in orphans])
        delisted = delist_dates(session, [s.ticker for s in summaries])
    # Behind the newest bar of any ticker on a trading day: suspended or delisted (not forecast).
    market_day = max((s.last for s in summaries), default=None)
    rows = [
        {"ticker": s.ticker, "name": names.get(s.ticker, ""), "bars": s.bars, "first": s.first.isoformat(),
         "last": s.last.isoformat(),
         "factors": s.factors, "sources": s.sources, "last_ingest": _describe_ingest(s.last_ingest),
         "state": stale_state(calendar, s.last, market_day, delisted.get(s.ticker)) or ""}
        for s in summaries
    ]  # fmt: skip
    return rows + [
        {"ticker": e.ticker, "name": names.get(e.ticker, ""), "bars": 0, "first": None, "last": None, "factors": 0,
         "sources": "-",
         "last_ingest": _describe_ingest(e), "state": ""}
        for e in orphans
    ]  # fmt: skip


def _models_and_run(engine: Engine, settings: Settings) -> dict[str, Any]:
    """The JSON status's current models, last run and calendar lines."""
    from forecaster.clock import today_in
    from forecaster.storage.db import session_factory
    from forecaster.storage.queries import current_models, last_run
    from forecaster.storage.runs import shown_status

    with session_factory(engine)() as session:
        models = [
            {"ticker": v.ticker, "model": v.kind, "version": v.id, "versions": n, "as_of": v.as_of,
             "action": v.action, "val_loss": v.val_loss}
            for v, n in current_models(session)
        ]  # fmt: skip
        run = last_run(session)
        calendar = calendar_status(session, today_in(settings.timezone))
    shown = None if run is None else shown_status(run, now=clock.now(), stale_minutes=settings.stale_run_minutes)
    last = None if run is None else {
        "id": run.id, "command": run.command, "started_at": run.started_at.isoformat(), "status": shown,
        "error": run.error, "note": run.note,
    }  # fmt: skip
    return {"models": models, "last_run": last, "calendar": calendar}


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
        shown = shown_status(r, now=clock.now(), stale_minutes=settings.stale_run_minutes)
        click.echo(f"job {r.job:<15} {when} {shown:<11} {detail}".rstrip())
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


def _echo_models_and_runs(engine: Engine, settings: Settings) -> None:
    from forecaster.storage.db import session_factory
    from forecaster.storage.queries import current_models, last_run
    from forecaster.storage.runs import describe_status

    with session_factory(engine)() as session:
        models = current_models(session)
        run = last_run(session)
    if models:
        click.echo(
            f"{'universe':<10} {'model':<6} {'version':>7} {'versions':>8}  {'as of':<10} {'action':<9} val loss"
        )
    for version, count in models:
        val = f"{version.val_loss:.4f}" if version.val_loss is not None else "-"
        click.echo(
            f"{version.ticker:<10} {version.kind:<6} {version.id:>7} {count:>8}  {version.as_of.isoformat():<10} "
            f"{version.action:<9} {val}"
        )
    if run is not None:
        when = f"{run.started_at:%Y-%m-%d %H:%M} UTC"
        status = describe_status(run, now=clock.now(), stale_minutes=settings.stale_run_minutes)
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
