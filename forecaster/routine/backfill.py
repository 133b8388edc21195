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
from datetime import date
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from forecaster import clock
from forecaster.config import Settings
from forecaster.ingest.calendar import prepare_calendar
from forecaster.market.calendar import TradingCalendar
from forecaster.reporting.plotting import backfill_figure, save_png
from forecaster.routine.driver import RoutineOptions
from forecaster.routine.executor import Executor, open_executor
from forecaster.routine.pipeline import RunReport, run_routine
from forecaster.routine.retention import prune_after_run
from forecaster.scoring.evaluation import matured_forecasts
from forecaster.storage.bars import bar_days, tickers_with_bar
from forecaster.storage.db import transaction
from forecaster.storage.records import complete_days, record_plot
from forecaster.storage.runs import close_dead_runs

# Days between two retention passes: not every day (a pass is a few queries that a day between
# retrains rarely needs), but often enough that a fine-tuning backfill's files stay bounded.
PRUNE_EVERY = 20


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
        close_dead_runs(session, now=clock.now(), stale_minutes=settings.stale_run_minutes)
    # The calendar's trading days that have bars: a bar on a day the calendar had closed has
    # opened it (`observed`), and an estimated open day without one is no day to replay.
    calendar = prepare_calendar(settings, factory, today=today).calendar
    with factory() as session:
        with_bars = set(bar_days(session, tickers, start, end))
        days = [d for d in calendar.trading_days(start, end) if d in with_bars]
        done = complete_days(session, tickers, options.kinds, start, end)
    report = BackfillReport(days=days, skipped=len(done & set(days)))
    with nullcontext(executor) if executor is not None else open_executor(settings) as chosen:
        for day in days:
            if day in done:
                on_day(day, None, len(days))
            else:
                run = _replay_day(settings, factory, tickers, day, options, today, chosen, calendar)
                report.runs.append(run)
                if options.prune and (len(report.runs) % PRUNE_EVERY == 0 or day == days[-1]):
                    _prune(settings, factory, run)
                on_day(day, run, len(days))
    report.seconds = time.perf_counter() - started
    return report


def _prune(settings: Settings, factory: sessionmaker[Session], last: RunReport) -> None:
    """Retention, keeping the versions the day just replayed used (the next day starts from them)."""
    prune_after_run(settings, factory, {o.version_id for t in last.tickers for o in t.outcomes if o.version_id})


def _replay_day(
    settings: Settings,
    factory: sessionmaker[Session],
    tickers: Sequence[str],
    day: date,
    options: RoutineOptions,
    today: date,
    executor: Executor,
    calendar: TradingCalendar,
) -> RunReport:
    with factory() as session:
        present = tickers_with_bar(session, tickers, day)
    return run_routine(
        settings,
        factory,
        tickers=present,
        options=replace(options, as_of=day, plots=False, prune=False, universe_of=tuple(tickers)),
        source=None,
        today=today,
        command="backfill",
        executor=executor,
        calendar=calendar,  # prepared once above: a replayed day ingests nothing that could change it
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
                now=clock.now(),
            )
        paths.append(str(settings.data_dir / rel))
    return paths
