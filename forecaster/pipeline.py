"""The daily routine for one as-of date: ingest → load → retrain / fine-tune / reuse → forecast
→ fill actuals → plot → record. The daemon runs it for today; a backfill runs it day by day.

Everything a model sees is read with `until=as_of`. Each write is its own short transaction;
none is held open while a network trains. One (ticker, model) failing is recorded on its run
item and the others go on.
"""

import logging
import os
import time
import traceback
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import keras
import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from forecaster.config import Settings
from forecaster.db import transaction
from forecaster.errors import ForecasterError, Interrupted, ModelFileError
from forecaster.forecasting import Point, drift_forecast, model_forecast, naive_forecast, points
from forecaster.ingest import IngestResult, ingest_ticker
from forecaster.plotting import ValidationSeries, forecast_figure, save_png, validation_figure
from forecaster.policy import Between, Decision, Force, decide
from forecaster.records import (
    add_run_item,
    close_dead_runs,
    fill_actuals,
    finish_run,
    recent_mae_ratio,
    record_plot,
    start_run,
    write_forecasts,
)
from forecaster.registry import add_version, latest_version, load_version, save_file
from forecaster.scaling import Scaler
from forecaster.schema import Bar, RunItem
from forecaster.sources import BarSource
from forecaster.spec import BASELINES, ModelSpec, TrainSpec, model_spec, train_spec
from forecaster.store import load_bars
from forecaster.training import Fitted, fine_tune, train_new

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RoutineOptions:
    kinds: tuple[str, ...]
    as_of: date | None = None  # None: each ticker's newest bar
    force: Force = None
    seed: int | None = None  # None: the settings' seed
    plots: bool = True
    between: Between = "finetune"  # between retrains: fine-tune, or predict with the version as is
    # Asked between (ticker, model) steps; True stops the routine with `Interrupted` (the daemon's
    # SIGTERM). A step that has started finishes: every write is its own short transaction.
    should_stop: Callable[[], bool] | None = field(default=None, compare=False)

    def check_stop(self) -> None:
        if self.should_stop is not None and self.should_stop():
            raise Interrupted("stop requested")


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

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class TickerReport:
    ticker: str
    as_of: date | None = None
    last_close: float | None = None
    outcomes: list[ModelOutcome] = field(default_factory=list)
    plots: dict[str, str] = field(default_factory=dict)
    actuals_filled: int = 0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and all(o.ok for o in self.outcomes)


@dataclass
class RunReport:
    run_id: int
    ingests: list[IngestResult]
    tickers: list[TickerReport]
    timings: dict[str, float]

    @property
    def ok(self) -> bool:
        return all(i.ok for i in self.ingests) and all(t.ok for t in self.tickers)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class _Clock:
    """Seconds spent per step, summed over tickers and models, for the run row."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - started


def run_routine(
    settings: Settings,
    factory: sessionmaker[Session],
    *,
    tickers: list[str],
    options: RoutineOptions,
    source: BarSource | None,
    today: date,
    command: str = "run",
) -> RunReport:
    """One full routine over `tickers`; `source=None` skips the ingest step (backfill ingests
    once up front)."""
    clock = _Clock()
    with transaction(factory) as session:
        close_dead_runs(session, now=_now())  # rows a killed process left `running`
        run_id = start_run(
            session, command=command, as_of=options.as_of, tickers=tickers, pid=os.getpid(), now=_now()
        ).id
    ingests: list[IngestResult] = []
    reports: list[TickerReport] = []
    interrupted = False
    try:
        if source is not None:
            with clock.step("ingest"):
                for t in tickers:
                    options.check_stop()
                    ingests.append(
                        ingest_ticker(factory, source, t, today=today, overlap_days=settings.ingest_overlap_days)
                    )
        for t in tickers:
            options.check_stop()
            reports.append(_run_ticker(settings, factory, t, options, run_id, clock))
    except Interrupted as exc:
        interrupted = True
        exc.run_id = run_id
        raise
    finally:
        report = RunReport(run_id, ingests, reports, dict(clock.seconds))
        status = "ok" if report.ok and len(reports) == len(tickers) else "partial" if reports else "error"
        status = "interrupted" if interrupted else status
        errors = (
            [i.summary() for i in ingests if not i.ok]
            + [f"{t.ticker}: {t.error}" for t in reports if t.error]
            + [f"{t.ticker} {o.model}: {o.error}" for t in reports for o in t.outcomes if o.error]
        )
        with transaction(factory) as session:
            finish_run(
                session, run_id, status=status, error="\n".join(errors) or None, timings=report.timings, now=_now()
            )
    return report


def _run_ticker(
    settings: Settings,
    factory: sessionmaker[Session],
    ticker: str,
    options: RoutineOptions,
    run_id: int,
    clock: _Clock,
) -> TickerReport:
    report = TickerReport(ticker)
    with clock.step("load"), factory() as session:
        newest = session.scalar(
            select(func.max(Bar.trade_date)).where(
                Bar.ticker == ticker, *([Bar.trade_date <= options.as_of] if options.as_of else [])
            )
        )
        if newest is None:
            report.error = "no bars stored" + (f" up to {options.as_of}" if options.as_of else "") + "; run ingest"
            return report
        report.as_of = newest
        # qfq anchored at as_of: equals the raw price at as_of, and stays continuous over dividends.
        bars = load_bars(session, ticker, until=newest, adjust="qfq")
    report.last_close = float(bars["close"].iloc[-1])
    train = train_spec(settings, options.seed)
    with clock.step("forecast"):
        baselines = {"naive": naive_forecast(bars, settings.horizon), "drift": drift_forecast(bars, settings.horizon)}
        for name in BASELINES:
            outcome = ModelOutcome(name, "baseline", forecast=points(newest, baselines[name]))
            report.outcomes.append(outcome)
            _record_forecast(factory, ticker, outcome, run_id, newest, settings.target, report.last_close)
    for kind in options.kinds:
        options.check_stop()
        report.outcomes.append(
            _run_model(settings, factory, ticker, kind, bars, newest, options, train, run_id, report.last_close, clock)
        )
    with clock.step("actuals"), transaction(factory) as session:
        report.actuals_filled = fill_actuals(session, ticker)
    if options.plots:
        with clock.step("plot"):
            try:
                report.plots = _plots(settings, factory, ticker, newest, bars, report, run_id)
            except OSError as exc:  # a full or read-only disk: the forecasts above are stored
                report.error = f"plots not written: {exc}"
                log.error("%s: %s", ticker, report.error)
    return report


def _run_model(
    settings: Settings,
    factory: sessionmaker[Session],
    ticker: str,
    kind: str,
    bars: pd.DataFrame,
    as_of: date,
    options: RoutineOptions,
    train: TrainSpec,
    run_id: int,
    last_close: float,
    clock: _Clock,
) -> ModelOutcome:
    started = time.perf_counter()
    outcome = ModelOutcome(kind, "?")
    try:
        spec = model_spec(settings, kind)
        needed = spec.window + spec.horizon + 20
        if len(bars) < needed:
            raise ForecasterError(f"{len(bars)} bars up to {as_of} are too few (need {needed})")
        chosen = _model_for(settings, factory, ticker, spec, bars, as_of, options, train, clock)
        outcome.action, outcome.reason = chosen.decision.action, chosen.decision.reason
        outcome.version_id = chosen.version_id
        if chosen.fitted is not None:
            f = chosen.fitted
            outcome.validation = ValidationSeries(f.val_dates, f.val_actual, f.val_predicted)
        with clock.step("forecast"):
            outcome.forecast = points(as_of, model_forecast(chosen.model, chosen.scaler, bars, chosen.spec))
        _record_forecast(factory, ticker, outcome, run_id, as_of, chosen.spec.target, last_close)
    except Exception as exc:  # noqa: BLE001  # the per-(ticker, model) boundary: record and go on
        outcome.error = str(exc) or type(exc).__name__
        if not isinstance(exc, ForecasterError):
            log.error("%s %s failed:\n%s", ticker, kind, traceback.format_exc())
    finally:
        outcome.seconds = time.perf_counter() - started
        _record_item(factory, run_id, ticker, outcome)
    return outcome


@dataclass
class _Chosen:
    """The model a forecast is made with, and how it came to be."""

    model: keras.Model
    scaler: Scaler
    spec: ModelSpec
    decision: Decision
    version_id: int
    fitted: Fitted | None = None  # None when an existing version was reused as it is


def _model_for(
    settings: Settings,
    factory: sessionmaker[Session],
    ticker: str,
    spec: ModelSpec,
    bars: pd.DataFrame,
    as_of: date,
    options: RoutineOptions,
    train: TrainSpec,
    clock: _Clock,
) -> _Chosen:
    """Apply the policy: reuse, fine-tune or retrain, saving a new version for the latter two."""
    with factory() as session:
        version = latest_version(session, ticker, spec.kind, as_of)
        ratio = recent_mae_ratio(session, ticker, spec.kind, until=as_of, count=settings.drift_window)
    decision = decide(
        as_of=as_of,
        version_as_of=version.as_of if version else None,
        spec_changed=version is not None and ModelSpec.from_json(version.spec) != spec,
        force=options.force,
        retrain_every=settings.retrain_every,
        recent_ratio=ratio,
        drift_threshold=settings.drift_threshold,
        between=options.between,
    )
    label = f"{ticker} {spec.kind}"
    if decision.action != "retrain" and version is not None:
        try:
            model, scaler, stored_spec = load_version(version, settings.data_dir)
        except ModelFileError as exc:
            log.warning("%s: %s; retraining", label, exc)
            decision = Decision("retrain", f"{exc}; retrained")
        else:
            if decision.action == "reuse":
                return _Chosen(model, scaler, stored_spec, decision, version.id)
            with clock.step("train"):
                fitted = fine_tune(model, scaler, bars, stored_spec, train, label=f"{label} fine-tune")
            new_id = _save(settings, factory, ticker, stored_spec, train, fitted, as_of, "finetune", version.id)
            return _Chosen(fitted.model, fitted.scaler, stored_spec, decision, new_id, fitted)
    with clock.step("train"):
        fitted = train_new(bars, spec, train, label=f"{label} train")
    new_id = _save(settings, factory, ticker, spec, train, fitted, as_of, "retrain", None)
    return _Chosen(fitted.model, fitted.scaler, spec, decision, new_id, fitted)


def _save(
    settings: Settings,
    factory: sessionmaker[Session],
    ticker: str,
    spec: ModelSpec,
    train: TrainSpec,
    fitted: Fitted,
    as_of: date,
    action: str,
    parent_id: int | None,
) -> int:
    """File first, then its row (see registry.save_file); returns the new version's id."""
    saved = save_file(settings.data_dir, ticker, spec.kind, as_of, fitted.model)
    with transaction(factory) as session:
        version = add_version(
            session,
            ticker=ticker,
            spec=spec,
            train=train,
            fitted=fitted,
            saved=saved,
            as_of=as_of,
            action=action,
            parent_id=parent_id,
            now=_now(),
        )
        return version.id


def _record_forecast(
    factory: sessionmaker[Session],
    ticker: str,
    outcome: ModelOutcome,
    run_id: int,
    as_of: date,
    target: str,
    last_close: float,
) -> None:
    with transaction(factory) as session:
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
            now=_now(),
        )


def _record_item(factory: sessionmaker[Session], run_id: int, ticker: str, outcome: ModelOutcome) -> None:
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


def _plots(
    settings: Settings,
    factory: sessionmaker[Session],
    ticker: str,
    as_of: date,
    bars: pd.DataFrame,
    report: TickerReport,
    run_id: int,
) -> dict[str, str]:
    figures = {
        "forecast": forecast_figure(
            ticker,
            as_of,
            bars[settings.target],
            {o.model: o.forecast for o in report.outcomes if o.ok and o.forecast},
            settings.target,
        )
    }
    validation = {o.model: o.validation for o in report.outcomes if o.validation is not None}
    if validation:
        figures["validation"] = validation_figure(ticker, as_of, validation)
    paths: dict[str, str] = {}
    for kind, fig in figures.items():
        rel = Path("plots") / ticker / f"{as_of.isoformat()}-{kind}.png"
        save_png(fig, settings.data_dir / rel)
        paths[kind] = rel.as_posix()
        with transaction(factory) as session:
            record_plot(session, ticker=ticker, as_of=as_of, kind=kind, path=rel.as_posix(), run_id=run_id, now=_now())
    return paths
