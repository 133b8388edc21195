"""The ingest step: fetch → validate → write, one transaction per ticker, one log row each."""

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from forecaster import clock
from forecaster.config import Settings
from forecaster.errors import ForecasterError
from forecaster.ingest.bydate import Prepared, fetch_by_date, overlap_start
from forecaster.ingest.calendar import prepare_calendar
from forecaster.ingest.listings import prepare_listings
from forecaster.ingest.sources import BarSource, Fetched
from forecaster.ingest.validate import validate_bars
from forecaster.market.calendar import TradingCalendar
from forecaster.storage.bars import (
    WriteCounts,
    add_ingest_log,
    newest_bar_date,
    oldest_bar_date,
    upsert_bars,
    upsert_factors,
)
from forecaster.storage.calendar import correct_target_dates, load_calendar, observe_closed, observe_open
from forecaster.storage.db import transaction
from forecaster.storage.limits import upsert_limit_prices
from forecaster.storage.schema import IngestLog

log = logging.getLogger(__name__)


@dataclass
class IngestResult:
    ticker: str
    source: str
    start: date | None
    end: date
    ok: bool = False
    counts: WriteCounts = field(default_factory=WriteCounts)
    factors: int = 0
    limits: int = 0  # days with the exchange's limit prices (stk_limit)
    closed_days: list[date] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    fetch_seconds: float = 0.0
    write_seconds: float = 0.0

    def summary(self) -> str:
        span = f"{self.start or 'all'}..{self.end}"
        if not self.ok:
            return f"{self.ticker}: FAILED ({self.source}, {span}): {self.error}"
        c = self.counts
        text = (
            f"{self.ticker}: {c.new} new, {c.changed} revised, {c.unchanged} unchanged bars "
            f"from {self.source} ({span}); {self.factors} adj factors"
        )
        text += f"; {self.limits} limit prices" if self.limits else ""
        if self.closed_days:
            text += f"; {len(self.closed_days)} bar(s) on days the calendar says were closed"
        for note in self.notes:
            text += f"; {note}"
        for warning in self.warnings:
            text += f"; warning: {warning}"
        return text


def incremental_start(session: Session, ticker: str, overlap_days: int, calendar: TradingCalendar) -> date | None:
    """Where an incremental ingest starts: a few trading days before the last stored bar, so
    revised bars are caught; None when nothing is stored yet (the source's own default)."""
    last = newest_bar_date(session, ticker)
    return None if last is None else overlap_start(last, overlap_days, calendar)


def ingest_ticker(
    factory: sessionmaker[Session],
    source: BarSource,
    ticker: str,
    *,
    today: date,
    start: date | None = None,
    end: date | None = None,
    overlap_days: int = 5,
    calendar: TradingCalendar | None = None,
    fetched: Fetched | None = None,
) -> IngestResult:
    """Bring `ticker`'s bars up to date from `source`. Errors are returned, not raised, so one
    ticker's failure never stops the others; a failed batch writes nothing but its log row.

    `calendar`: the stored one (see forecaster.ingest.calendar.prepare_calendar), read here when
    not given. A bar on a day it has closed opens that day (`observed`) in the same transaction.
    `fetched`: the rows already fetched (by trade date, see forecaster.ingest.bydate).
    """
    end = end or today
    with factory() as session:
        calendar = calendar or load_calendar(session)
        if start is None:
            start = incremental_start(session, ticker, overlap_days, calendar)
    result = IngestResult(ticker, source.name, start, end)
    started = clock.now()
    try:
        t0 = time.perf_counter()
        if fetched is None:
            fetched = source.fetch(ticker, start, end, calendar)
        result.fetch_seconds = time.perf_counter() - t0
        result.warnings, result.notes = list(fetched.warnings), list(fetched.notes)
        result.closed_days = validate_bars(fetched.bars, ticker, today, calendar)
        _trim(fetched, start, end)
        t1 = time.perf_counter()
        with transaction(factory) as session:
            now = clock.now()
            result.counts = upsert_bars(session, ticker, fetched.bars, fetched.source, now)
            if fetched.factors is not None:
                result.factors = upsert_factors(session, ticker, fetched.factors, fetched.source, now)
            if fetched.limits is not None:
                result.limits = upsert_limit_prices(session, ticker, fetched.limits, fetched.source, now)
            if _observe(session, fetched, now):
                correct_target_dates(session, load_calendar(session))
            result.write_seconds = time.perf_counter() - t1
            result.ok = True
            add_ingest_log(session, _log_row(result, started))
    except ForecasterError as exc:
        result.ok = False
        result.error = str(exc)
        log.info("ingest of %s failed: %s", ticker, exc)
        _record_failure(factory, result, started)
    return result


def _observe(session: Session, fetched: Fetched, now: datetime) -> bool:
    """What the batch's bars show about the calendar; True when a stored day changed."""
    dates = list(fetched.bars["trade_date"].dt.date)
    if not dates:
        return False
    opened = observe_open(session, dates, now)
    closed = observe_closed(session, min(dates), max(dates), now)
    return bool(opened or closed)


def _trim(fetched: Fetched, start: date | None, end: date) -> None:
    fetched.bars = _within(fetched.bars, start, end)
    fetched.factors = None if fetched.factors is None else _within(fetched.factors, start, end)
    fetched.limits = None if fetched.limits is None else _within(fetched.limits, start, end)


def _within(frame: pd.DataFrame, start: date | None, end: date) -> pd.DataFrame:
    dates = frame["trade_date"].dt.date
    keep = dates <= end
    if start is not None:
        keep &= dates >= start
    kept: pd.DataFrame = frame.loc[keep].reset_index(drop=True)
    return kept


def _log_row(result: IngestResult, started: datetime) -> IngestLog:
    notes = list(result.warnings)
    if result.closed_days:
        shown = ", ".join(d.isoformat() for d in result.closed_days[:10])
        notes.append(f"bars on closed days: {shown}")
    return IngestLog(
        ticker=result.ticker,
        source=result.source,
        start_date=result.start,
        end_date=result.end,
        status="ok" if result.ok else "error",
        rows_new=result.counts.new,
        rows_changed=result.counts.changed,
        rows_unchanged=result.counts.unchanged,
        factors_written=result.factors,
        closed_day_bars=len(result.closed_days),
        warnings="\n".join(notes) or None,
        error=result.error,
        started_at=started,
        finished_at=clock.now(),
        fetch_seconds=result.fetch_seconds,
        write_seconds=result.write_seconds,
    )


def _record_failure(factory: sessionmaker[Session], result: IngestResult, started: datetime) -> None:
    result.counts, result.factors, result.limits = WriteCounts(), 0, 0
    try:
        with transaction(factory) as session:
            add_ingest_log(session, _log_row(result, started))
    except ForecasterError as exc:  # e.g. the database itself is locked: say so, keep going
        log.error("could not record the failed ingest of %s: %s", result.ticker, exc)


def _refused(factory: sessionmaker[Session], result: IngestResult) -> IngestResult:
    """A ticker the listings refuse (or whose days by trade date failed): logged as a failed
    ingest, nothing (more) asked of the source."""
    log.info("ingest of %s failed: %s", result.ticker, result.error)
    _record_failure(factory, result, clock.now())
    return result


def ingest_tickers(
    factory: sessionmaker[Session],
    source: BarSource,
    tickers: Sequence[str],
    *,
    today: date,
    overlap_days: int,
    calendar: TradingCalendar | None = None,
    start: Callable[[str], date | None] | None = None,
    end: date | None = None,
    check_stop: Callable[[], None] | None = None,
    on_ticker: Callable[[IngestResult, float], None] | None = None,
    each: Callable[[Sequence[str]], Iterable[str]] = iter,
) -> list[IngestResult]:
    """The one ingest loop: each ticker in turn, its own transaction; failures are results.

    `calendar`: the stored one (prepared once by the caller; None: read per ticker).
    `start(ticker)`: where that ticker's fetch starts (default: incremental). `check_stop` runs
    before each ticker (it raises to stop the loop); `on_ticker(result, seconds)` after each;
    `each` wraps the loop (a progress bar). A large incremental ingest asks by trade date first.
    """
    results: list[IngestResult] = []
    listings = prepare_listings(factory, source, tickers, today=today)
    by_date: dict[str, tuple[date, Prepared]] = {}
    if start is None:
        with factory() as session:
            known = calendar or load_calendar(session)
        by_date = fetch_by_date(
            factory, source, tickers, today=today, end=end or today, calendar=known, overlap_days=overlap_days
        )
    for ticker in each(tickers):
        if check_stop is not None:
            check_stop()
        started = time.perf_counter()
        first = start(ticker) if start is not None else None
        refusal = listings.refusal(ticker, today)
        if refusal is not None:
            result = _refused(factory, IngestResult(ticker, source.name, first, end or today, error=refusal))
        elif ticker in by_date:
            result = _prepared(factory, source, ticker, by_date[ticker], today=today, end=end, calendar=calendar)
        else:
            result = ingest_ticker(
                factory, source, ticker, today=today, start=first, end=end, overlap_days=overlap_days, calendar=calendar
            )
        results.append(result)
        if on_ticker is not None:
            on_ticker(result, time.perf_counter() - started)
    return results


def _prepared(
    factory: sessionmaker[Session],
    source: BarSource,
    ticker: str,
    prepared: tuple[date, Prepared],
    *,
    today: date,
    end: date | None,
    calendar: TradingCalendar | None,
) -> IngestResult:
    first, rows = prepared
    if isinstance(rows, str):
        return _refused(factory, IngestResult(ticker, source.name, first, end or today, error=rows))
    return ingest_ticker(factory, source, ticker, today=today, start=first, end=end, calendar=calendar, fetched=rows)


def ingest_for_range(
    settings: Settings, factory: sessionmaker[Session], source: BarSource, tickers: list[str], start: date, today: date
) -> list[IngestResult]:
    """Make sure the bars a replay from `start` needs are stored: incremental where the stored
    history already reaches back before `start`, else from the configured history start."""

    def first_needed(ticker: str) -> date | None:
        with factory() as session:
            first = oldest_bar_date(session, ticker)
        return settings.history_start if first is None or first > start else None

    calendar = prepare_calendar(settings, factory, today=today, source=source).calendar
    return ingest_tickers(
        factory,
        source,
        tickers,
        today=today,
        overlap_days=settings.ingest_overlap_days,
        calendar=calendar,
        start=first_needed,
    )
