"""The price limits of a ticker's forecast days: the exchange's own limit prices where stored
(tushare stk_limit), else computed from its stored listing (board, ST on each day from its names
over time or its name, list date) and its bars (the last close is the first target day's
previous close).

The exchange publishes a day's limit prices that morning, so an evening run rarely has the next
day's: there the rate the exchange applied on the as-of day (stored) carries to the days after
it, in place of the rule's; a replay of past days finds the first target day's prices stored.
"""

from datetime import date

import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from forecaster.market.calendar import TradingCalendar
from forecaster.market.limits import PriceLimits, day_limit_pct, rate_of, st_on
from forecaster.storage.limits import limit_prices_of, name_periods_of
from forecaster.storage.listings import listings_of
from forecaster.storage.schema import Listing


def forecast_limits(
    factory: sessionmaker[Session],
    ticker: str,
    bars: pd.DataFrame,
    as_of: date,
    horizon: int,
    calendar: TradingCalendar,
) -> PriceLimits:
    """Each target day's limit after `as_of`; without a listing the board's rule, not ST."""
    days = calendar.next_trading_days(as_of, horizon)
    with factory() as session:
        listing = listings_of(session, [ticker]).get(ticker)
        spans = name_periods_of(session, [ticker]).get(ticker)
        stored = limit_prices_of(session, ticker, [as_of, days[0]])
    traded = _days_traded(listing, bars)
    name = None if listing is None else listing.name
    pcts = tuple(
        day_limit_pct(
            ticker,
            day,
            st=st_on(day, spans, name),
            index=listing is not None and listing.kind == "index",
            day_of_listing=None if traded is None else traded + h,
        )
        for h, day in enumerate(days, start=1)
    )
    pre_close = float(bars["pre_close"].iloc[-1]) if "pre_close" in bars else float("nan")
    if as_of in stored and traded is None and pre_close > 0:  # not a young listing's free first days
        rate = rate_of(pre_close, stored[as_of])
        pcts = tuple(None if pct is None else rate for pct in pcts)
    return PriceLimits(float(bars["close"].iloc[-1]), pcts, first=stored.get(days[0]))


def _days_traded(listing: Listing | None, bars: pd.DataFrame) -> int | None:
    """The bars since the listing day, when the bars reach back to it (a young listing); None
    for an older one, whose first days are long past."""
    listed = None if listing is None else listing.list_date
    if listed is None or bars.index[0].date() > listed:
        return None
    return int((pd.DatetimeIndex(bars.index).date >= listed).sum())
