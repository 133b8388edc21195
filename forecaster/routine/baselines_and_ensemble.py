"""Forecasts the driver makes itself, beside the networks' tasks: the baselines (points and
quantiles, model/baselines.py) and the ensemble of the networks' and garch's quantiles."""

import logging
from collections.abc import Callable, Sequence
from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from forecaster.market.calendar import TradingCalendar
from forecaster.model.baselines import (
    drift_forecast,
    drift_quantiles,
    ewma_quantiles,
    garch_forecast,
    garch_quantiles,
    naive_forecast,
    naive_quantiles,
)
from forecaster.model.forecasting import Point, points
from forecaster.model.intervals import MEDIAN, QUANTILE_LEVELS, Interval, average
from forecaster.model.spec import BASELINES, ENSEMBLE, MODEL_KINDS
from forecaster.model.windows import FloatArray
from forecaster.routine.task_results import ModelOutcome, TickerDay, record_forecast, recorded

log = logging.getLogger(__name__)

_Baseline = Callable[[pd.DataFrame, int], FloatArray]
GARCH = "garch"  # the baseline the ensemble takes half from
# name -> (its point forecast, its quantiles); ewma is the naive point with its own spread.
_BASELINES: dict[str, tuple[_Baseline, _Baseline]] = {
    "naive": (naive_forecast, naive_quantiles),
    "ewma": (naive_forecast, ewma_quantiles),
    "drift": (drift_forecast, drift_quantiles),
    GARCH: (garch_forecast, garch_quantiles),
}


def baseline_points(bars: pd.DataFrame, as_of: date, horizon: int, calendar: TradingCalendar) -> dict[str, list[Point]]:
    """Every baseline's forecast from the bars up to `as_of`, in BASELINES order."""
    return {
        name: points(as_of, _BASELINES[name][0](bars, horizon), _baseline_quantiles(name, bars, horizon), calendar)
        for name in BASELINES
    }


def _baseline_quantiles(name: str, bars: pd.DataFrame, horizon: int) -> FloatArray | None:
    """None where the history is too short for quantiles (the point is still stored)."""
    try:
        q = _BASELINES[name][1](bars, horizon)
    except ValueError as exc:
        log.info("%s: no quantiles (%s)", name, exc)
        return None
    if q.shape != (horizon, len(QUANTILE_LEVELS)) or not np.all(np.isfinite(q)):
        log.info("%s: no quantiles from %d bars", name, len(bars))
        return None
    return q


def quantiles_of(forecast: Sequence[Point]) -> FloatArray | None:
    """(horizon, levels) from a forecast's points, None unless every point has quantiles."""
    if not forecast or any(p.quantiles is None for p in forecast):
        return None
    return np.asarray([p.quantiles for p in forecast], dtype=np.float64)


def ensemble_outcome(outcomes: Sequence[ModelOutcome], as_of: date) -> ModelOutcome | None:
    """The networks' average quantiles, averaged half and half with garch's where garch has
    quantiles that day (its yhat the median), or None when fewer than two networks have quantiles
    that day (an ensemble of one would only repeat it).

    Why garch: in the development market's training years the half-and-half average had a lower
    pinball than the networks' average on both folds and seeds (0.3-0.4 %), and a quarter share
    (garch as a fourth member) less (docs/models.md, "The ensemble and garch")."""
    members = [
        (o, q) for o in outcomes if o.model in MODEL_KINDS and o.ok and (q := quantiles_of(o.forecast)) is not None
    ]
    if len(members) < 2:
        return None
    shape = members[0][1].shape
    members = [(o, q) for o, q in members if q.shape == shape]  # one horizon for all, by the settings
    mean = average([q for _, q in members])
    reason = "average of " + ", ".join(o.model for o, _ in members)
    garch = next((quantiles_of(o.forecast) for o in outcomes if o.model == GARCH and o.ok), None)
    if garch is not None and garch.shape == shape:
        mean = average([mean, garch])
        reason += ", half and half with garch"
    # The members' target dates (the routine's calendar dated them): same as-of, same horizons.
    dated = members[0][0].forecast
    forecast = [
        Point(p.target_date, p.horizon, float(mean[i, MEDIAN]), tuple(map(float, mean[i]))) for i, p in enumerate(dated)
    ]
    return ModelOutcome(ENSEMBLE, "ensemble", reason, forecast=forecast)


def write_ensemble(factory: sessionmaker[Session], outcomes: list[ModelOutcome], day: TickerDay) -> None:
    """Store the ensemble of `outcomes` (calibrated like any model) and its run item, and append
    its outcome to them; nothing when no network has quantiles that day. Called once all of a
    ticker's networks are in."""
    outcome = ensemble_outcome(outcomes, day.as_of)
    if outcome is None:
        return
    with recorded(factory, day.run_id, day.ticker, outcome):
        record_forecast(factory, outcome, day)
    outcomes.append(outcome)


def issued_bands(outcomes: Sequence[ModelOutcome]) -> dict[str, list[Interval]]:
    """The intervals each model issued (those that have them for every point), for the plot."""
    return {
        o.model: [i for i in o.intervals if i is not None]
        for o in outcomes
        if o.ok and o.intervals and all(i is not None for i in o.intervals)
    }
