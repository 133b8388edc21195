"""`forecaster run` and `forecaster backfill`: the daily routine once, or replayed over past days."""

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import click

from forecaster.cli.options import (
    DAY,
    FORMAT_OPTION,
    MODELS_OPTION,
    SEED_OPTION,
    TICKER_OPTION,
    TICKERS_FILE_OPTION,
    parse_kinds,
    source_option,
    tickers_from,
)
from forecaster.cli.output import echo_rows, echo_scores, say_for
from forecaster.cli.runtime import CliError, load_training_stack, open_db, run_lock, stoppable
from forecaster.config import Settings
from forecaster.model.spec import BETWEEN, SKIPPED, Between

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from forecaster.ingest.update import IngestResult
    from forecaster.routine.backfill import BackfillReport
    from forecaster.routine.driver import RoutineOptions
    from forecaster.routine.pipeline import RunReport

# One row per forecast, read across: whose, made when, for which day, the value and both ranges.
# A `note` column is added for a skipped network or a suspended or delisted ticker, a `failure` column
# when something failed (`error` is a forecast's error elsewhere).
RUN_TABLE = ["ticker", "model", "action", "as_of", "target_date", "horizon", "forecast", "lo80", "hi80", "lo95", "hi95"]
BANDS = ("lo80", "hi80", "lo95", "hi95")


def run_rows(report: "RunReport", names: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """One row per (ticker, model, horizon) forecast; a failed ticker or model is one row with its
    failure. `names`: the tickers' names from the stored listings, shown where known."""
    rows: list[dict[str, Any]] = []
    for t in report.tickers:
        noted = {"note": t.note} if t.note else {}
        named = {"name": names[t.ticker]} if names and t.ticker in names else {}
        base = {"ticker": t.ticker, **named, "as_of": t.as_of, "last_close": t.last_close, **noted}
        if t.error:
            rows.append({**base, "model": "FAILED", "failure": t.error})
        if t.suspended_since is not None:
            stale = "delisted" if t.delisted_on is not None else "suspended"
            rows.append({**base, "as_of": t.last_bar, "model": "-", "action": stale})
        for o in t.outcomes:
            model = {**base, "model": o.model, "version": o.version_id, "action": o.action}
            if not o.ok or o.action == SKIPPED:
                rows.append({**model, "forecast": None, "failure": o.error, "note": o.reason or t.note})
            intervals = o.intervals or [None] * len(o.forecast)  # none issued: a forecast without quantiles
            for p, band in zip(o.forecast, intervals, strict=True):
                issued = {b: None if band is None else getattr(band, b) for b in BANDS}
                rows.append({**model, "target_date": p.target_date, "horizon": p.horizon, "forecast": p.yhat, **issued})
    return rows


def run_columns(rows: list[dict[str, Any]]) -> list[str]:
    """The table's columns, with `name` (from the listings), `note` (a skipped network, a
    suspension) and `failure` when any row has one."""
    named = ["ticker", "name", *RUN_TABLE[1:]] if any(r.get("name") for r in rows) else RUN_TABLE
    return named + [c for c in ("note", "failure") if any(r.get(c) for r in rows)]


def plot_lines(report: "RunReport", data_dir: Path) -> list[str]:
    """The run's plots, once each, after the table."""
    return [f"plot: {data_dir / path}" for t in report.tickers for path in t.plots.values()]


@click.command()
@TICKER_OPTION
@TICKERS_FILE_OPTION
@click.option(
    "--as-of",
    "as_of",
    type=DAY,
    help="Forecast as of this day (default: each ticker's newest bar); nothing later is read.",
)
@MODELS_OPTION
@click.option("--retrain", is_flag=True, help="Train every model from scratch, whatever the policy says.")
@click.option("--finetune", is_flag=True, help="Fine-tune the current versions, whatever the policy says.")
@source_option("Where the ingest step fetches new bars.")
@click.option("--no-ingest", is_flag=True, help="Skip the ingest step and forecast from the bars already stored.")
@SEED_OPTION
@click.option("--no-plots", is_flag=True, help="Do not draw the PNG plots.")
@FORMAT_OPTION
@click.pass_obj
def run(
    settings: Settings,
    ticker: Sequence[str],
    tickers_file: Path | None,
    as_of: date | None,
    models: tuple[str, ...] | None,
    retrain: bool,
    finetune: bool,
    source: str,
    no_ingest: bool,
    seed: int | None,
    no_plots: bool,
    fmt: str,
) -> None:
    """Run the daily routine once: ingest, retrain or predict (or fine-tune), forecast, fill actuals, plot.

    Whether a model retrains is decided by the policy (docs/models.md), and in between it predicts
    as it is or is fine-tuned first (FORECASTER_BETWEEN_RETRAINS); the
    run, each model's outcome and every forecast are recorded in the database. Exits 1 if any
    ticker or model failed (the others still ran).
    """
    from forecaster.clock import today_in

    if retrain and finetune:  # both at once would be neither: refuse rather than pick one
        raise click.UsageError("give either --retrain or --finetune, not both")
    force: Literal["retrain", "finetune"] | None = "retrain" if retrain else "finetune" if finetune else None
    kinds = parse_kinds(models, settings)  # before any data or TensorFlow work
    tickers = tickers_from(ticker, tickers_file, settings) or settings.tickers
    today = today_in(settings.timezone)
    if as_of is not None and as_of > today:  # no bar can exist yet: never forecast from an older one silently
        raise click.BadParameter(f"{as_of} is after today ({today})", param_hint="--as-of")
    # After the argument checks: a usage error never waits. A signal stops it between two steps.
    with stoppable() as stop, run_lock(settings, "run", stop.requested):
        load_training_stack()
        from forecaster.ingest.calls import calls_line
        from forecaster.ingest.sources import make_source
        from forecaster.routine.driver import RoutineOptions
        from forecaster.routine.pipeline import run_routine
        from forecaster.storage.db import session_factory
        from forecaster.storage.listings import ticker_names

        bar_source = None if no_ingest else make_source(source, settings)  # type: ignore[arg-type]  # Choice checked it
        factory = stop.factory = session_factory(open_db(settings))
        say = say_for(fmt)
        if bar_source is not None:
            say(f"source: {bar_source.description}")
        options = RoutineOptions(
            kinds=kinds, as_of=as_of, force=force, seed=seed, plots=not no_plots, should_stop=stop.requested
        )
        report = run_routine(settings, factory, tickers=tickers, options=options, source=bar_source, today=today)
        for line in report.notes(as_of):
            click.echo(f"note: {line}", err=True)
        for line in ingest_lines(report.ingests, tickers):
            say(line)
        if (calls := calls_line(bar_source)) is not None:
            say(calls)
        with factory() as session:
            names = ticker_names(session, tickers)
        rows = run_rows(report, names)
        echo_rows(rows, fmt, run_columns(rows), empty="no tickers run")
        for line in plot_lines(report, settings.data_dir):
            say(line)
        seconds = ", ".join(f"{k} {v:.1f}s" for k, v in sorted(report.timings.items()))
        say(f"run {report.run_id}: {'ok' if report.ok else 'with failures'} ({seconds})")
        if not no_plots:  # the report is mostly plots; a failure is a warning, not a failed run
            from forecaster.reporting.html import refresh_report

            page = refresh_report(settings.data_dir, factory, today_in(settings.timezone))
            say(f"report: {page}" if page else "report: not updated (see the warning)")
        if not report.ok:
            raise CliError(f"run {report.run_id} finished with failures (see above)")


@click.command()
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
    type=click.Choice(BETWEEN),
    help="Between retrains: forecast with the current version as it is, or fine-tune it every day "
    "(default: the between_retrains setting, predict).",
)
@click.option(
    "--finetune-epochs", type=click.IntRange(min=1), help="Epochs of each fine-tune (with --between finetune)."
)
@source_option("Where the bars the range needs are fetched from.")
@click.option("--no-ingest", is_flag=True, help="Use only the bars already stored.")
@SEED_OPTION
@FORMAT_OPTION
@click.pass_obj
def backfill(
    settings: Settings,
    start: date,
    end: date,
    ticker: Sequence[str],
    tickers_file: Path | None,
    models: tuple[str, ...] | None,
    retrain_every: int | None,
    between: Between | None,
    finetune_epochs: int | None,
    source: str,
    no_ingest: bool,
    seed: int | None,
    fmt: str,
) -> None:
    """Replay the daily routine for every trading day in a past range (a walk-forward).

    For each day: retrain every N trading days, otherwise predict with (or fine-tune) the
    current version, forecast, fill actuals; baselines too. Nothing after a day is read for
    that day. Resumable: interrupted and started again, it continues with the first day not yet
    complete; a finished range adds nothing. Ends with the scores over the range and a plot.
    """
    if start > end:
        raise click.BadParameter(f"--start {start} is after --end {end}")
    kinds = parse_kinds(models, settings)
    tickers = tickers_from(ticker, tickers_file, settings) or settings.tickers
    given = {"retrain_every": retrain_every, "finetune_epochs": finetune_epochs}
    settings = settings.model_copy(update={k: v for k, v in given.items() if v is not None})
    # After the argument checks: a usage error never waits. A signal stops it between two steps.
    with stoppable() as stop, run_lock(settings, "backfill", stop.requested):
        load_training_stack()
        from forecaster.clock import today_in
        from forecaster.ingest.calls import calls_line
        from forecaster.ingest.sources import make_source
        from forecaster.ingest.update import ingest_for_range
        from forecaster.routine.backfill import backfill_plot
        from forecaster.routine.driver import RoutineOptions
        from forecaster.scoring.evaluation import accuracy
        from forecaster.storage.db import session_factory

        factory = stop.factory = session_factory(open_db(settings))
        today = today_in(settings.timezone)
        say = say_for(fmt)
        if not no_ingest:
            bar_source = make_source(source, settings)  # type: ignore[arg-type]  # Choice checked it
            say(f"source: {bar_source.description}")
            for result in ingest_for_range(settings, factory, bar_source, tickers, start, today):
                say(result.summary())
            if (calls := calls_line(bar_source)) is not None:
                say(calls)
        options = RoutineOptions(kinds=kinds, seed=seed, between=between, should_stop=stop.requested)
        report = _replay_with_progress(settings, factory, tickers, start, end, options, today)
        if not report.days:
            raise CliError(f"no stored trading day of {', '.join(tickers)} in {start}..{end}; nothing to replay")
        say(
            f"backfill {start}..{end}: {len(report.days)} day(s), {report.skipped} already complete, "
            f"{len(report.runs)} run in {report.seconds:.0f} s"
        )
        with factory() as session:
            rows = [r.as_dict() for r in accuracy(session, tickers=tickers, since=start, until=end)]
        echo_scores(rows, fmt)
        for path in backfill_plot(settings, factory, tickers, start, end):
            say(f"plot: {path}")
        if not report.ok:
            for failure in report.failures[:20]:
                say(f"FAILED {failure}")
            raise CliError(f"{len(report.failures)} (day, ticker, model) step(s) failed; run again to retry them")


def _replay_with_progress(
    settings: Settings,
    factory: "sessionmaker[Session]",
    tickers: Sequence[str],
    start: date,
    end: date,
    options: "RoutineOptions",
    today: date,
) -> "BackfillReport":
    from forecaster.cli.progress import progress_bar
    from forecaster.routine.backfill import backfill

    with progress_bar(desc="backfill", unit="day") as bar:

        def on_day(day: date, run: Any, total: int) -> None:
            if bar.total != total:
                bar.total = total
                bar.refresh()
            bar.set_postfix_str(f"{day} {'already complete' if run is None else 'done'}")
            bar.update(1)

        return backfill(
            settings, factory, tickers=tickers, start=start, end=end, options=options, today=today, on_day=on_day
        )


def ingest_lines(ingests: "list[IngestResult]", tickers: Sequence[str]) -> list[str]:
    """Each asked ticker's ingest in full; the training universe's others in one line, unless one failed."""
    others = [i for i in ingests if i.ticker not in tickers]
    lines = [i.summary() for i in ingests if i.ticker in tickers or not i.ok]
    if fine := [i for i in others if i.ok]:
        new = sum(i.counts.new for i in fine)
        lines.append(f"training universe: {len(fine)} more ticker(s), {new} new bars")
    return lines
