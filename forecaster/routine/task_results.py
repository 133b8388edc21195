"""The driver's side of a (ticker, model) task: its inputs read from the database before, its
result written after.

Reads and writes are short transactions of their own, never held open while a task trains
(wherever it runs). Each result is written exactly once, by the driver: a task that a Dask
worker started twice (its first worker died) still comes back as one result.
"""

import logging
import time
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from forecaster.config import Settings, model_spec
from forecaster.errors import ForecasterError, ModelFileError
from forecaster.market.calendar import TradingCalendar
from forecaster.model.forecasting import Point, ValidationSeries, points
from forecaster.model.kinds import ModelKind
from forecaster.model.online import Interval
from forecaster.model.spec import ModelSpec, TrainSpec
from forecaster.model.windows import FloatArray
from forecaster.routine.calibration import issue
from forecaster.routine.policy import Between, Force, decide
from forecaster.routine.registry import add_version, latest_version, read_parent, save_file
from forecaster.routine.tasks import ModelResult, ModelTask, ParentModel, TrainedModel, failure_text, fallback
from forecaster.storage.db import db_now, transaction
from forecaster.storage.records import recent_mae_ratio, write_forecasts
from forecaster.storage.runs import add_run_item
from forecaster.storage.schema import RunItem

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


def prepare_task(
    settings: Settings,
    factory: sessionmaker[Session],
    ticker: str,
    kind: ModelKind,
    bars: pd.DataFrame,
    as_of: date,
    *,
    force: Force,
    between: Between,
    train: TrainSpec,
) -> ModelTask:
    """Apply the policy to the stored versions and read the current version's file if needed."""
    spec = model_spec(settings, kind)
    needed = spec.window + spec.horizon + 20
    if len(bars) < needed:
        raise ForecasterError(f"{len(bars)} bars up to {as_of} are too few (need {needed})")
    with factory() as session:
        version = latest_version(session, ticker, kind, as_of)
        ratio = recent_mae_ratio(session, ticker, kind, until=as_of, count=settings.drift_window)
    decision = decide(
        as_of=as_of,
        version_as_of=version.as_of if version else None,
        spec_changed=version is not None and ModelSpec.from_json(version.spec) != spec,
        force=force,
        retrain_every=settings.retrain_every,
        recent_ratio=ratio,
        drift_threshold=settings.drift_threshold,
        between=between,
    )
    parent: ParentModel | None = None
    if decision.action != "retrain" and version is not None:
        try:
            parent = read_parent(version, settings.data_dir)
        except ModelFileError as exc:
            log.warning("%s %s: %s; retraining", ticker, kind, exc)
            decision = fallback(exc)
    return ModelTask(ticker, kind, as_of, bars, spec, train, decision, parent)


def store_result(
    settings: Settings,
    factory: sessionmaker[Session],
    result: ModelResult,
    *,
    run_id: int,
    train: TrainSpec,
    last_close: float,
    calendar: TradingCalendar,
) -> ModelOutcome:
    """Write a task's result: the new version (file, then row), its forecasts (dated by
    `calendar`, the stored one), its run item."""
    started = time.perf_counter()
    outcome = ModelOutcome(
        result.kind, result.action, result.reason, result.version_id, error=result.error, validation=result.validation
    )
    try:
        if result.trained is not None:
            outcome.version_id = save_version(settings, factory, result.ticker, result.as_of, result.trained, train)
        if result.error is None and result.spec is not None:
            outcome.forecast = points(
                result.as_of, np.asarray(result.forecast, dtype=np.float64), _quantiles(result), calendar
            )
            record_forecast(factory, result.ticker, outcome, run_id, result.as_of, result.spec.target, last_close)
    except Exception as exc:  # noqa: BLE001  # the per-(ticker, model) boundary, driver side
        outcome.error = failure_text(exc, f"{result.ticker} {result.kind}")
    outcome.seconds = result.seconds + time.perf_counter() - started
    record_item(factory, run_id, result.ticker, outcome)
    return outcome


def _quantiles(result: ModelResult) -> FloatArray | None:
    """The network's (horizon, levels) quantiles; None from a point network."""
    return None if result.quantiles is None else np.asarray(result.quantiles, dtype=np.float64)


def save_version(
    settings: Settings,
    factory: sessionmaker[Session],
    ticker: str,
    as_of: date,
    trained: TrainedModel,
    train: TrainSpec,
) -> int:
    """File first, then its row (see registry.save_file); returns the new version's id."""
    saved = save_file(settings.data_dir, ticker, as_of, trained)
    with transaction(factory) as session:
        return add_version(
            session, ticker=ticker, trained=trained, train=train, saved=saved, as_of=as_of, now=db_now()
        ).id


def record_forecast(
    factory: sessionmaker[Session],
    ticker: str,
    outcome: ModelOutcome,
    run_id: int,
    as_of: date,
    target: str,
    last_close: float,
) -> None:
    with transaction(factory) as session:
        # Calibrated in the same transaction as the write: the counts read are those the row is issued on.
        intervals = outcome.intervals = issue(session, ticker, outcome.model, as_of, outcome.forecast)
        write_forecasts(
            session,
            ticker=ticker,
            model=outcome.model,
            model_version_id=outcome.version_id,
            run_id=run_id,
            as_of=as_of,
            target=target,
            last_close=last_close,
            forecast=outcome.forecast,
            now=db_now(),
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
