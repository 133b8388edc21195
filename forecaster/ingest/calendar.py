"""Bringing the stored calendar up to date: the built-in days, the override file, tushare
`trade_cal` (when the source is tushare: at most once a day, or on demand), and what the stored
bars show; then the target dates of open forecasts follow. One transaction for all of it, so a
calendar change and the forecasts it corrects are never seen apart."""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TypeVar

import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from forecaster import clock
from forecaster.config import Settings
from forecaster.errors import RefusedError, SourceError
from forecaster.ingest.sources import BarSource
from forecaster.ingest.sources.tushare_pro import TushareSource
from forecaster.market.calendar import EXCHANGE, Day, TradingCalendar
from forecaster.market.override import read_override
from forecaster.storage.calendar import (
    add_fetch,
    correct_target_dates,
    last_fetch,
    load_calendar,
    observe_all_bars,
    sync_builtin,
    write_days,
)
from forecaster.storage.db import transaction
from forecaster.storage.schema import CalendarFetch, ListingFetch

log = logging.getLogger(__name__)

_Fetch = TypeVar("_Fetch", CalendarFetch, ListingFetch)


@dataclass
class CalendarUpdate:
    calendar: TradingCalendar
    changed: int = 0  # stored days changed
    corrected: int = 0  # forecasts whose target date moved
    fetch: str | None = None  # what asking tushare gave, if it was asked
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Answer:
    start: date
    end: date
    status: str  # ok | refused | error
    days: list[Day] = field(default_factory=list)
    message: str | None = None


def prepare_calendar(
    settings: Settings,
    factory: sessionmaker[Session],
    *,
    today: date,
    source: BarSource | None = None,
    refresh: bool = False,
) -> CalendarUpdate:
    """The stored calendar, brought up to date; tushare is asked when `source` is tushare and
    it was not asked today (or `refresh`). With `refresh`, a failed ask raises; otherwise it is
    logged and recorded, and the calendar stays as stored."""
    answer = None
    if isinstance(source, TushareSource) and (refresh or not asked_today(factory, today, last_fetch)):
        answer = fetch_trade_cal(source, today)  # outside the transaction: a network call
        if refresh and answer.status == "error":
            raise SourceError(answer.message or "tushare trade_cal failed")
    overrides = read_override(settings.calendar_file) if settings.calendar_file else []
    with transaction(factory) as session:
        now = clock.now()
        synced = len(sync_builtin(session, date(today.year + 1, 12, 31), now))
        changed = synced + len(write_days(session, overrides, now))
        stored = _store_answer(session, answer, today, now) if answer else None
        changed += stored[0] if stored else 0
        # Each ingest observes its own bars; bars stored before these days were are seen here once.
        changed += len(observe_all_bars(session, now)) if synced else 0
        calendar = load_calendar(session)
        corrected = correct_target_dates(session, calendar) if changed else 0
    update = CalendarUpdate(calendar, changed, corrected, stored[1] if stored else None)
    if answer is not None and answer.status != "ok":
        update.warnings.append(f"tushare trade_cal {answer.status}: {answer.message}")
    if corrected:
        log.info("calendar: %d day(s) changed; %d forecast target date(s) corrected", changed, corrected)
    return update


def warn_coverage(calendar: TradingCalendar, today: date) -> str | None:
    """Log (and return) the warning that the official calendar ends soon, if it does: the daemon
    does at start-up and with every daily update, so that someone adds the new closures in time."""
    warning = calendar.coverage_warning(today)
    if warning:
        log.warning("calendar: %s", warning)
    return warning


def fetch_trade_cal(source: TushareSource, today: date) -> _Answer:
    """This year's and next year's days from tushare; a refusal (too few points) is a warning."""
    start, end = date(today.year, 1, 1), date(today.year + 1, 12, 31)
    try:
        days = trade_cal_days(source.trade_cal(start, end))
    except RefusedError as exc:
        log.warning("calendar: %s; official days come from exchange_calendars and the override file only", exc)
        return _Answer(start, end, "refused", message=str(exc))
    except SourceError as exc:
        log.error("calendar: %s", exc)
        return _Answer(start, end, "error", message=str(exc))
    return _Answer(start, end, "ok", days)


def trade_cal_days(frame: pd.DataFrame) -> list[Day]:
    """`trade_cal` rows as days; an unreadable row fails the answer whole."""
    if "exchange" in frame:
        frame = frame[frame["exchange"].fillna(EXCHANGE) == EXCHANGE]
    dates = pd.to_datetime(frame["cal_date"].astype(str), format="%Y%m%d", errors="coerce")
    flags = frame["is_open"].astype(str).str.strip()
    bad = dates.isna() | ~flags.isin(["0", "1"])
    if bad.any():
        raise SourceError(f"tushare trade_cal answered {int(bad.sum())} unreadable row(s)")
    return [Day(ts.date(), flag == "1", "tushare") for ts, flag in zip(dates, flags, strict=True)]


def asked_today(factory: sessionmaker[Session], today: date, last: Callable[[Session], _Fetch | None]) -> bool:
    """Whether the newest answered ask of a fetch record (`last`) was made on `today`."""
    with factory() as session:
        fetch = last(session)
    return fetch is not None and fetch.fetched_on == today


def _store_answer(session: Session, answer: _Answer, today: date, now: datetime) -> tuple[int, str]:
    changed = len(write_days(session, answer.days, now))
    add_fetch(
        session,
        CalendarFetch(
            exchange=EXCHANGE,
            fetched_at=now,
            fetched_on=today,
            start_date=answer.start,
            end_date=answer.end,
            status=answer.status,
            days=len(answer.days),
            changed=changed,
            message=answer.message,
        ),
    )
    if answer.status != "ok":
        return changed, f"tushare trade_cal {answer.status}: {answer.message}"
    return changed, f"tushare trade_cal: {len(answer.days)} day(s) {answer.start}..{answer.end}, {changed} changed"
