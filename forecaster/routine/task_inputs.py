"""What the driver reads before a (ticker, model) task runs: the policy's decision over the
stored versions, and the current version's file when the task starts from it.

The reads are a short session of their own; nothing is written here.
"""

import logging
from datetime import date

import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from forecaster.config import Settings, model_spec
from forecaster.errors import ModelFileError
from forecaster.market.calendar import TradingCalendar
from forecaster.model.kinds import SKIPPED, ModelKind
from forecaster.model.spec import ModelSpec, TrainSpec
from forecaster.routine.policy import Between, Decision, Force, decide
from forecaster.routine.registry import read_parent
from forecaster.routine.tasks import ModelResult, ModelTask, ParentModel, failure_text, fallback
from forecaster.storage.queries import latest_version
from forecaster.storage.records import recent_mae_ratio

log = logging.getLogger(__name__)


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
    calendar: TradingCalendar,
) -> ModelTask | ModelResult:
    """The task, its inputs read from the database; a task that cannot be prepared is its failed
    result, which the driver records like any other (the per-(ticker, model) boundary)."""
    try:
        spec = model_spec(settings, kind)
        if len(bars) < spec.bars_needed:
            return young(ticker, kind, as_of, len(bars), spec.bars_needed, calendar)
        decision, parent = _decision(settings, factory, ticker, spec, as_of, force=force, between=between)
    except Exception as exc:  # noqa: BLE001  # the per-(ticker, model) boundary: a failed result
        return ModelResult(ticker, kind, as_of, "?", "", error=failure_text(exc, f"{ticker} {kind}"))
    return ModelTask(ticker, kind, as_of, bars, spec, train, decision, parent)


def young(ticker: str, kind: ModelKind, as_of: date, have: int, need: int, calendar: TradingCalendar) -> ModelResult:
    """A ticker with too few bars for `kind` yet (a recent listing): skipped, no failure, with the
    trading day its bar count reaches the need (one bar a trading day from here)."""
    qualifies = calendar.next_trading_days(as_of, need - have)[-1]
    reason = f"{have} bars up to {as_of}, need {need}: forecast from {qualifies}"
    return ModelResult(ticker, kind, as_of, SKIPPED, reason)


def _decision(
    settings: Settings,
    factory: sessionmaker[Session],
    ticker: str,
    spec: ModelSpec,
    as_of: date,
    *,
    force: Force,
    between: Between,
) -> tuple[Decision, ParentModel | None]:
    """Apply the policy to the stored versions and read the current version's file if needed."""
    kind = spec.kind
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
    return decision, parent
