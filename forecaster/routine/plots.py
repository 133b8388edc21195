"""The routine's pictures of one ticker and day: the forecast plot (the newest bars and every
model's forecast) and the validation plot, written under <data dir>/plots and recorded."""

from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from forecaster import clock
from forecaster.config import Settings
from forecaster.reporting.plotting import forecast_figure, save_png, validation_figure
from forecaster.routine.baselines_and_ensemble import issued_bands
from forecaster.routine.task_results import ModelOutcome
from forecaster.storage.db import transaction
from forecaster.storage.records import record_plot


def draw_plots(
    settings: Settings,
    factory: sessionmaker[Session],
    ticker: str,
    as_of: date,
    outcomes: Sequence[ModelOutcome],
    bars: pd.DataFrame,
    run_id: int,
) -> dict[str, str]:
    """Both plots of `ticker` as of `as_of`, from each model's outcome; returns kind -> path."""
    figures = {
        "forecast": forecast_figure(
            ticker,
            as_of,
            bars[settings.target],
            {o.model: o.forecast for o in outcomes if o.ok and o.forecast},
            settings.target,
            issued_bands(outcomes),
        )
    }
    validation = {o.model: o.validation for o in outcomes if o.validation is not None}
    if validation:
        figures["validation"] = validation_figure(ticker, as_of, validation)
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
