"""`forecaster evaluate`, `forecaster forecasts` and `forecaster report`: the read side."""

from collections.abc import Sequence
from datetime import date
from pathlib import Path

import click

from forecaster.cli.options import (
    DAY,
    FORMAT_OPTION,
    MODEL_FILTER_OPTION,
    TICKERS_FILE_OPTION,
    parse_kinds,
    tickers_from,
)
from forecaster.cli.output import FORECAST_TABLE, echo_rows, echo_scores, forecast_records
from forecaster.cli.runtime import load_training_stack, read_db
from forecaster.config import Settings


@click.command()
@click.option("--ticker", "-t", multiple=True, help="ts_code; repeatable (default: all in the database).")
@TICKERS_FILE_OPTION
@click.option("--since", type=DAY, help="First target date scored.")
@click.option("--until", type=DAY, help="Last target date scored.")
@FORMAT_OPTION
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
    help="With --preset/--split: train with seeds S..S+N-1 (S = FORECASTER_SEED); mean and spread (default 1).",
)
@click.option(
    "--epochs", type=click.IntRange(min=1), help="With --preset/--split: cap the training epochs (for a quick look)."
)
@click.option("--ic", is_flag=True, help="Daily IC and Rank IC per model across tickers instead (5+ a day).")
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
    seeds: int | None,
    epochs: int | None,
    ic: bool,
    model: Sequence[str],
) -> None:
    """Accuracy of the stored forecasts per (ticker, model, horizon), beside the baselines.

    MAE, RMSE, MAPE (%), MASE (scaled by the in-sample naive MAE before the first scored
    forecast), rel_mae (MAE / naive's MAE on the same days: < 1 beats naive) and the direction
    hit-rate; interval scores; Diebold-Mariano against naive and garch and the coverage tests'
    p-values (with several tickers, pooled rows with ticker "all" follow). With --preset course
    or --split course it runs the course experiment instead, training the --models kinds.
    """
    if preset and split:
        raise click.BadParameter("give either --preset or --split, not both")
    if not (preset or split) and (seeds is not None or epochs is not None):  # else silently ignored
        raise click.UsageError("--seeds and --epochs train the course experiment; give them with --preset or --split")
    if preset or split:
        # --models names the kinds trained here (default all three), and only network kinds train.
        kinds = parse_kinds(model or None, settings.model_copy(update={"models": ["rnn", "lstm", "gru"]}))
        load_training_stack()
        from forecaster.course.experiment import course_experiment

        rows = course_experiment(
            settings, kinds=kinds, course_settings=preset is not None, seeds=seeds or 1, epochs=epochs
        )
        echo_scores(rows, fmt, columns=list(rows[0]) if rows else None)
        return
    from forecaster.scoring.evaluation import evaluation_rows
    from forecaster.storage.db import session_factory

    tickers = tickers_from(ticker, tickers_file) or None
    if ic:
        _echo_ic(settings, tickers, since, until, fmt)
        return
    with session_factory(read_db(settings))() as session:
        scored = evaluation_rows(session, tickers=tickers, since=since, until=until)
    # Filtered after scoring: rel_mae and the DM columns still compare with the baselines on the same days.
    rows = [r for r in scored if not model or r["model"] in model]
    echo_scores(rows, fmt)


def _echo_ic(settings: Settings, tickers: list[str] | None, since: date | None, until: date | None, fmt: str) -> None:
    from forecaster.scoring.evaluation import matured_forecasts
    from forecaster.scoring.ic import IC_COLUMNS, MIN_TICKERS, ic_rows
    from forecaster.storage.db import session_factory

    with session_factory(read_db(settings))() as session:
        rows = ic_rows(matured_forecasts(session, tickers=tickers, since=since, until=until))
    echo_rows(rows, fmt, IC_COLUMNS, empty=f"no day with {MIN_TICKERS} or more tickers' matured forecasts")


@click.command()
@click.option("--ticker", "-t", multiple=True, help="ts_code; repeatable (default: all in the database).")
@TICKERS_FILE_OPTION
@MODEL_FILTER_OPTION
@click.option("--as-of", "as_of", type=DAY, help="Only the forecasts made as of this day.")
@click.option("--since", type=DAY, help="First as-of day shown.")
@click.option("--until", type=DAY, help="Last as-of day shown.")
@click.option("--latest", is_flag=True, help="Only the newest as-of of each (ticker, model), within the other filters.")
@click.option(
    "--overview",
    is_flag=True,
    help="With --latest: one row per ticker, the watch-list (forecast, ranges, move %, champion, status).",
)
@click.option(
    "--champion", is_flag=True, help="Only the champion's newest forecast per (ticker, horizon) (see v_champion)."
)
@FORMAT_OPTION
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
    overview: bool,
    champion: bool,
    fmt: str,
) -> None:
    """The stored forecasts, with the actual and the error once the target day's bar is in.

    The same rows as the v_forecasts view (docs/querying.md); CSV and JSON carry every column,
    with empty / null where the actual is not known yet.
    """
    if as_of is not None and (since is not None or until is not None):
        raise click.BadParameter("give either --as-of or --since/--until, not both")
    if since and until and since > until:
        raise click.BadParameter(f"--since {since} is after --until {until}")
    from forecaster.storage.db import session_factory
    from forecaster.storage.queries import champion_forecasts
    from forecaster.storage.queries import forecasts as query_forecasts

    if champion and (model or as_of or since or until or latest):
        raise click.BadParameter("--champion shows the newest forecasts; it takes only --ticker")
    tickers = tickers_from(ticker, tickers_file) or None
    if overview:
        from forecaster.cli.data import watch_rows
        from forecaster.reporting.watchlist import WATCH_COLUMNS

        if not latest or champion or model or as_of or since or until:
            raise click.BadParameter("--overview goes with --latest and takes only --ticker")
        echo_rows(watch_rows(read_db(settings), tickers), fmt, WATCH_COLUMNS, empty="no forecasts yet")
        return
    with session_factory(read_db(settings))() as session:
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
    echo_rows(forecast_records(frame), fmt, FORECAST_TABLE, empty="no forecasts match")


@click.command()
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
    from forecaster.clock import today_in
    from forecaster.reporting.html import write_report
    from forecaster.storage.db import session_factory

    tickers = tickers_from(ticker, tickers_file) or None
    with session_factory(read_db(settings))() as session:
        page = write_report(
            session,
            settings.data_dir,
            out_dir or settings.data_dir / "report",
            tickers=tickers,
            today=today_in(settings.timezone),
        )
    click.echo(f"report: {page}")
