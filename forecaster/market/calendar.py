"""Trading days of the Shanghai exchange (SSE): one calendar, whatever its days came from.

A `TradingCalendar` does the day arithmetic over the days it is given (the stored calendar, see
`forecaster.storage.calendar`) and asks the built-in sources (`forecaster.market.builtin`) for
any other day. Every part that needs trading days takes one: target dates of forecasts, the
ingest's empty-answer rule, the daemon's no-data days, backfill's days, the closed-day flag.

Where a day comes from decides which answer wins (`strength`): a bar that traded beats
everything (reality wins), then the override file, tushare `trade_cal`, exchange_calendars,
and last the estimate. An estimated open day on which no bar arrived, while a later day's bar
did, is `observed` closed: stronger than the estimate, weaker than any published list.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal, cast

from forecaster.market.builtin import builtin_open, xshg

Source = Literal["override", "tushare", "exchange_calendars", "estimated", "observed"]
SOURCES: tuple[Source, ...] = ("override", "tushare", "exchange_calendars", "estimated", "observed")
EXCHANGE = "SSE"
# Official coverage ending within this many trading days of today is worth a warning: the
# exchange publishes next year's closures in late December, and tushare has lagged it by days.
COVERAGE_WARN_DAYS = 20
_RANK = {"override": 4, "tushare": 3, "exchange_calendars": 2, "estimated": 0}
_FIRST_SESSION = date(1990, 12, 19)  # the SSE's first trading day


@dataclass(frozen=True)
class Day:
    day: date
    is_open: bool
    source: Source


def strength(source: str, is_open: bool) -> int:
    """How much an answer about one day counts; see the module's docstring for the order."""
    if source == "observed":
        return 5 if is_open else 1
    return _RANK[source]


def replaces(new: Day, old: Day | None) -> bool:
    """Should `new` be stored over `old`? Only an answer at least as strong, and only a change."""
    if old is None:
        return True
    if (new.is_open, new.source) == (old.is_open, old.source):
        return False
    return strength(new.source, new.is_open) >= strength(old.source, old.is_open)


def builtin_day(day: date) -> Day:
    is_open, source = builtin_open(day)
    return Day(day, is_open, cast(Source, source))


class TradingCalendar:
    """Day arithmetic over known days; a day not among them comes from the built-in sources."""

    def __init__(self, days: Iterable[Day] = ()) -> None:
        self._days = {d.day: d for d in days}

    def day(self, day: date) -> Day:
        known = self._days.get(day)
        return known if known is not None else builtin_day(day)

    def is_open(self, day: date) -> bool:
        return self.day(day).is_open

    def is_estimated(self, day: date) -> bool:
        return self.day(day).source == "estimated"

    def days(self, start: date, end: date) -> list[Day]:
        """Every calendar day in [start, end], open or not."""
        return [self.day(start + timedelta(days=i)) for i in range((end - start).days + 1)]

    def trading_days(self, start: date, end: date) -> list[date]:
        """Trading days in [start, end], ascending."""
        return [d.day for d in self.days(start, end) if d.is_open]

    def next_trading_days(self, after: date, count: int) -> list[date]:
        """The `count` trading days strictly after `after`."""
        out: list[date] = []
        day = after
        while len(out) < count:
            day += timedelta(days=1)
            if self.is_open(day):
                out.append(day)
        return out

    def previous_trading_days(self, before: date, count: int) -> list[date]:
        """The `count` trading days strictly before `before`, ascending."""
        out: list[date] = []
        day = before
        while len(out) < count and day > _FIRST_SESSION:
            day -= timedelta(days=1)
            if self.is_open(day):
                out.append(day)
        return sorted(out)

    def has_official_open_day(self, start: date, end: date) -> bool:
        """Is some day of [start, end] open by a published list (or a bar)? Where it is, a source
        answering no bars at all has failed; on estimated days alone it may be a holiday."""
        return any(d.is_open and d.source != "estimated" for d in self.days(start, end))

    def estimated_from(self) -> date:
        """The first estimated day: every day before it comes from a published list or a bar."""
        estimated = [d.day for d in self._days.values() if d.source == "estimated"]
        if estimated:
            return min(estimated)
        _, _, xcals_last = xshg()
        after_known = max(self._days, default=xcals_last) + timedelta(days=1)
        return max(after_known, xcals_last + timedelta(days=1))

    def official_through(self) -> date:
        return self.estimated_from() - timedelta(days=1)

    def coverage_warning(self, today: date, within: int = COVERAGE_WARN_DAYS) -> str | None:
        """A warning when the official calendar ends within `within` trading days of `today`."""
        through = self.official_through()
        left = len(self.trading_days(today + timedelta(days=1), through)) if through > today else 0
        if left > within:
            return None
        return (
            f"the official trading calendar ends {through} ({left} trading day(s) after {today}); "
            f"days from {self.estimated_from()} are estimated: set a tushare token (trade_cal, 2000 points) "
            "or FORECASTER_CALENDAR_FILE once the exchange has published its closures"
        )


BUILTIN = TradingCalendar()


def calendar_bounds() -> tuple[date, date]:
    """exchange_calendars' first and last session."""
    _, first, last = xshg()
    return first, last


# The built-in calendar, for code that has no stored one to hand (tests, benchmarks, the tushare
# stand-in). The product's callers take the stored calendar instead.
def is_trading_day(day: date) -> bool:
    return BUILTIN.is_open(day)


def trading_days(start: date, end: date) -> list[date]:
    return BUILTIN.trading_days(start, end)


def next_trading_days(after: date, count: int) -> list[date]:
    return BUILTIN.next_trading_days(after, count)


def previous_trading_days(before: date, count: int) -> list[date]:
    return BUILTIN.previous_trading_days(before, count)
