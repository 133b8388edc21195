"""The trading days this process knows without asking anyone: exchange_calendars' XSHG sessions
for the years it covers, and past them an estimate from pandas_market_calendars' SSE rules.

exchange_calendars' holiday lists are typed in by hand and end on 2026-12-31 (4.13.2); queries
past its last session raise. pandas_market_calendars lists the same closures through 2026 (a
test checks day for day) and from 2027 on derives them from rules: the Spring Festival from the
lunar new year, National Day as the whole first week of October. Such days are only estimates:
they are marked `estimated` and replaced once the exchange's own list is known.
"""

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from functools import cache
from typing import Any

_CALENDAR_START = "2005-01-04"


@contextmanager
def _quiet() -> Iterator[None]:
    # Both packages trip pandas 3's deprecation warnings internally; not ours to fix.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        yield


@cache
def xshg() -> tuple[frozenset[date], date, date]:
    """exchange_calendars' sessions and its bounds, loaded once per process (about 0.3 s)."""
    import exchange_calendars as xcals

    with _quiet():
        cal = xcals.get_calendar("XSHG", start=_CALENDAR_START)
    sessions = frozenset(ts.date() for ts in cal.sessions)
    return sessions, cal.first_session.date(), cal.last_session.date()


@cache
def _sse() -> Any:
    import pandas_market_calendars as pmc

    with _quiet():
        return pmc.get_calendar("SSE")


@cache
def estimated_sessions(year: int) -> frozenset[date]:
    """The SSE's open days of `year` as pandas_market_calendars' rules have them."""
    with _quiet():
        days = _sse().valid_days(f"{year}-01-01", f"{year}-12-31")
    return frozenset(ts.date() for ts in days)


def builtin_open(day: date) -> tuple[bool, str]:
    """(open?, source) for `day`: exchange_calendars inside its range, else the estimate."""
    sessions, first, last = xshg()
    if first <= day <= last:
        return day in sessions, "exchange_calendars"
    return day in estimated_sessions(day.year), "estimated"
