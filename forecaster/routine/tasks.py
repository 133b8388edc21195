"""One network kind's step as a pure task: retrain, fine-tune or reuse the universe's version,
then forecast every watch-list ticker in one batched predict.

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
import numpy as np
import pandas as pd

from forecaster.errors import ForecasterError, ModelFileError
from forecaster.model.files import adam_from_bytes, model_bytes
from forecaster.model.forecasting import ValidationSeries, non_finite, window_forecasts
from forecaster.model.intervals import CALIBRATION_KEY, Calibration, from_scaler_params
from forecaster.model.resident import load_version
from forecaster.model.scaling import Scaler, scaler_from_params
from forecaster.model.spec import ModelKind, ModelSpec, TrainSpec
from forecaster.model.training import Fitted, TrainingStats, fine_tune, train_new
from forecaster.model.windows import FloatArray, last_window
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
    """One network kind's step for a run's day: retrain, fine-tune or reuse the one version over
    the training universe, then forecast every ticker asked from its newest window."""

    kind: ModelKind
    as_of: date
    universe: str  # the versions' key: one line of versions per (universe, kind)
    histories: dict[str, pd.DataFrame]  # each universe ticker's qfq bars up to as_of, oldest first
    forecast: tuple[str, ...]  # the tickers forecast (the watch-list's, each with a window of bars)
    spec: ModelSpec  # what a retrain builds (the settings' spec)
    train: TrainSpec
    decision: Decision
    parent: ParentModel | None = None  # None: retrain

    @property
    def label(self) -> str:
        return f"{self.kind} over {len(self.histories)} ticker(s)"


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
    version_id: int | None = None  # the version the forecast was made with
    validation: ValidationSeries | None = None
    error: str | None = None
    timings: dict[str, float] = field(default_factory=dict)  # worker seconds per step
    seconds: float = 0.0


@dataclass
class KindResult:
    """What a kind's task brings back: the new version, if it made one, and each ticker's result."""

    kind: ModelKind
    as_of: date
    universe: str
    asked: tuple[str, ...]  # the tickers to forecast
    action: str
    reason: str
    trained: TrainedModel | None = None  # written once by the driver, then cited by every forecast
    version_id: int | None = None  # the version used as it is (reuse)
    tickers: list[ModelResult] = field(default_factory=list)
    error: str | None = None  # the whole task failed: every ticker's result carries it
    timings: dict[str, float] = field(default_factory=dict)  # worker seconds per step
    seconds: float = 0.0

    @classmethod
    def of(cls, task: ModelTask, error: str | None = None) -> "KindResult":
        """`task`'s result as decided before it ran; with `error`, the result of a task that never
        returned (its workers kept dying, say)."""
        d = task.decision
        return cls(task.kind, task.as_of, task.universe, task.forecast, d.action, d.reason, error=error)

    def per_ticker(self) -> list[ModelResult]:
        """One result per ticker asked: its forecast, or the task's error."""
        if self.error is not None or not self.tickers:
            error = self.error or "no forecast came back"
            return [ModelResult(t, self.kind, self.as_of, self.action, self.reason, error=error) for t in self.asked]
        return self.tickers


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


def run_model_task(task: ModelTask) -> KindResult:
    """The task function: never raises for a failure of this kind's step; it is returned."""
    started = time.perf_counter()
    result = KindResult.of(task)
    try:
        model, scaler, spec, calibration, fitted = _model_for(task, result)
        with timed(result.timings, "forecast"):
            result.tickers = _forecasts(task, result, (model, scaler, spec, calibration), fitted)
    except Exception as exc:  # noqa: BLE001  # the per-(kind) boundary: returned, then recorded per ticker
        result.error = failure_text(exc, task.label)
    finally:
        # Everything the task built is in `result` as bytes. A retrain built a new network, whose
        # Keras global state (layer names, graph state) would pile up over months in a daemon or a
        # backfill: cleared, without its gc.collect() (0.3-0.5 s; Python's own collector frees the
        # model). Not after a reuse or a fine-tune, which build nothing (the resident networks and
        # the trainers are reused): clear_session also empties TensorFlow's kernel cache, and the
        # next traced call then re-creates its kernels.
        if result.action == "retrain" or task.spec.members > 1:  # averaged members load as new models
            with timed(result.timings, "release"):
                keras.backend.clear_session(free_memory=False)
    result.seconds = time.perf_counter() - started
    return result


Usable = tuple[keras.Model, Scaler, ModelSpec, Calibration | None]


def _forecasts(task: ModelTask, result: KindResult, usable: Usable, fitted: Fitted | None) -> list[ModelResult]:
    """Every asked ticker's forecast from one batched predict over their newest windows."""
    model, scaler, spec, calibration = usable
    codes = list(task.forecast)
    x = np.concatenate([last_window(_features(task.histories[c], spec), window=spec.window) for c in codes])
    values, quantiles = window_forecasts(model, scaler, x, calibration)  # (tickers, horizon[, levels])
    out = []
    for i, code in enumerate(codes):
        one = ModelResult(code, task.kind, task.as_of, result.action, result.reason, spec=spec)
        one.version_id = result.version_id
        one.error = non_finite(spec.kind, values[i], None if quantiles is None else quantiles[i])
        if one.error is None:
            one.forecast = [float(v) for v in values[i]]
            one.quantiles = None if quantiles is None else quantiles[i].tolist()
        if fitted is not None:
            one.validation = ValidationSeries(*fitted.validation_of(code))
        out.append(one)
    return out


def _features(bars: pd.DataFrame, spec: ModelSpec) -> FloatArray:
    return bars[list(spec.features)].to_numpy(dtype="float64")


def _model_for(
    task: ModelTask, result: KindResult
) -> tuple[keras.Model, Scaler, ModelSpec, Calibration | None, Fitted | None]:
    """Reuse, fine-tune or retrain as decided; a new version's bytes go into `result.trained`.
    A reused or fine-tuned version keeps its stored calibration; a retrained one brings its own."""
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
                return model, scaler, parent.spec, from_scaler_params(parent.scaler), None
            with timed(result.timings, "train"):
                fitted = fine_tune(
                    model, scaler, task.histories, parent.spec, task.train, label=f"{task.label} fine-tune", adam=adam
                )
            # The parent's offsets, not the fine-tune's own: its validation slice is a few newest
            # days (all tickers share them), too few and too alike to set an interval's width;
            # recomputed there they widened the pooled bands (docs/models.md measures it).
            fitted.calibration = from_scaler_params(parent.scaler)
            _add_new_version(result, fitted, parent.spec, "finetune", parent.version_id)
            return fitted.model, fitted.scaler, parent.spec, fitted.calibration, fitted
    with timed(result.timings, "train"):
        fitted = train_new(task.histories, task.spec, task.train, label=f"{task.label} train")
    _add_new_version(result, fitted, task.spec, "retrain", None)
    return fitted.model, fitted.scaler, task.spec, fitted.calibration, fitted


def _add_new_version(result: KindResult, fitted: Fitted, spec: ModelSpec, action: str, parent_id: int | None) -> None:
    """The fitted network as a new version on `result` (file bytes, row metadata) for the driver."""
    with timed(result.timings, "save"):
        data = model_bytes(fitted.model, fitted.adam)  # the Adam state goes with it: its fine-tune continues it
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
