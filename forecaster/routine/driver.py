"""The routine's driver for one as-of: for each ticker it reads the bars and writes the baselines;
then it gathers the training universe's bars, prepares one task per network kind, submits it to
the executor, writes each kind's new version once and each ticker's forecast as the kind comes
back, and closes each ticker after its last kind (ensemble, actuals, plots).
`pipeline.run_routine` opens and closes the run around it."""

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date

import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from forecaster import clock
from forecaster.config import Settings, train_spec
from forecaster.errors import Interrupted
from forecaster.ingest.universe import expand_indexes
from forecaster.market.calendar import TradingCalendar
from forecaster.model.spec import BASELINES, ENSEMBLE, Between, ModelKind
from forecaster.routine.baselines_and_ensemble import baseline_points, write_ensemble
from forecaster.routine.executor import Executor
from forecaster.routine.limits import forecast_limits
from forecaster.routine.plots import draw_plots
from forecaster.routine.policy import Force
from forecaster.routine.staleness import delisted_on, gap_since, suspended_since
from forecaster.routine.task_inputs import Pool, prepare_task, universe_key, young
from forecaster.routine.task_results import ModelOutcome, TickerDay, record_forecasts, save_version, store_result
from forecaster.routine.tasks import KindResult, ModelResult, ModelTask, failure_text, timed
from forecaster.storage.bars import load_bars, newest_bar_date
from forecaster.storage.db import transaction
from forecaster.storage.listings import delist_dates
from forecaster.storage.records import fill_actuals
from forecaster.storage.runs import heartbeat

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RoutineOptions:
    kinds: tuple[ModelKind, ...]
    as_of: date | None = None  # None: each ticker's newest bar
    force: Force = None
    seed: int | None = None  # None: the settings' seed
    plots: bool = True
    between: Between | None = None  # between retrains (predict or fine-tune); None: the settings' between_retrains
    prune: bool = True  # apply retention at the end (the caller holds the run lock)
    # The watch-list the versions' universe is named after (None: the tickers run). A backfill
    # runs each day's tickers with a bar but names the whole watch-list: a day one of them has
    # no bar is not another universe (another line of versions, retrained from nothing).
    universe_of: tuple[str, ...] | None = None
    # Asked between tickers and between kinds; True stops the routine with `Interrupted` (the daemon's
    # SIGTERM). A step that has started finishes: every write is its own short transaction.
    should_stop: Callable[[], bool] | None = field(default=None, compare=False)

    def check_stop(self) -> None:
        if self.should_stop is not None and self.should_stop():
            raise Interrupted("stop requested")


@dataclass
class TickerReport:
    ticker: str
    as_of: date | None = None
    last_close: float | None = None
    outcomes: list[ModelOutcome] = field(default_factory=list)
    plots: dict[str, str] = field(default_factory=dict)
    actuals_filled: int = 0
    error: str | None = None
    last_bar: date | None = None  # its newest bar up to the run's day
    suspended_since: date | None = None  # no bar from this trading day to the run's day: not forecast
    delisted_on: date | None = None  # behind, and its listing says it delisted by the run's day
    gap_since: date | None = None  # forecast, but its bar before the last is older than one trading day

    @property
    def note(self) -> str | None:
        """What a reader of its forecasts should know: it is delisted or suspended, or trades again
        after a suspension."""
        if self.delisted_on is not None:
            return f"delisted on {self.delisted_on} (last bar {self.last_bar}); not forecast"
        if self.suspended_since is not None:
            return f"suspended since {self.suspended_since} (last bar {self.last_bar}); not forecast"
        if self.gap_since is not None:
            return f"after a gap since {self.gap_since}"
        return None

    @property
    def ok(self) -> bool:
        return self.error is None and all(o.ok for o in self.outcomes)


@dataclass
class OpenTicker:
    """A ticker whose bars are read and baselines written, waiting for its models' results."""

    report: TickerReport
    bars: pd.DataFrame
    as_of: date
    pending: int
    day: TickerDay  # where its forecasts are written, inside its target days' price limits


class Driver:
    """Opens each ticker (bars, baselines), prepares its model tasks, writes their results in
    whatever order they come back, and closes the ticker (actuals, plots) after its last one."""

    def __init__(
        self,
        settings: Settings,
        factory: sessionmaker[Session],
        options: RoutineOptions,
        run_id: int,
        clock: dict[str, float],
    ) -> None:
        self.settings, self.factory, self.options = settings, factory, options
        self.run_id, self.clock = run_id, clock
        self.train = train_spec(settings, options.seed)
        self.open: dict[str, OpenTicker] = {}
        self.finished: dict[str, TickerReport] = {}

    def run(self, tickers: list[str], executor: Executor, calendar: TradingCalendar) -> None:
        self.calendar, self.asked = calendar, tickers  # the stored calendar: it dates every forecast
        with self.factory() as session:  # the run's day: a ticker without a bar on it is suspended
            self.day = newest_bar_date(session, tickers, until=self.options.as_of) if tickers else None
        for ticker in tickers:
            self.options.check_stop()
            self._open_ticker(ticker)  # its bars read, its baselines written
        if not self.open:
            return
        pool = self._pool()
        # The block's end abandons what is in flight: a stop or an error here writes nothing more.
        with executor.running(self.options.check_stop) as in_flight:
            for kind in self.options.kinds:
                self.options.check_stop()
                task = prepare_task(
                    self.settings,
                    self.factory,
                    kind,
                    pool,
                    force=self.options.force,
                    between=self.options.between or self.settings.between_retrains,
                    train=self.train,
                )  # a task that cannot be prepared: its failed result
                self._record(in_flight.submit(task) if isinstance(task, ModelTask) else iter([task]))
            self._record(in_flight.rest())

    def finished_in(self, tickers: list[str]) -> list[TickerReport]:
        return [self.finished[t] for t in tickers if t in self.finished]

    def _pool(self) -> Pool:
        """The training universe's bars up to the run's day, and the open tickers to forecast; an
        open ticker without a window of bars yet is recorded as young for every kind."""
        assert self.day is not None  # some ticker is open, so some bar is stored
        histories = {t: state.bars for t, state in self.open.items()}
        named = list(self.options.universe_of or self.asked)
        universe = self.settings.training_universe(named)
        with timed(self.clock, "load"), self.factory() as session:
            others = [t for t in universe if t not in named]
            members = expand_indexes(session, others, self.day)  # an index there: its constituents of the day
            # A universe ticker, suspended or not, trains with its history up to the day.
            for code in [t for t in members if t not in histories]:
                bars = load_bars(session, code, until=self.day, adjust="qfq")
                if len(bars):
                    histories[code] = bars
        window = self.settings.window
        forecast = tuple(t for t, state in self.open.items() if len(state.bars) >= window)
        for ticker in [t for t in self.open if t not in forecast]:
            state = self.open[ticker]
            for kind in self.options.kinds:
                self._store(young(ticker, kind, state.as_of, len(state.bars), window, self.calendar))
        return Pool(self.day, universe_key(universe), histories, forecast)

    def _record(self, results: Iterator[KindResult]) -> None:
        """Write each kind's new version once, then each ticker's result, closing a ticker after its last one."""
        for result in results:
            for step, seconds in result.timings.items():
                self.clock[step] += seconds
            version_id = result.version_id
            if result.trained is not None and result.error is None:
                try:
                    version_id = save_version(
                        self.settings, self.factory, result.universe, result.as_of, result.trained, self.train
                    )
                except Exception as exc:  # noqa: BLE001  # the per-kind boundary: every ticker records it
                    result.error = failure_text(exc, f"{result.kind} version")
            for one in result.per_ticker():
                one.version_id = version_id if one.error is None else one.version_id
                self._store(one)

    def _store(self, result: ModelResult) -> None:
        state = self.open[result.ticker]
        outcome = store_result(self.factory, result, state.day, calendar=self.calendar)
        self._done(state, outcome)

    def _open_ticker(self, ticker: str) -> OpenTicker | None:
        report = TickerReport(ticker)
        bars = self._bars(report)
        if bars is None:
            self.finished[ticker] = report
            return None
        newest = report.last_bar
        assert newest is not None  # read with its bars
        last_close = float(bars["close"].iloc[-1])
        report.as_of, report.last_close = newest, last_close
        report.gap_since = gap_since(self.calendar, [d.date() for d in bars.index[-2:]])
        limits = forecast_limits(self.factory, ticker, bars, newest, self.settings.horizon, self.calendar)
        day = TickerDay(ticker, self.run_id, newest, self.settings.target, last_close, limits)
        with timed(self.clock, "forecast"):
            points = baseline_points(bars, newest, self.settings.horizon, self.calendar)
            baselines = [ModelOutcome(name, "baseline", forecast=forecast) for name, forecast in points.items()]
            record_forecasts(self.factory, baselines, day)  # one transaction: a ticker's baselines together
            report.outcomes += baselines
        state = self.open[ticker] = OpenTicker(report, bars, newest, len(self.options.kinds), day)
        if state.pending == 0:
            self._close(state)
        return state

    def _bars(self, report: TickerReport) -> pd.DataFrame | None:
        """The ticker's bars up to its newest one; None for a ticker with none stored (an error)
        or without a bar on the run's day (suspended or delisted: not forecast again from its old bar)."""
        as_of = self.options.as_of
        with timed(self.clock, "load"), self.factory() as session:
            newest = report.last_bar = newest_bar_date(session, report.ticker, until=as_of)
            if newest is None:
                report.error = "no bars stored" + (f" up to {as_of}" if as_of else "") + "; run ingest"
                return None
            report.suspended_since = suspended_since(self.calendar, newest, self.day)
            if report.suspended_since is not None:
                report.delisted_on = delisted_on(delist_dates(session, [report.ticker]).get(report.ticker), self.day)
                log.warning("%s: %s", report.ticker, report.note)
                return None
            # qfq anchored at as_of: equals the raw price at as_of, and stays continuous over dividends.
            return load_bars(session, report.ticker, until=newest, adjust="qfq")

    def _done(self, state: OpenTicker, outcome: ModelOutcome) -> None:
        state.report.outcomes.append(outcome)
        state.pending -= 1
        if state.pending == 0:
            self._close(state)

    def _close(self, state: OpenTicker) -> None:
        report = state.report
        # Results come in any order: sorted first, the ensemble's sum (and last digits) is always one.
        order = [*BASELINES, *self.options.kinds, ENSEMBLE]
        report.outcomes.sort(key=lambda o: order.index(o.model))
        # appends its outcome, last
        write_ensemble(self.factory, report.outcomes, state.day)
        with timed(self.clock, "actuals"), transaction(self.factory) as session:
            report.actuals_filled = fill_actuals(session, report.ticker)
            heartbeat(session, self.run_id, now=clock.now())  # a ticker done: the run is alive
        if self.options.plots:
            with timed(self.clock, "plot"):
                try:
                    assert report.as_of is not None  # only an opened ticker (one with bars) is plotted
                    report.plots = draw_plots(
                        self.settings,
                        self.factory,
                        report.ticker,
                        report.as_of,
                        report.outcomes,
                        state.bars,
                        self.run_id,
                    )
                except OSError as exc:  # a full or read-only disk: the forecasts above are stored
                    report.error = f"plots not written: {exc}"
                    log.error("%s: %s", report.ticker, report.error)
        del self.open[report.ticker]
        self.finished[report.ticker] = report
