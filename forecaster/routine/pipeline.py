"""The daily routine for one as-of date: ingest → load → retrain / fine-tune / reuse → forecast
→ fill actuals → plot → record. The daemon runs it for today; a backfill runs it day by day.

Everything a model sees is read with `until=as_of`. This module opens and closes the run (its
row, the ingest, the calendar, retention); `driver` works through the tickers, then submits each
network kind's step over the training universe as a task to an executor — in this process, or
on a Dask cluster (see `executor`, `tasks`) — and writes each result as it comes back (see
`task_results`). Each write is its own short transaction; none is held open while a network
trains. One (ticker, model) failing is recorded on its run item and the others go on.
"""

import logging
import os
from collections import defaultdict
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import date

from sqlalchemy.orm import Session, sessionmaker

from forecaster import clock
from forecaster.config import Settings
from forecaster.errors import Interrupted
from forecaster.ingest.calendar import prepare_calendar
from forecaster.ingest.listings import not_listed_yet
from forecaster.ingest.sources import BarSource
from forecaster.ingest.universe import universe_tickers
from forecaster.ingest.update import IngestResult, ingest_tickers
from forecaster.market.calendar import TradingCalendar
from forecaster.routine.driver import Driver, RoutineOptions, TickerReport
from forecaster.routine.executor import Executor, LocalExecutor, open_executor
from forecaster.routine.retention import prune_after_run
from forecaster.routine.tasks import timed
from forecaster.storage.db import transaction
from forecaster.storage.runs import close_dead_runs, finish_run, start_run

log = logging.getLogger(__name__)


@dataclass
class RunReport:
    run_id: int
    ingests: list[IngestResult]
    tickers: list[TickerReport]
    timings: dict[str, float]
    # Tickers whose listing is still to come (ticker -> why): not run, and no failure either,
    # else a watch-list holding one fails every evening until it lists.
    waiting: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed_ingests() and all(t.ok for t in self.tickers)

    def failed_ingests(self) -> list[IngestResult]:
        return [i for i in self.ingests if not i.ok and i.ticker not in self.waiting]

    def notes(self, asked: date | None) -> list[str]:
        """One line per ticker forecast as of an earlier day than `asked` (which had no bar), and
        one per ticker suspended or trading again after a suspension (see `TickerReport.note`), or
        whose listing is still to come."""
        moved = [t for t in self.tickers if asked is not None and t.as_of is not None and t.as_of != asked]
        return (
            [f"{t.ticker}: no bar on {asked}; forecast as of {t.as_of}, its newest bar before" for t in moved]
            + [f"{t.ticker}: {t.note}" for t in self.tickers if t.note]
            + [f"{ticker}: {why}" for ticker, why in self.waiting.items()]
        )


def run_routine(
    settings: Settings,
    factory: sessionmaker[Session],
    *,
    tickers: list[str],
    options: RoutineOptions,
    source: BarSource | None,
    today: date,
    command: str = "run",
    executor: Executor | None = None,
    calendar: TradingCalendar | None = None,
) -> RunReport:
    """One full routine over `tickers`; `source=None` skips the ingest step (backfill ingests
    once up front). `executor=None`: the one the settings name, opened for this run only.
    `calendar`: the stored calendar as the caller already prepared it, used when there is no
    ingest (a backfill prepares it once for all its days instead of once a day)."""
    timings: dict[str, float] = defaultdict(float)
    with transaction(factory) as session:
        close_dead_runs(
            session, now=(now := clock.now()), stale_minutes=settings.stale_run_minutes
        )  # rows a killed process left `running`
        run_id = start_run(session, command=command, as_of=options.as_of, tickers=tickers, pid=os.getpid(), now=now).id
    ingests: list[IngestResult] = []
    waiting: dict[str, str] = {}
    # The universe is named after every ticker asked, listed yet or not (see RoutineOptions).
    options = replace(options, universe_of=options.universe_of or tuple(tickers))
    driver = Driver(settings, factory, options, run_id, timings)
    interrupted = False
    try:
        if calendar is None or source is not None:
            calendar = prepare_calendar(settings, factory, today=today, source=source).calendar
        if source is not None:
            with timed(timings, "ingest"):
                universe = universe_tickers(factory, source, settings, tickers, today)
                ingests = ingest_tickers(
                    factory,
                    source,
                    universe,  # the networks train over the universe's others too (an index's constituents)
                    today=today,
                    overlap_days=settings.ingest_overlap_days,
                    calendar=calendar,
                    check_stop=options.check_stop,
                )
            calendar = prepare_calendar(settings, factory, today=today).calendar  # what the bars showed
        waiting = not_listed_yet(factory, tickers, options.as_of or today)
        listed = [t for t in tickers if t not in waiting]
        with _executor_for(settings, options, executor) as chosen:
            driver.run(listed, chosen, calendar)
        if options.prune:  # the versions this run used or made are kept: a backfill's next day reads them
            used = {o.version_id for t in driver.finished_in(listed) for o in t.outcomes if o.version_id}
            with timed(timings, "prune"):
                prune_after_run(settings, factory, used)
    except Interrupted as exc:
        interrupted = True
        exc.run_id = run_id
        raise
    finally:
        listed = [t for t in tickers if t not in waiting]
        report = RunReport(run_id, ingests, driver.finished_in(listed), dict(timings), waiting)
        _finish(factory, report, len(listed), interrupted, "\n".join(report.notes(options.as_of)) or None)
    return report


def _finish(
    factory: sessionmaker[Session], report: RunReport, wanted: int, interrupted: bool, note: str | None
) -> None:
    """The run row's end: its status, every failure in one text, the seconds per step."""
    done = report.tickers
    status = "ok" if report.ok and len(done) == wanted else "partial" if done else "error"
    status = "interrupted" if interrupted else status
    errors = (
        [i.summary() for i in report.failed_ingests()]
        + [f"{t.ticker}: {t.error}" for t in done if t.error]
        + [f"{t.ticker} {o.model}: {o.error}" for t in done for o in t.outcomes if o.error]
    )
    with transaction(factory) as session:
        error = "\n".join(errors) or None
        finish_run(
            session, report.run_id, status=status, error=error, timings=report.timings, now=clock.now(), note=note
        )


def _executor_for(
    settings: Settings, options: RoutineOptions, given: Executor | None
) -> AbstractContextManager[Executor]:
    if given is not None:
        return nullcontext(given)
    if not options.kinds:  # baselines only: no cluster to connect to for nothing
        return nullcontext(LocalExecutor())
    return open_executor(settings)
