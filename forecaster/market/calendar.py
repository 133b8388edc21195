"""Trading days of the Shanghai/Shenzhen exchanges.

exchange_calendars' XSHG calendar is the source, but it only knows holidays up to its last
session (2026-12-31 in 4.x) and raises past it. Outside its range we fall back to Monday–Friday
and warn once: callers must then treat "a new bar appeared" as the real signal.
"""

import logging
import warnings
from datetime import date, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import pandas as pd

log = logging.getLogger(__name__)

_CALENDAR_START = "2005-01-04"
_warned_past_end = False


@cache
def _xshg() -> tuple[frozenset[date], date, date]:
    """The calendar's sessions and its bounds, loaded once per process (about 0.3 s)."""
    import exchange_calendars as xcals

    with warnings.catch_warnings():
        # exchange_calendars trips pandas 3's deprecation warnings internally; not ours to fix.
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        cal = xcals.get_calendar("XSHG", start=_CALENDAR_START)
    sessions = frozenset(ts.date() for ts in cal.sessions)
    return sessions, cal.first_session.date(), cal.last_session.date()


def calendar_bounds() -> tuple[date, date]:
    _, first, last = _xshg()
    return first, last


def _warn_fallback(day: date) -> None:
    global _warned_past_end
    if not _warned_past_end:
        _, _, last = _xshg()
        log.warning(
            "trading calendar ends %s; treating weekdays after it as trading days (asked for %s)",
            last.isoformat(),
            day.isoformat(),
        )
        _warned_past_end = True


def is_trading_day(day: date) -> bool:
    sessions, first, last = _xshg()
    if first <= day <= last:
        return day in sessions
    if day > last:
        _warn_fallback(day)
    return day.weekday() < 5


def trading_days(start: date, end: date) -> list[date]:
    """Trading days in [start, end], ascending."""
    if end < start:
        return []
    days = pd.date_range(start, end, freq="D")
    return [d for d in (ts.date() for ts in days) if is_trading_day(d)]


def next_trading_days(after: date, count: int) -> list[date]:
    """The `count` trading days strictly after `after`."""
    out: list[date] = []
    day = after
    while len(out) < count:
        day += timedelta(days=1)
        if is_trading_day(day):
            out.append(day)
    return out


def previous_trading_days(before: date, count: int) -> list[date]:
    """The `count` trading days strictly before `before`, ascending."""
    out: list[date] = []
    day = before
    while len(out) < count and day > date(1990, 12, 19):
        day -= timedelta(days=1)
        if is_trading_day(day):
            out.append(day)
    return sorted(out)


def today_in(timezone: str) -> date:
    """Today's date at the exchange (bars are dated in Beijing time)."""
    return datetime.now(ZoneInfo(timezone)).date()
