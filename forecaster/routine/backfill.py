"""Backfill: the daily routine replayed over past as-of dates, as the daemon would have run it.

Each day reads nothing after itself, so the result is a walk-forward evaluation and, at the
same time, the history of forecasts the job would have written. Days whose forecasts are all
stored are skipped, so an interrupted backfill resumes where it stopped and a finished range
adds nothing; a day cut short is simply run again (each of its writes is idempotent).
"""

import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, sessionmaker

from forecaster.config import Settings
from forecaster.model.spec import BASELINES, ENSEMBLE
from forecaster.reporting.plotting import backfill_figure, save_png
from forecaster.routine.executor import Executor, open_executor
from forecaster.routine.pipeline import RoutineOptions, RunReport, run_routine
from forecaster.scoring.evaluation import matured_forecasts
from forecaster.storage.db import transaction
from forecaster.storage.records import close_dead_runs, record_plot
from forecaster.storage.schema import Bar, Forecast


@dataclass
class BackfillReport:
    days: list[date]
    skipped: int = 0  # days already complete before this call
    runs: list[RunReport] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failures(self) -> list[str]:
        return [
            f"{t.as_of or '?'} {t.ticker} {o.model}: {o.error}"
            for r in self.runs
            for t in r.tickers
            for o in t.outcomes
            if o.error
        ] + [f"{t.ticker}: {t.error}" for r in self.runs for t in r.tickers if t.error]

    @property
    def ok(self) -> bool:
        return not self.failures


def bar_days(session: Session, tickers: Sequence[str], start: date, end: date) -> list[date]:
    """The days in [start, end] on which at least one of the tickers has a bar."""
    return list(
        session.scalars(
            select(Bar.trade_date)
            .where(Bar.ticker.in_(list(tickers)), Bar.trade_date.between(start, end))
            .distinct()
            .order_by(Bar.trade_date)
        )
    )


def complete_days(session: Session, tickers: Sequence[str], kinds: Sequence[str], start: date, end: date) -> set[date]:
    """Days on which every (ticker with a bar, model) has its forecasts stored, and the ensemble
    too where a network forecast quantiles that day (it is written after the last network)."""
    wanted = len(kinds) + len(BASELINES)
    quantiled = Forecast.model.in_(list(kinds)) & Forecast.q500.is_not(None)
    per_ticker = (
        select(
            Forecast.as_of,
            Forecast.ticker,
            func.count(case((Forecast.model != ENSEMBLE, Forecast.model)).distinct()).label("models"),
            func.sum(case((quantiled, 1), else_=0)).label("quantiled"),
            func.sum(case((Forecast.model == ENSEMBLE, 1), else_=0)).label("ensembles"),
        )
        .where(
            Forecast.ticker.in_(list(tickers)),
            Forecast.as_of.between(start, end),
            Forecast.model.in_([*kinds, *BASELINES, ENSEMBLE]),
        )
        .group_by(Forecast.as_of, Forecast.ticker)
        .subquery()
    )
    c = per_ticker.c
    whole = (c.models == wanted) & ((c.quantiled == 0) | (c.ensembles > 0))
    done = select(c.as_of, func.count()).where(whole).group_by(c.as_of)
    bars_per_day = dict(
        session.execute(
            select(Bar.trade_date, func.count())
            .where(Bar.ticker.in_(list(tickers)), Bar.trade_date.between(start, end))
            .group_by(Bar.trade_date)
        ).all()
    )
    return {day for day, n in session.execute(done).all() if n >= bars_per_day.get(day, 0)}


def backfill(
    settings: Settings,
    factory: sessionmaker[Session],
    *,
    tickers: Sequence[str],
    start: date,
    end: date,
    options: RoutineOptions,
    today: date,
    on_day: Callable[[date, RunReport | None, int], None] = lambda day, report, total: None,
    executor: Executor | None = None,
) -> BackfillReport:
    """Run the routine as of every stored bar day in [start, end] that is not complete yet.

    `executor=None`: the one the settings name, opened once for the whole range (a Dask cluster's
    workers keep TensorFlow loaded from one day to the next)."""
    started = time.perf_counter()
    with transaction(factory) as session:
        # A killed earlier backfill may have finished its last day but not its run row.
        close_dead_runs(session, now=datetime.now(UTC).replace(tzinfo=None))
    with factory() as session:
        days = bar_days(session, tickers, start, end)
        done = complete_days(session, tickers, options.kinds, start, end)
    report = BackfillReport(days=days, skipped=len(done & set(days)))
    with nullcontext(executor) if executor is not None else open_executor(settings) as chosen:
        for day in days:
            if day in done:
                on_day(day, None, len(days))
            else:
                run = _replay_day(settings, factory, tickers, day, options, today, chosen)
                report.runs.append(run)
                on_day(day, run, len(days))
    report.seconds = time.perf_counter() - started
    return report


def _replay_day(
    settings: Settings,
    factory: sessionmaker[Session],
    tickers: Sequence[str],
    day: date,
    options: RoutineOptions,
    today: date,
    executor: Executor,
) -> RunReport:
    with factory() as session:
        present = list(session.scalars(select(Bar.ticker).where(Bar.ticker.in_(list(tickers)), Bar.trade_date == day)))
    return run_routine(
        settings,
        factory,
        tickers=present,
        options=replace(options, as_of=day, plots=False),
        source=None,
        today=today,
        command="backfill",
        executor=executor,
    )


def backfill_plot(
    settings: Settings, factory: sessionmaker[Session], tickers: Sequence[str], start: date, end: date
) -> list[str]:
    """One figure per ticker: one-day-ahead forecasts vs actual over the range, with naive."""
    paths: list[str] = []
    for ticker in tickers:
        with factory() as session:
            frame = matured_forecasts(session, tickers=[ticker], since=start, until=end)
        frame = frame[(frame["horizon"] == 1) & (frame["as_of"] >= start) & (frame["as_of"] <= end)]
        if frame.empty:
            continue
        fig = backfill_figure(ticker, frame, f"one day ahead, as of {start}..{end}")
        rel = Path("plots") / ticker / f"backfill-{start.isoformat()}-{end.isoformat()}.png"
        save_png(fig, settings.data_dir / rel)
        with transaction(factory) as session:
            record_plot(
                session,
                ticker=ticker,
                as_of=end,
                kind=f"backfill-{start.isoformat()}",
                path=rel.as_posix(),
                run_id=None,
                now=datetime.now(UTC).replace(tzinfo=None),
            )
        paths.append(str(settings.data_dir / rel))
    return paths
