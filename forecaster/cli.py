"""The `forecaster` command: a thin layer over the library.

Settings and logging are set up here, once; library errors (`ForecasterError`) become one
`Error: ...` line on stderr and exit code 1; usage errors exit 2 (click's convention).
"""

import logging
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click
from sqlalchemy import Engine

from forecaster.config import Settings, load_settings
from forecaster.errors import ForecasterError

# TensorFlow's C++ start-up chatter is not for users; real problems still surface as errors.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


class CliError(click.ClickException):
    exit_code = 1


class _Group(click.Group):
    """Turns library errors raised anywhere below into a one-line message."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ForecasterError as exc:
            raise CliError(str(exc)) from exc


class DayType(click.ParamType[date]):
    name = "YYYY-MM-DD"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> date:
        if isinstance(value, date):
            return value
        for fmt in ("%Y-%m-%d", "%Y%m%d"):
            try:
                return datetime.strptime(str(value), fmt).date()
            except ValueError:
                continue
        self.fail(f"{value!r} is not a date (use YYYY-MM-DD)", param, ctx)


DAY = DayType()


@contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Silence file descriptor 2 while TensorFlow loads.

    TensorFlow's native start-up prints INFO lines (oneDNN, CPU features) straight to fd 2,
    before any setting can stop them. Python exceptions raised inside still surface, after
    the descriptor is restored.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def load_training_stack() -> None:
    """Import Keras/TensorFlow quietly, once, before the first command that trains."""
    with quiet_native_stderr():
        import keras  # noqa: F401


def open_db(settings: Settings) -> Engine:
    from forecaster.db import open_database

    return open_database(settings.db_url)


@click.group(cls=_Group)
@click.option(
    "--config",
    "-c",
    type=click.Path(dir_okay=False, path_type=Path),
    help="TOML settings file (default: $FORECASTER_CONFIG, else ./forecaster.toml if present).",
)
@click.option("--verbose", "-v", count=True, help="More log output (-vv for debug).")
@click.pass_context
def cli(ctx: click.Context, config: Path | None, verbose: int) -> None:
    """Keep A-share daily bars in SQLite and forecast them with small recurrent networks.

    Settings come from FORECASTER_* environment variables (and TUSHARE_TOKEN) or a TOML file;
    see the README. Without a tushare token, the bundled Kweichow Moutai CSV is the source.
    """
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr, force=True)
    ctx.obj = load_settings(config)


@cli.group(cls=_Group)
def db() -> None:
    """Database schema: migrations (every command migrates a new database by itself)."""


@db.command("upgrade")
@click.pass_obj
def db_upgrade(settings: Settings) -> None:
    """Create the database or bring it to the newest schema."""
    from forecaster.db import current_revision

    engine = open_db(settings)
    click.echo(f"database {engine.url} at schema revision {current_revision(engine)}")


@db.command("current")
@click.pass_obj
def db_current(settings: Settings) -> None:
    """Show the database's schema revision and the newest one this code knows."""
    from forecaster.db import current_revision, head_revision, make_engine

    engine = make_engine(settings.db_url)
    click.echo(f"database {engine.url}: revision {current_revision(engine) or 'none'} (code head {head_revision()})")


@cli.command()
@click.option(
    "--ticker", "-t", multiple=True, help="ts_code such as 600519.SH; repeatable (default: FORECASTER_TICKERS)."
)
@click.option(
    "--source",
    type=click.Choice(["auto", "tushare", "csv"]),
    default="auto",
    show_default=True,
    help="auto = tushare when a token is set, else the bundled CSV.",
)
@click.option(
    "--csv", "csv_path", type=click.Path(path_type=Path), help="CSV file to read (course or tushare daily layout)."
)
@click.option("--start", type=DAY, help="First date (default: a few trading days before the last stored bar).")
@click.option("--end", type=DAY, help="Last date (default: today).")
@click.pass_obj
def ingest(
    settings: Settings,
    ticker: Sequence[str],
    source: str,
    csv_path: Path | None,
    start: date | None,
    end: date | None,
) -> None:
    """Fetch daily bars into the database; incremental, and re-running changes nothing."""
    from forecaster.calendar import today_in
    from forecaster.db import session_factory
    from forecaster.ingest import ingest_ticker
    from forecaster.progress import progress
    from forecaster.sources import make_source
    from forecaster.tickers import normalize_ticker

    tickers = [normalize_ticker(t) for t in ticker] if ticker else settings.tickers
    if start and end and start > end:
        raise click.BadParameter(f"--start {start} is after --end {end}")
    bar_source = make_source(source, settings, csv_path)  # type: ignore[arg-type]  # Choice checked it
    factory = session_factory(open_db(settings))
    click.echo(f"source: {bar_source.description}")
    today = today_in(settings.timezone)
    failed = 0
    for code in progress(tickers, desc="ingest", unit="ticker"):
        result = ingest_ticker(
            factory, bar_source, code, today=today, start=start, end=end, overlap_days=settings.ingest_overlap_days
        )
        click.echo(result.summary())
        failed += not result.ok
    if failed:
        raise CliError(f"{failed} of {len(tickers)} ticker(s) failed to ingest")


def _parse_kinds(models: str | None, settings: Settings) -> tuple[str, ...]:
    from forecaster.spec import MODEL_KINDS

    kinds = [k.strip().lower() for k in models.split(",") if k.strip()] if models else list(settings.models)
    unknown = [k for k in kinds if k not in MODEL_KINDS]
    if unknown or not kinds:
        raise click.BadParameter(
            f"unknown model kind(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(MODEL_KINDS)}",
            param_hint="--models",
        )
    return tuple(dict.fromkeys(kinds))


@cli.command()
@click.option("--ticker", "-t", multiple=True, help="ts_code; repeatable (default: FORECASTER_TICKERS).")
@click.option(
    "--as-of",
    "as_of",
    type=DAY,
    help="Forecast as of this day (default: each ticker's newest bar); nothing later is read.",
)
@click.option("--models", help="Comma-separated model kinds: rnn,lstm,gru (default: FORECASTER_MODELS).")
@click.option(
    "--retrain", "force", flag_value="retrain", help="Train every model from scratch, whatever the policy says."
)
@click.option(
    "--finetune", "force", flag_value="finetune", help="Fine-tune the current versions, whatever the policy says."
)
@click.option(
    "--source",
    type=click.Choice(["auto", "tushare", "csv"]),
    default="auto",
    show_default=True,
    help="Where the ingest step fetches new bars.",
)
@click.option("--no-ingest", is_flag=True, help="Skip the ingest step and forecast from the bars already stored.")
@click.option("--seed", type=int, help="Training seed (default: FORECASTER_SEED); same seed and data, same forecast.")
@click.option("--no-plots", is_flag=True, help="Do not draw the PNG plots.")
@click.pass_obj
def run(
    settings: Settings,
    ticker: Sequence[str],
    as_of: date | None,
    models: str | None,
    force: str | None,
    source: str,
    no_ingest: bool,
    seed: int | None,
    no_plots: bool,
) -> None:
    """Run the daily routine once: ingest, retrain or fine-tune, forecast, fill actuals, plot.

    Which models retrain and which fine-tune is decided by the policy (see the README); the
    run, each model's outcome and every forecast are recorded in the database. Exits 1 if any
    ticker or model failed (the others still ran).
    """
    from forecaster.calendar import today_in
    from forecaster.tickers import normalize_ticker

    kinds = _parse_kinds(models, settings)  # before any data or TensorFlow work
    tickers = [normalize_ticker(t) for t in ticker] if ticker else settings.tickers
    load_training_stack()
    from forecaster.db import session_factory
    from forecaster.pipeline import RoutineOptions, run_routine
    from forecaster.sources import make_source

    bar_source = None if no_ingest else make_source(source, settings)  # type: ignore[arg-type]  # Choice checked it
    factory = session_factory(open_db(settings))
    if bar_source is not None:
        click.echo(f"source: {bar_source.description}")
    options = RoutineOptions(kinds=kinds, as_of=as_of, force=force, seed=seed, plots=not no_plots)  # type: ignore[arg-type]
    report = run_routine(
        settings, factory, tickers=tickers, options=options, source=bar_source, today=today_in(settings.timezone)
    )
    for result in report.ingests:
        click.echo(result.summary())
    click.echo(
        f"{'ticker':<10} {'model':<6} {'version':>7} {'action':<9} {'target date':<11} {'forecast':>10} "
        f"{'last close':>10}  plot"
    )
    for t in report.tickers:
        if t.error:
            click.echo(f"{t.ticker:<10} FAILED: {t.error}")
            continue
        plot = settings.data_dir / t.plots["forecast"] if "forecast" in t.plots else "-"
        for o in t.outcomes:
            if not o.ok:
                click.echo(f"{t.ticker:<10} {o.model:<6} {'-':>7} {o.action:<9} FAILED: {o.error}")
                continue
            for p in o.forecast:
                click.echo(
                    f"{t.ticker:<10} {o.model:<6} {o.version_id or '-':>7} {o.action:<9} "
                    f"{p.target_date.isoformat():<11} {p.yhat:>10.2f} {t.last_close or 0:>10.2f}  {plot}"
                )
    seconds = ", ".join(f"{k} {v:.1f}s" for k, v in sorted(report.timings.items()))
    click.echo(f"run {report.run_id}: {'ok' if report.ok else 'with failures'} ({seconds})")
    if not report.ok:
        raise CliError(f"run {report.run_id} finished with failures (see above)")


@cli.command()
@click.pass_obj
def status(settings: Settings) -> None:
    """What is in the database: tickers, bar ranges and counts, the last ingest of each."""
    from forecaster.db import current_revision, session_factory
    from forecaster.queries import failed_ingests_without_bars, ticker_summaries

    engine = open_db(settings)
    click.echo(f"database: {engine.url} (schema {current_revision(engine)})")
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


def _describe_ingest(entry: Any) -> str:
    if entry is None:
        return "-"
    when = f"{entry.started_at:%Y-%m-%d %H:%M} UTC"
    if entry.status != "ok":
        return f"{when} {entry.source} FAILED: {entry.error}"
    return f"{when} {entry.source} +{entry.rows_new} new, {entry.rows_changed} revised"


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
