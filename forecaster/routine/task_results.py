"""What the driver writes once a kind's task comes back: the new version (file, then row), once,
then each ticker's forecasts and run item — and the run item of a failure, wherever it happened.

Each write is a short transaction of its own, never held open while a task trains (wherever it
runs). Each result is written exactly once, by the driver: a task that a Dask worker started twice
(its first worker died) still comes back as one result.
"""

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date

import numpy as np
from sqlalchemy.orm import Session, sessionmaker

from forecaster import clock
from forecaster.config import Settings
from forecaster.errors import ForecasterError
from forecaster.market.calendar import TradingCalendar
from forecaster.market.limits import PriceLimits
from forecaster.model.forecasting import Point, ValidationSeries, points, within_limits
from forecaster.model.intervals import Interval
from forecaster.model.spec import TrainSpec
from forecaster.model.windows import FloatArray
from forecaster.routine.calibration import issue
from forecaster.routine.registry import add_version, save_file
from forecaster.routine.tasks import ModelResult, TrainedModel, failure_text
from forecaster.storage.db import transaction
from forecaster.storage.records import write_forecasts
from forecaster.storage.runs import add_run_item
from forecaster.storage.schema_runs import RunItem

log = logging.getLogger(__name__)


@dataclass
class ModelOutcome:
    model: str
    action: str
    reason: str = ""
    version_id: int | None = None
    forecast: list[Point] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    validation: ValidationSeries | None = None
    intervals: list[Interval | None] = field(default_factory=list)  # as issued, one per point

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class TickerDay:
    """Where a ticker's forecasts of one as-of day are written: its run, the target column, the
    last close they move from, and the price limits they are held inside (None: not limited)."""

    ticker: str
    run_id: int
    as_of: date
    target: str
    last_close: float
    limits: PriceLimits | None = None


def store_result(
    factory: sessionmaker[Session],
    result: ModelResult,
    day: TickerDay,
    *,
    calendar: TradingCalendar,
) -> ModelOutcome:
    """Write a ticker's result: its forecasts (dated by `calendar`, the stored one), its run item.
    The version it cites is written before, once for every ticker (`save_version`)."""
    outcome = ModelOutcome(
        result.kind,
        result.action,
        result.reason,
        result.version_id,
        error=result.error,
        seconds=result.seconds,
        validation=result.validation,
    )
    with recorded(factory, day.run_id, result.ticker, outcome):
        if result.error is None and result.spec is not None:
            outcome.forecast = points(
                result.as_of, np.asarray(result.forecast, dtype=np.float64), _quantiles(result), calendar
            )
            record_forecast(factory, outcome, day)
    return outcome


@contextmanager
def recorded(factory: sessionmaker[Session], run_id: int, ticker: str, outcome: ModelOutcome) -> Iterator[None]:
    """Run the block's writes for `outcome`, then record its run item (with the block's seconds
    added to the outcome's). The driver's per-(ticker, model) boundary: a failure in the block
    becomes the outcome's error, is recorded, and the run goes on with the next one."""
    started = time.perf_counter()
    try:
        yield
    except Exception as exc:  # noqa: BLE001  # the per-(ticker, model) boundary: record and go on
        outcome.error = failure_text(exc, f"{ticker} {outcome.model}")
    outcome.seconds += time.perf_counter() - started
    record_item(factory, run_id, ticker, outcome)


def _quantiles(result: ModelResult) -> FloatArray | None:
    """The network's (horizon, levels) quantiles; None from a point network."""
    return None if result.quantiles is None else np.asarray(result.quantiles, dtype=np.float64)


def save_version(
    settings: Settings,
    factory: sessionmaker[Session],
    universe: str,
    as_of: date,
    trained: TrainedModel,
    train: TrainSpec,
) -> int:
    """File first, then its row (see registry.save_file), under the universe's key; returns the
    new version's id."""
    saved = save_file(settings.data_dir, universe, as_of, trained)
    with transaction(factory) as session:
        return add_version(
            session, ticker=universe, trained=trained, train=train, saved=saved, as_of=as_of, now=clock.now()
        ).id


def record_forecast(factory: sessionmaker[Session], outcome: ModelOutcome, day: TickerDay) -> None:
    """Write `outcome`'s forecast with its calibrated intervals, both held inside the day's limits
    (every model's forecast passes here, after calibration)."""
    record_forecasts(factory, [outcome], day)


def record_forecasts(factory: sessionmaker[Session], outcomes: Sequence[ModelOutcome], day: TickerDay) -> None:
    """record_forecast of each of `outcomes` (a ticker's baselines), in one transaction."""
    with transaction(factory) as session:
        for outcome in outcomes:
            _write_forecast(session, outcome, day)


def _write_forecast(session: Session, outcome: ModelOutcome, day: TickerDay) -> None:
    # Calibrated in the same transaction as the write: the counts read are those the row is issued on.
    issued = issue(session, day.ticker, outcome.model, day.as_of, outcome.forecast)
    outcome.forecast, intervals = within_limits(outcome.forecast, issued, day.limits)
    outcome.intervals = intervals
    write_forecasts(
        session,
        ticker=day.ticker,
        model=outcome.model,
        model_version_id=outcome.version_id,
        run_id=day.run_id,
        as_of=day.as_of,
        target=day.target,
        last_close=day.last_close,
        forecast=outcome.forecast,
        now=clock.now(),
        intervals=intervals,
    )


def record_item(factory: sessionmaker[Session], run_id: int, ticker: str, outcome: ModelOutcome) -> None:
    item = RunItem(
        run_id=run_id,
        ticker=ticker,
        model=outcome.model,
        action=outcome.action,
        reason=outcome.reason,
        model_version_id=outcome.version_id,
        status="ok" if outcome.ok else "error",
        error=outcome.error,
        seconds=outcome.seconds,
    )
    try:
        with transaction(factory) as session:
            add_run_item(session, item)
    except ForecasterError as exc:
        log.error("could not record the outcome of %s %s: %s", ticker, outcome.model, exc)
