"""The routine's pictures of one ticker and day: the forecast plot (the newest bars and every
model's forecast) and the validation plot, written under <data dir>/plots and recorded."""

import hashlib
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure
from sqlalchemy.orm import Session, sessionmaker

from forecaster import clock
from forecaster.config import Settings
from forecaster.market.limits import st_on
from forecaster.reporting.plotting import forecast_figure, save_png, validation_figure
from forecaster.routine.baselines_and_ensemble import issued_bands
from forecaster.routine.task_results import ModelOutcome
from forecaster.storage.db import transaction
from forecaster.storage.files import write_atomic
from forecaster.storage.limits import name_periods_of
from forecaster.storage.listings import ticker_names
from forecaster.storage.records import recent_plots, record_plot
from forecaster.storage.schema import Plot

Figures = dict[str, Figure]


def draw_plots(
    settings: Settings,
    factory: sessionmaker[Session],
    ticker: str,
    as_of: date,
    outcomes: Sequence[ModelOutcome],
    bars: pd.DataFrame,
    run_id: int,
) -> dict[str, str]:
    """Both plots of `ticker` as of `as_of`, from each model's outcome; returns kind -> path.

    A ticker whose forecasts are those its plots were last drawn from (a rerun of the same day)
    is not drawn again: drawing is most of a run's time past a few tickers. The digest of what
    was drawn is kept beside the plots, one file per ticker."""
    digest = _digest(as_of, outcomes, bars[settings.target])
    drawn = settings.data_dir / "plots" / ticker / "drawn.sha256"
    with factory() as session:
        kept = {p.kind: p.path for p in reversed(recent_plots(session, ticker, Plot.as_of == as_of))}
        # ST on the as-of day: the limit marks of the plot's closes use its 5 % rule
        st = st_on(as_of, name_periods_of(session, [ticker]).get(ticker), ticker_names(session, [ticker]).get(ticker))
    if (
        drawn.is_file()
        and drawn.read_text() == digest
        and kept
        and all((settings.data_dir / p).is_file() for p in kept.values())
    ):
        return kept
    figures = _figures(ticker, as_of, outcomes, bars[settings.target], settings.target, st)
    paths = _save(settings, factory, ticker, as_of, figures, run_id)
    write_atomic(drawn, digest.encode())
    return paths


def _figures(
    ticker: str, as_of: date, outcomes: Sequence[ModelOutcome], history: pd.Series, target: str, st: bool
) -> Figures:
    figures = {
        "forecast": forecast_figure(
            ticker,
            as_of,
            history,
            {o.model: o.forecast for o in outcomes if o.ok and o.forecast},
            target,
            issued_bands(outcomes),
            st=st,
        )
    }
    validation = {o.model: o.validation for o in outcomes if o.validation is not None}
    if validation:
        figures["validation"] = validation_figure(ticker, as_of, validation)
    return figures


def _save(
    settings: Settings, factory: sessionmaker[Session], ticker: str, as_of: date, figures: Figures, run_id: int
) -> dict[str, str]:
    paths: dict[str, str] = {}
    for kind, fig in figures.items():
        rel = Path("plots") / ticker / f"{as_of.isoformat()}-{kind}.png"
        save_png(fig, settings.data_dir / rel)
        paths[kind] = rel.as_posix()
        with transaction(factory) as session:
            record_plot(
                session, ticker=ticker, as_of=as_of, kind=kind, path=rel.as_posix(), run_id=run_id, now=clock.now()
            )
    return paths


def _digest(as_of: date, outcomes: Sequence[ModelOutcome], history: pd.Series) -> str:
    """What the plots show: the day, each model's version, forecast and intervals, and the closes."""
    shown = [(o.model, o.version_id, o.forecast, o.intervals, o.error is None) for o in outcomes]
    text = repr((as_of, shown, history.to_json(date_format="iso")))
    return hashlib.sha256(text.encode()).hexdigest()
