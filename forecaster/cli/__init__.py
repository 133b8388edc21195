"""The `forecaster` command: a thin layer over the library.

Settings and logging are set up here, once; library errors (`ForecasterError`) become one
`Error: ...` line on stderr and exit code 1; usage errors exit 2 (click's convention).
"""

import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

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

# Options several commands share, defined once so their wording and defaults stay the same.
TICKER_OPTION = click.option(
    "--ticker", "-t", multiple=True, help="ts_code such as 600519.SH; repeatable (default: FORECASTER_TICKERS)."
)
TICKERS_FILE_OPTION = click.option(
    "--tickers-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File of ts_codes, one a line, # comments (a watch-list, an index); adds to --ticker.",
)


def tickers_from(ticker: Sequence[str], tickers_file: Path | None) -> list[str]:
    """The --ticker codes, then the --tickers-file ones, each once; [] when neither is given."""
    from forecaster.market.tickers import normalize_ticker, read_tickers_file

    codes = [normalize_ticker(t) for t in ticker]
    if tickers_file is not None:
        codes += read_tickers_file(tickers_file)
    return list(dict.fromkeys(codes))


MODELS_OPTION = click.option("--models", help="Comma-separated model kinds: rnn,lstm,gru (default: FORECASTER_MODELS).")
SEED_OPTION = click.option(
    "--seed", type=int, help="Training seed (default: FORECASTER_SEED); same seed and data, same forecast."
)


_F = TypeVar("_F", bound=Callable[..., Any])


def source_option(help_text: str) -> Callable[[_F], _F]:
    return click.option(
        "--source", type=click.Choice(["auto", "tushare", "csv"]), default="auto", show_default=True, help=help_text
    )


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


@contextmanager
def run_lock(settings: Settings, command: str) -> Iterator[None]:
    """One run at a time per database (see forecaster.lock); waits FORECASTER_LOCK_WAIT_S."""
    from forecaster.routine.lock import run_lock as database_run_lock

    with database_run_lock(settings, command, wait_s=settings.lock_wait_s):
        yield


def open_db(settings: Settings) -> Engine:
    from forecaster.storage.db import open_database

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
    from forecaster.cli.logsetup import configure_logging

    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr, force=True)
    ctx.obj = load_settings(config)
    configure_logging(level, ctx.obj.log_format)


@cli.group(cls=_Group)
def db() -> None:
    """Database schema: migrations (every command migrates a new database by itself)."""


@db.command("upgrade")
@click.pass_obj
def db_upgrade(settings: Settings) -> None:
    """Create the database or bring it to the newest schema."""
    from forecaster.storage.db import current_revision

    engine = open_db(settings)
    click.echo(f"database {engine.url} at schema revision {current_revision(engine)}")


@db.command("current")
@click.pass_obj
def db_current(settings: Settings) -> None:
    """Show the database's schema revision and the newest one this code knows."""
    from forecaster.storage.db import current_revision, head_revision, make_engine

    engine = make_engine(settings.db_url)
    click.echo(f"database {engine.url}: revision {current_revision(engine) or 'none'} (code head {head_revision()})")


@cli.command()
@TICKER_OPTION
@TICKERS_FILE_OPTION
@source_option("auto = tushare when a token is set, else the bundled CSV.")
@click.option(
    "--csv", "csv_path", type=click.Path(path_type=Path), help="CSV file to read (course or tushare daily layout)."
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
    from forecaster.ingest.sources import make_source
    from forecaster.ingest.update import ingest_ticker
    from forecaster.market.calendar import today_in
    from forecaster.storage.db import session_factory

    tickers = tickers_from(ticker, tickers_file) or settings.tickers
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
    from forecaster.model.spec import MODEL_KINDS

    kinds = [k.strip().lower() for k in models.split(",") if k.strip()] if models else list(settings.models)
    unknown = [k for k in kinds if k not in MODEL_KINDS]
    if unknown or not kinds:
        raise click.BadParameter(
            f"unknown model kind(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(MODEL_KINDS)}",
            param_hint="--models",
        )
    return tuple(dict.fromkeys(kinds))


@cli.command()
@TICKER_OPTION
@TICKERS_FILE_OPTION
@click.option(
    "--as-of",
    "as_of",
    type=DAY,
    help="Forecast as of this day (default: each ticker's newest bar); nothing later is read.",
)
@MODELS_OPTION
@click.option(
    "--retrain", "force", flag_value="retrain", help="Train every model from scratch, whatever the policy says."
)
@click.option(
    "--finetune", "force", flag_value="finetune", help="Fine-tune the current versions, whatever the policy says."
)
@source_option("Where the ingest step fetches new bars.")
@click.option("--no-ingest", is_flag=True, help="Skip the ingest step and forecast from the bars already stored.")
@SEED_OPTION
@click.option("--no-plots", is_flag=True, help="Do not draw the PNG plots.")
@click.pass_obj
def run(
    settings: Settings,
    ticker: Sequence[str],
    tickers_file: Path | None,
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
    kinds = _parse_kinds(models, settings)  # before any data or TensorFlow work
    tickers = tickers_from(ticker, tickers_file) or settings.tickers
    with run_lock(settings, "run"):  # after the argument checks: a usage error never waits
        from forecaster.market.calendar import today_in

        load_training_stack()
        from forecaster.ingest.sources import make_source
        from forecaster.routine.pipeline import RoutineOptions, run_routine
        from forecaster.storage.db import session_factory

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
        if not no_plots:  # the report is mostly plots; a failure is a warning, not a failed run
            from forecaster.reporting.html import refresh_report

            page = refresh_report(settings.data_dir, factory)
            click.echo(f"report: {page}" if page else "report: not updated (see the warning)")
        if not report.ok:
            raise CliError(f"run {report.run_id} finished with failures (see above)")


FORMATS = click.Choice(["table", "csv", "json"])


def _check_models(ctx: click.Context, param: click.Parameter, value: Sequence[str]) -> tuple[str, ...]:
    # A callback, not click.Choice, so that the model list is imported only when it is used.
    from forecaster.model.spec import BASELINES, ENSEMBLE, MODEL_KINDS

    names = tuple(v.strip().lower() for v in value)
    unknown = [n for n in names if n not in (*MODEL_KINDS, ENSEMBLE, *BASELINES)]
    if unknown:
        known = ", ".join((*MODEL_KINDS, ENSEMBLE, *BASELINES))
        raise click.BadParameter(f"unknown model(s) {', '.join(unknown)}; choose from {known}")
    return names


MODEL_FILTER_OPTION = click.option(
    "--model",
    "-m",
    multiple=True,
    callback=_check_models,
    help="Only this model's rows: rnn, lstm, gru, ensemble, naive, ewma or drift; repeatable (default: all).",
)


def echo_scores(rows: list[dict[str, Any]], fmt: str, columns: list[str] | None = None) -> None:
    """Scores as an aligned table, or machine-clean CSV / JSON on stdout (logs go to stderr)."""
    from forecaster.scoring.evaluation import SCORE_COLUMNS

    columns = columns or SCORE_COLUMNS
    if fmt == "json":
        import json

        # Strict JSON: a score that does not exist (NaN: no intervals, nothing to compare) is null.
        strict = [{k: None if isinstance(v, float) and v != v else v for k, v in r.items()} for r in rows]
        click.echo(json.dumps(strict, indent=2, default=str, allow_nan=False))
        return
    if fmt == "csv":
        import csv

        writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]) if rows else columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return
    if not rows:
        click.echo("no matured forecasts in that range")
        return

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return "-" if value != value else f"{value:.4f}" if abs(value) < 10 else f"{value:.2f}"  # NaN check
        return str(value)

    cells = [[cell(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    click.echo(
        "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(columns, widths, strict=True)))
    )
    for row in cells:
        click.echo(
            "  ".join(v.ljust(w) if i < 2 else v.rjust(w) for i, (v, w) in enumerate(zip(row, widths, strict=True)))
        )


@cli.command()
@click.option("--start", type=DAY, required=True, help="First as-of date to replay.")
@click.option("--end", type=DAY, required=True, help="Last as-of date to replay.")
@TICKER_OPTION
@TICKERS_FILE_OPTION
@MODELS_OPTION
@click.option(
    "--retrain-every", type=click.IntRange(min=1), help="Retrain from scratch every N trading days (default 20)."
)
@click.option(
    "--between",
    type=click.Choice(["predict", "finetune"]),
    default="predict",
    show_default=True,
    help="Between retrains: forecast with the current version as it is, or fine-tune it every day.",
)
@click.option(
    "--finetune-epochs", type=click.IntRange(min=1), help="Epochs of each fine-tune (with --between finetune)."
)
@source_option("Where the bars the range needs are fetched from.")
@click.option("--no-ingest", is_flag=True, help="Use only the bars already stored.")
@SEED_OPTION
@click.pass_obj
def backfill(
    settings: Settings,
    start: date,
    end: date,
    ticker: Sequence[str],
    tickers_file: Path | None,
    models: str | None,
    retrain_every: int | None,
    between: str,
    finetune_epochs: int | None,
    source: str,
    no_ingest: bool,
    seed: int | None,
) -> None:
    """Replay the daily routine for every trading day in a past range (a walk-forward).

    For each day: retrain every N trading days, otherwise predict with (or fine-tune) the
    current version, forecast, fill actuals; baselines too. Nothing after a day is read for
    that day. Resumable: interrupted and started again, it continues with the first day not yet
    complete; a finished range adds nothing. Ends with the scores over the range and a plot.
    """
    if start > end:
        raise click.BadParameter(f"--start {start} is after --end {end}")
    kinds = _parse_kinds(models, settings)
    tickers = tickers_from(ticker, tickers_file) or settings.tickers
    updates: dict[str, Any] = {}
    if retrain_every is not None:
        updates["retrain_every"] = retrain_every
    if finetune_epochs is not None:
        updates["finetune_epochs"] = finetune_epochs
    settings = settings.model_copy(update=updates)
    with run_lock(settings, "backfill"):  # after the argument checks: a usage error never waits
        load_training_stack()
        from forecaster.cli.progress import progress_bar
        from forecaster.ingest.sources import make_source
        from forecaster.ingest.update import ingest_for_range
        from forecaster.market.calendar import today_in
        from forecaster.routine.backfill import backfill as run_backfill
        from forecaster.routine.backfill import backfill_plot
        from forecaster.routine.pipeline import RoutineOptions
        from forecaster.scoring.evaluation import accuracy
        from forecaster.storage.db import session_factory

        factory = session_factory(open_db(settings))
        today = today_in(settings.timezone)
        if not no_ingest:
            bar_source = make_source(source, settings)  # type: ignore[arg-type]  # Choice checked it
            click.echo(f"source: {bar_source.description}")
            for result in ingest_for_range(settings, factory, bar_source, tickers, start, today):
                click.echo(result.summary())
        options = RoutineOptions(kinds=kinds, seed=seed, between=between)  # type: ignore[arg-type]
        with progress_bar(desc="backfill", unit="day") as bar:

            def on_day(day: date, run: Any, total: int) -> None:
                if bar.total != total:
                    bar.total = total
                    bar.refresh()
                bar.set_postfix_str(f"{day} {'already complete' if run is None else 'done'}")
                bar.update(1)

            report = run_backfill(
                settings,
                factory,
                tickers=tickers,
                start=start,
                end=end,
                options=options,
                today=today,
                on_day=on_day,
            )
        click.echo(
            f"backfill {start}..{end}: {len(report.days)} day(s), {report.skipped} already complete, "
            f"{len(report.runs)} run in {report.seconds:.0f} s"
        )
        with factory() as session:
            rows = [r.as_dict() for r in accuracy(session, tickers=tickers, since=start, until=end)]
        echo_scores(rows, "table")
        for path in backfill_plot(settings, factory, tickers, start, end):
            click.echo(f"plot: {path}")
        if not report.ok:
            for failure in report.failures[:20]:
                click.echo(f"FAILED {failure}")
            raise CliError(f"{len(report.failures)} (day, ticker, model) step(s) failed; run again to retry them")


@cli.command()
@click.option("--ticker", "-t", multiple=True, help="ts_code; repeatable (default: all in the database).")
@TICKERS_FILE_OPTION
@click.option("--since", type=DAY, help="First target date scored.")
@click.option("--until", type=DAY, help="Last target date scored.")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True, help="Output format.")
@click.option(
    "--preset",
    type=click.Choice(["course"]),
    help="Run the course's experiment (course settings, its train/test split of the bundled file), honestly scored.",
)
@click.option(
    "--split",
    type=click.Choice(["course"]),
    help="Run the course's train/test split with this product's current model settings.",
)
@click.option(
    "--seeds",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="With --preset/--split: train with seeds S..S+N-1 (S = FORECASTER_SEED); mean and spread.",
)
@click.option("--models", help="With --preset/--split: model kinds (default rnn,lstm,gru).")
@click.option(
    "--epochs", type=click.IntRange(min=1), help="With --preset/--split: cap the training epochs (for a quick look)."
)
@MODEL_FILTER_OPTION
@click.pass_obj
def evaluate(
    settings: Settings,
    ticker: Sequence[str],
    tickers_file: Path | None,
    since: date | None,
    until: date | None,
    fmt: str,
    preset: str | None,
    split: str | None,
    seeds: int,
    models: str | None,
    epochs: int | None,
    model: Sequence[str],
) -> None:
    """Accuracy of the stored forecasts per (ticker, model, horizon), beside naive and drift.

    MAE, RMSE, MAPE (%), MASE (scaled by the in-sample naive MAE before the first scored
    forecast), rel_mae (MAE / naive's MAE on the same days: < 1 beats naive) and the direction
    hit-rate. With --preset course or --split course it runs the course experiment instead.
    """
    if preset and split:
        raise click.BadParameter("give either --preset or --split, not both")
    if preset or split:
        kinds = _parse_kinds(models, settings.model_copy(update={"models": ["rnn", "lstm", "gru"]}))
        load_training_stack()
        from forecaster.course.experiment import course_experiment

        rows = course_experiment(settings, kinds=kinds, course_settings=preset is not None, seeds=seeds, epochs=epochs)
        echo_scores(rows, fmt, columns=list(rows[0]) if rows else None)
        return
    from forecaster.scoring.evaluation import accuracy
    from forecaster.storage.db import session_factory

    tickers = tickers_from(ticker, tickers_file) or None
    with session_factory(open_db(settings))() as session:
        scored = accuracy(session, tickers=tickers, since=since, until=until)
    # Filtered after scoring: rel_mae still compares with naive on the same days.
    rows = [r.as_dict() for r in scored if not model or r.model in model]
    echo_scores(rows, fmt)


_FORECAST_TABLE = ["ticker", "model", "model_version", "as_of", "target_date", "horizon", "yhat", "lo80", "hi80",
                   "actual", "error"]  # fmt: skip


@cli.command()
@click.option("--ticker", "-t", multiple=True, help="ts_code; repeatable (default: all in the database).")
@TICKERS_FILE_OPTION
@MODEL_FILTER_OPTION
@click.option("--as-of", "as_of", type=DAY, help="Only the forecasts made as of this day.")
@click.option("--since", type=DAY, help="First as-of day shown.")
@click.option("--until", type=DAY, help="Last as-of day shown.")
@click.option("--latest", is_flag=True, help="Only the newest as-of of each (ticker, model), within the other filters.")
@click.option(
    "--champion", is_flag=True, help="Only the champion's newest forecast per (ticker, horizon) (see v_champion)."
)
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True, help="Output format.")
@click.pass_obj
def forecasts(
    settings: Settings,
    ticker: Sequence[str],
    tickers_file: Path | None,
    model: Sequence[str],
    as_of: date | None,
    since: date | None,
    until: date | None,
    latest: bool,
    champion: bool,
    fmt: str,
) -> None:
    """The stored forecasts, with the actual and the error once the target day's bar is in.

    The same rows as the v_forecasts view (see the README); CSV and JSON carry every column,
    with empty / null where the actual is not known yet.
    """
    if as_of is not None and (since is not None or until is not None):
        raise click.BadParameter("give either --as-of or --since/--until, not both")
    if since and until and since > until:
        raise click.BadParameter(f"--since {since} is after --until {until}")
    if champion and (model or as_of or since or until or latest):
        raise click.BadParameter("--champion shows the newest forecasts; it takes only --ticker")
    from forecaster.storage.db import session_factory
    from forecaster.storage.queries import champion_forecasts
    from forecaster.storage.queries import forecasts as query_forecasts

    tickers = tickers_from(ticker, tickers_file) or None
    with session_factory(open_db(settings))() as session:
        if champion:
            frame = champion_forecasts(session, tickers=tickers)
        else:
            frame = query_forecasts(
                session,
                tickers=tickers,
                models=list(model) or None,
                as_of=as_of,
                since=since,
                until=until,
                latest=latest,
            )
    if fmt == "table" and frame.empty:
        click.echo("no forecasts match")
        return
    echo_scores(_forecast_records(frame, fmt), fmt, columns=_FORECAST_TABLE)


def _forecast_records(frame: Any, fmt: str) -> list[dict[str, Any]]:
    """Rows for echo_scores: ISO dates; unknown values null in JSON, empty in CSV, '-' in a table."""
    missing = "-" if fmt == "table" else None
    records: list[dict[str, Any]] = []
    for row in frame.to_dict("records"):
        records.append(
            {
                k: v.isoformat() if isinstance(v, date) else missing if v is None or v != v else v  # v != v: NaN
                for k, v in row.items()
            }
        )
    return records


@cli.command()
@click.option("--ticker", "-t", multiple=True, help="ts_code; repeatable (default: all in the database).")
@TICKERS_FILE_OPTION
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write index.html and its images into (default: <data dir>/report).",
)
@click.pass_obj
def report(settings: Settings, ticker: Sequence[str], tickers_file: Path | None, out_dir: Path | None) -> None:
    """Write a static HTML report: latest forecasts, accuracy vs baselines, and the plots.

    The page opens from disk (no server): images are copied next to it. The daily job and
    `forecaster run` regenerate the default one.
    """
    from forecaster.reporting.html import write_report
    from forecaster.storage.db import session_factory

    tickers = tickers_from(ticker, tickers_file) or None
    with session_factory(open_db(settings))() as session:
        page = write_report(session, settings.data_dir, out_dir or settings.data_dir / "report", tickers=tickers)
    click.echo(f"report: {page}")


@cli.command()
@click.pass_obj
def status(settings: Settings) -> None:
    """What is in the database: tickers, bar ranges and counts, the last ingest of each."""
    from forecaster.storage.db import current_revision, session_factory
    from forecaster.storage.queries import failed_ingests_without_bars, ticker_summaries

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
    _echo_models_and_runs(engine)
    _echo_last_smoke(engine)
    _echo_jobs(settings, engine)


def _echo_jobs(settings: Settings, engine: Engine) -> None:
    from forecaster.storage.db import session_factory
    from forecaster.storage.queries import recent_job_runs

    factory = session_factory(engine)
    with factory() as session:
        runs = recent_job_runs(session, limit=5)
    for r in runs:
        when = f"{r.started_at:%Y-%m-%d %H:%M} UTC"
        detail = r.error or r.summary or ""
        click.echo(f"job {r.job:<15} {when} {r.status:<11} {detail}".rstrip())
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

    ctx = JobContext(settings, factory, make_source("auto", settings))
    scheduler = build_scheduler(ctx, catch_up=catch_up)
    return planned_runs(scheduler, ctx.now())


def _echo_models_and_runs(engine: Engine) -> None:
    from forecaster.storage.db import session_factory
    from forecaster.storage.queries import current_models, last_run

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
        click.echo(f"last run: {run.id} ({run.command}) {when} {run.status}" + (f": {run.error}" if run.error else ""))


def _describe_ingest(entry: Any) -> str:
    if entry is None:
        return "-"
    when = f"{entry.started_at:%Y-%m-%d %H:%M} UTC"
    if entry.status != "ok":
        return f"{when} {entry.source} FAILED: {entry.error}"
    return f"{when} {entry.source} +{entry.rows_new} new, {entry.rows_changed} revised"


def _check_smoke_task(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    # Checked here rather than with click.Choice so that the task list is not imported (with
    # NumPy and the ORM) every time the CLI starts.
    from forecaster.course.letters import TASKS

    if value is not None and value not in TASKS:
        raise click.BadParameter(f"{value!r} is not a smoke task; choose from {', '.join(TASKS)}")
    return value


@cli.command()
@click.option("--task", metavar="NAME", callback=_check_smoke_task, help="Run one task only (default: all four).")
@click.option(
    "--epochs",
    type=click.IntRange(min=1),
    help="Full-batch epochs for every task run (default: each task's own, enough to reach 100%).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed for the initial weights.")
@click.option("--ask", is_flag=True, help="Afterwards, read letters from stdin and print the predicted next letter.")
@click.pass_obj
def smoke(settings: Settings, task: str | None, epochs: int | None, seed: int, ask: bool) -> None:
    """Health check of the training stack: the course's four letter-prediction RNNs.

    Each task is trained, saved and reloaded; it passes when the reloaded model predicts every
    training pair and answers exactly as before saving. The run is recorded (see `status`);
    exits 1 if any task falls short.
    """
    from forecaster.storage.db import session_factory, transaction

    engine = open_db(settings)  # a database problem shows before, not after, the training
    load_training_stack()
    from forecaster.course.letters import record_smoke, run_smoke

    results = run_smoke(task, epochs, seed, settings.data_dir / "smoke")
    click.echo(f"{'task':<15} {'epochs':>6} {'seconds':>7} {'accuracy':>8}  samples")
    for r in results:
        shown = ", ".join((r.misses or r.samples)[:3])
        if r.misses:
            shown = f"{len(r.misses)} wrong: {shown}"
        if len(r.misses or r.samples) > 3:
            shown += ", …"
        reload = "" if r.reload_identical else "  (reloaded model answers differently)"
        click.echo(f"{r.task:<15} {r.epochs:>6} {r.seconds:>7.2f} {r.accuracy:>8.0%}  {shown}{reload}")
    with transaction(session_factory(engine)) as session:
        record_smoke(session, results)
    if ask:
        _ask_letters(results)
    failed = [r.task for r in results if not r.ok]
    if failed:
        raise CliError(f"smoke test failed: {', '.join(failed)}")
    click.echo(f"smoke test ok: {len(results)} task(s) in {sum(r.seconds for r in results):.1f} s")


def _ask_letters(results: Sequence[Any]) -> None:
    from forecaster.course.letters import answer, reload_models

    models = reload_models(results)  # what answers is what was saved
    click.echo("type letters to see what comes next (an empty line ends)")
    while True:
        click.echo("letters> ", nl=False)
        line = sys.stdin.readline()
        if not line.strip():
            click.echo()
            return
        for reply in answer(models, line):
            click.echo(f"  {reply}")


def _echo_last_smoke(engine: Engine) -> None:
    from forecaster.course.letters import last_smoke
    from forecaster.storage.db import session_factory

    with session_factory(engine)() as session:
        run = last_smoke(session)
    if run is not None:
        verdict = "ok" if run.ok else "FAILED"
        click.echo(f"last smoke test: {run.started_at:%Y-%m-%d %H:%M} UTC {verdict} ({run.seconds:.1f} s)")


@cli.command()
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
@click.pass_obj
def daemon(
    settings: Settings, schedule: str | None, tz: str | None, run_now: bool, list_jobs: bool, skip_smoke: bool
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

    updates = {k: v for k, v in {"schedule": schedule, "scheduler_timezone": tz}.items() if v is not None}
    settings = settings.model_copy(update=updates)
    job_triggers(settings)  # a bad schedule or time zone fails here, before any other work
    ctx = JobContext(settings, session_factory(open_db(settings)), make_source("auto", settings))
    if list_jobs:
        scheduler = build_scheduler(ctx, run_now=run_now)
        for p in planned_runs(scheduler, ctx.now()):
            click.echo(f"{p.job_id:<26} next {p.next_fire:%Y-%m-%d %H:%M %Z}" if p.next_fire else f"{p.job_id} never")
        return
    # The daemon logs one line per step; APScheduler's own bookkeeping only when it goes wrong.
    from forecaster.cli.logsetup import configure_logging

    configure_logging(min(logging.getLogger().level, logging.INFO), settings.log_format, timestamps=True)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    load_training_stack()
    if not skip_smoke:
        _startup_smoke(settings, ctx.factory)
    click.echo(f"source: {ctx.source.description}", err=True)
    serve(ctx, build_scheduler(ctx, run_now=run_now))


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


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
