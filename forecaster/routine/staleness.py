"""Which tickers a run forecasts as of its day, and which it leaves: a ticker without a bar on a
day the exchange was open (a suspension, or a delisting) is not forecast again from its old bar.

The run's day is the asked as-of, or the newest bar any of its tickers has up to it: the day the
data shows the market traded. A ticker behind that day is suspended since the first trading day
after its last bar, or delisted when its stored listing says it delisted on or before that day
(then it will not trade again: `health` does not warn about it). When every ticker is behind
the asked day (the source is late, or the day's bars are not published yet), the newest bar
among them is the day, and `health` is what says so.
"""

from collections.abc import Sequence
from datetime import date, timedelta

from forecaster.market.calendar import TradingCalendar


def suspended_since(calendar: TradingCalendar, last_bar: date, day: date | None) -> date | None:
    """The first trading day after `last_bar` up to `day`, or None when there is none (not behind)."""
    if day is None or last_bar >= day:
        return None
    missed = calendar.trading_days(last_bar + timedelta(days=1), day)
    return missed[0] if missed else None


def gap_since(calendar: TradingCalendar, bar_days: Sequence[date]) -> date | None:
    """The first trading day without a bar between the last two of `bar_days` (trading resumed
    after a suspension), or None when the last bar follows the one before it."""
    if len(bar_days) < 2:
        return None
    before, last = bar_days[-2:]
    return suspended_since(calendar, before, last - timedelta(days=1))


def delisted_on(delist_date: date | None, day: date | None) -> date | None:
    """The listing's delist date when it is on or before `day` (the ticker will not trade again)."""
    if delist_date is None or day is None or delist_date > day:
        return None
    return delist_date


def stale_state(calendar: TradingCalendar, last_bar: date, day: date | None, delist_date: date | None) -> str | None:
    """`delisted on D` or `suspended since D` for a ticker behind `day`, None when it is not behind."""
    since = suspended_since(calendar, last_bar, day)
    if since is None:
        return None
    delisted = delisted_on(delist_date, day)
    return f"delisted on {delisted}" if delisted is not None else f"suspended since {since}"
