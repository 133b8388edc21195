"""What the driver reads before a kind's task runs: the policy's decision over the universe's
stored versions, and the current version's file when the task starts from it.

The reads are a short session of their own; nothing is written here.
"""

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from forecaster.config import Settings, model_spec
from forecaster.errors import ModelFileError
from forecaster.market.calendar import TradingCalendar
from forecaster.model.spec import SKIPPED, Between, ModelKind, ModelSpec, TrainSpec
from forecaster.routine.policy import Decision, Force, decide
from forecaster.routine.registry import read_parent
from forecaster.routine.tasks import KindResult, ModelResult, ModelTask, ParentModel, failure_text, fallback
from forecaster.storage.queries import latest_version
from forecaster.storage.records import recent_mae_ratio

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pool:
    """A run's day as every kind's task sees it: the training universe's bars, and the tickers to forecast."""

    as_of: date
    universe: str  # the versions' key (see `universe_key`)
    histories: dict[str, pd.DataFrame]  # qfq bars up to as_of, every universe ticker with any
    forecast: tuple[str, ...]  # watch-list tickers with a window of bars on as_of


def universe_key(codes: Iterable[str]) -> str:
    """The key a universe's versions are stored under: its codes, hashed. Another universe (a
    ticker added to the watch-list) is another line of versions, trained afresh."""
    digest = hashlib.sha256(",".join(sorted(set(codes))).encode()).hexdigest()[:8]
    return f"@{digest}"


def prepare_task(
    settings: Settings,
    factory: sessionmaker[Session],
    kind: ModelKind,
    pool: Pool,
    *,
    force: Force,
    between: Between,
    train: TrainSpec,
) -> ModelTask | KindResult:
    """The kind's task, its inputs read from the database; a task that cannot be prepared is its
    failed result, which the driver records for every ticker (the per-kind boundary)."""
    try:
        spec = model_spec(settings, kind)
        decision, parent = _decision(settings, factory, pool, spec, force=force, between=between)
    except Exception as exc:  # noqa: BLE001  # the per-kind boundary: a failed result
        return KindResult(kind, pool.as_of, pool.universe, pool.forecast, "?", "", error=failure_text(exc, kind))
    return ModelTask(kind, pool.as_of, pool.universe, pool.histories, pool.forecast, spec, train, decision, parent)


def young(ticker: str, kind: ModelKind, as_of: date, have: int, need: int, calendar: TradingCalendar) -> ModelResult:
    """A ticker with too few bars for `kind` yet (a recent listing): skipped, no failure, with the
    trading day its bar count reaches the need (one bar a trading day from here)."""
    qualifies = calendar.next_trading_days(as_of, need - have)[-1]
    reason = f"{have} bars up to {as_of}, need {need}: forecast from {qualifies}"
    return ModelResult(ticker, kind, as_of, SKIPPED, reason)


def _decision(
    settings: Settings,
    factory: sessionmaker[Session],
    pool: Pool,
    spec: ModelSpec,
    *,
    force: Force,
    between: Between,
) -> tuple[Decision, ParentModel | None]:
    """Apply the policy to the universe's stored versions and read the current version's file if needed."""
    kind, as_of = spec.kind, pool.as_of
    with factory() as session:
        version = latest_version(session, pool.universe, kind, as_of)
        retrain = latest_version(session, pool.universe, kind, as_of, action="retrain")
        # Only the forecasts since the line's last retrain: the old version's drift is answered.
        after = retrain.as_of if retrain else None
        window = settings.drift_window
        ratios = [recent_mae_ratio(session, t, kind, until=as_of, count=window, after=after) for t in pool.forecast]
    known = [r for r in ratios if r is not None]
    decision = decide(
        as_of=as_of,
        version_as_of=version.as_of if version else None,
        retrained_as_of=retrain.as_of if retrain else None,
        spec_changed=version is not None and ModelSpec.from_json(version.spec) != spec,
        force=force,
        retrain_every=settings.retrain_every,
        recent_ratio=float(np.median(known)) if known else None,  # the typical ticker's drift
        drift_threshold=settings.drift_threshold,
        between=between,
    )
    parent: ParentModel | None = None
    if decision.action != "retrain" and version is not None:
        try:
            parent = read_parent(version, settings.data_dir)
        except ModelFileError as exc:
            log.warning("%s over %s: %s; retraining", kind, pool.universe, exc)
            decision = fallback(exc)
    return decision, parent
