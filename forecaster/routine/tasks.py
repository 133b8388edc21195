"""One (ticker, model) step as a pure task: retrain, fine-tune or reuse a model, then forecast.

Inputs and outputs are plain picklable values — bars as a DataFrame, model files as bytes with
their sha256 — and the task never opens the database or the data dir. So the same function runs
in-process (the local executor) or on a Dask worker on another machine: the driver reads its
inputs from the database before (`task_inputs`), and writes what it returns after (`task_results`).
"""

import hashlib
import logging
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import keras
import pandas as pd

from forecaster.errors import ForecasterError, ModelFileError
from forecaster.model.conformal import CALIBRATION_KEY, Calibration, from_scaler_params
from forecaster.model.files import adam_from_bytes, model_bytes
from forecaster.model.forecasting import ValidationSeries, model_quantiles
from forecaster.model.kinds import ModelKind
from forecaster.model.resident import load_version
from forecaster.model.scaling import Scaler, scaler_from_params
from forecaster.model.spec import ModelSpec, TrainSpec
from forecaster.model.training import Fitted, TrainingStats, fine_tune, train_new
from forecaster.routine.policy import Decision

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ParentModel:
    """The version a fine-tune or a reuse starts from, as the driver read it."""

    version_id: int
    path: str  # relative to the data dir; for messages only
    data: bytes  # the `.keras` file
    sha256: str  # as recorded when the file was written
    scaler: dict[str, Any]
    spec: ModelSpec


@dataclass(frozen=True)
class ModelTask:
    ticker: str
    kind: ModelKind
    as_of: date
    bars: pd.DataFrame  # qfq bars up to as_of, oldest first
    spec: ModelSpec  # what a retrain builds (the settings' spec)
    train: TrainSpec
    decision: Decision
    parent: ParentModel | None = None  # None: retrain

    @property
    def label(self) -> str:
        return f"{self.ticker} {self.kind}"


@dataclass(frozen=True)
class TrainedModel:
    """A new version for the driver to write: the file's bytes and its row's metadata."""

    data: bytes
    sha256: str
    spec: ModelSpec
    scaler: dict[str, Any]  # the scaler's parameters and, for a quantile network, its calibration
    action: str  # retrain | finetune
    parent_id: int | None
    stats: TrainingStats


@dataclass
class ModelResult:
    ticker: str
    kind: ModelKind
    as_of: date
    action: str
    reason: str
    spec: ModelSpec | None = None  # the spec the forecast was made with
    forecast: list[float] = field(default_factory=list)  # (horizon,) in price units
    # (horizon, len(QUANTILE_LEVELS)) calibrated prices from a quantile network; None from a point one.
    quantiles: list[list[float]] | None = None
    version_id: int | None = None  # the version used as it is (reuse)
    trained: TrainedModel | None = None  # a new version, written by the driver even if the forecast failed
    validation: ValidationSeries | None = None
    error: str | None = None
    timings: dict[str, float] = field(default_factory=dict)  # worker seconds per step
    seconds: float = 0.0

    @classmethod
    def of(cls, task: ModelTask, error: str | None = None) -> "ModelResult":
        """`task`'s result as decided before it ran; with `error`, the result of a task that never
        returned (its workers kept dying, say)."""
        d = task.decision
        return cls(task.ticker, task.kind, task.as_of, d.action, d.reason, error=error)


def fallback(exc: ModelFileError) -> Decision:
    """A version whose file cannot be trusted is not used: the model is retrained instead."""
    return Decision("retrain", f"{exc}; retrained")


def failure_text(exc: Exception, label: str) -> str:
    """An error as recorded on its run item; a bug (not a ForecasterError) is logged with its
    traceback, where it happened. An OSError (a full or read-only disk) is no bug: one line, its
    traceback only at -vv."""
    if isinstance(exc, OSError):
        log.error("%s failed: %s", label, exc)
        log.debug("%s", traceback.format_exc())
    elif not isinstance(exc, ForecasterError):
        log.error("%s failed:\n%s", label, traceback.format_exc())
    return str(exc) or type(exc).__name__


def run_model_task(task: ModelTask) -> ModelResult:
    """The task function: never raises for a failure of this (ticker, model); it is returned."""
    started = time.perf_counter()
    result = ModelResult.of(task)
    try:
        model, scaler, spec, calibration = _model_for(task, result)
        with timed(result.timings, "forecast"):
            values, quantiles = model_quantiles(model, scaler, task.bars, spec, calibration)
        result.spec, result.forecast = spec, [float(v) for v in values]
        result.quantiles = None if quantiles is None else quantiles.tolist()
    except Exception as exc:  # noqa: BLE001  # the per-(ticker, model) boundary: returned, then recorded
        result.error = failure_text(exc, task.label)
    finally:
        # Everything the task built is in `result` as bytes. A retrain built a new network, whose
        # Keras global state (layer names, graph state) would pile up over months in a daemon or a
        # backfill: cleared, without its gc.collect() (0.3-0.5 s; Python's own collector frees the
        # model). Not after a reuse or a fine-tune, which build nothing (the resident networks and
        # the trainers are reused): clear_session also empties TensorFlow's kernel cache, and the
        # next traced call then re-creates its kernels: measured 0.52 s against 0.04 s for one
        # window's forecast, three times a backfilled day.
        if result.action == "retrain" or task.spec.members > 1:  # averaged members load as new models
            with timed(result.timings, "release"):
                keras.backend.clear_session(free_memory=False)
    result.seconds = time.perf_counter() - started
    return result


def _model_for(task: ModelTask, result: ModelResult) -> tuple[keras.Model, Scaler, ModelSpec, Calibration | None]:
    """Reuse, fine-tune or retrain as decided; a new version's bytes go into `result.trained`.
    A reused version keeps its stored calibration; a new one brings its own."""
    parent = task.parent
    if parent is not None and task.decision.action != "retrain":
        try:
            with timed(result.timings, "model_load"):
                model = load_version(parent.spec, parent.data, parent.sha256, name=parent.path)
                # Only a fine-tune reads the Adam state (None from a file saved without one).
                adam = adam_from_bytes(parent.data, name=parent.path) if task.decision.action == "finetune" else None
        except ModelFileError as exc:
            log.warning("%s: %s; retraining", task.label, exc)
            retrain = fallback(exc)
            result.action, result.reason = retrain.action, retrain.reason
        else:
            scaler = scaler_from_params(parent.scaler)
            if task.decision.action == "reuse":
                result.version_id = parent.version_id
                return model, scaler, parent.spec, from_scaler_params(parent.scaler)
            with timed(result.timings, "train"):
                fitted = fine_tune(
                    model, scaler, task.bars, parent.spec, task.train, label=f"{task.label} fine-tune", adam=adam
                )
            _add_new_version(result, fitted, parent.spec, "finetune", parent.version_id)
            return fitted.model, fitted.scaler, parent.spec, fitted.calibration
    with timed(result.timings, "train"):
        fitted = train_new(task.bars, task.spec, task.train, label=f"{task.label} train")
    _add_new_version(result, fitted, task.spec, "retrain", None)
    return fitted.model, fitted.scaler, task.spec, fitted.calibration


def _add_new_version(result: ModelResult, fitted: Fitted, spec: ModelSpec, action: str, parent_id: int | None) -> None:
    """The fitted network as a new version on `result` (file bytes, row metadata) for the driver."""
    with timed(result.timings, "save"):
        data = model_bytes(fitted.model, fitted.adam)  # the Adam state goes with it: its fine-tune continues it
    result.validation = ValidationSeries(fitted.val_dates, fitted.val_actual, fitted.val_predicted)
    result.trained = TrainedModel(
        data=data,
        sha256=hashlib.sha256(data).hexdigest(),
        spec=spec,
        scaler=stored_params(fitted),
        action=action,
        parent_id=parent_id,
        stats=fitted.stats,
    )


def stored_params(fitted: Fitted) -> dict[str, Any]:
    """What a version stores as its scaler parameters: the scaler's, plus the calibration, so a
    reloaded or fine-tuned version has the offsets of the slice it was calibrated on."""
    params = fitted.scaler.params()
    if fitted.calibration is not None:
        params[CALIBRATION_KEY] = fitted.calibration.to_params()
    return params


@contextmanager
def timed(timings: dict[str, float], step: str) -> Iterator[None]:
    """Add the seconds spent in the block to `timings[step]` (steps are summed over models)."""
    started = time.perf_counter()
    try:
        yield
    finally:
        timings[step] = timings.get(step, 0.0) + time.perf_counter() - started
