"""The price limits of a ticker's forecast days, from its stored listing (board, ST from the
name, list date) and its bars (the last close is the first target day's previous close)."""

from datetime import date

import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from forecaster.market.calendar import TradingCalendar
from forecaster.market.limits import PriceLimits, day_limit_pct, is_st
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
    with factory() as session:
        listing = listings_of(session, [ticker]).get(ticker)
    days = calendar.next_trading_days(as_of, horizon)
    traded = _days_traded(listing, bars)
    pcts = tuple(
        day_limit_pct(
            ticker,
            day,
            st=listing is not None and is_st(listing.name),
            index=listing is not None and listing.kind == "index",
            day_of_listing=None if traded is None else traded + h,
        )
        for h, day in enumerate(days, start=1)
    )
    return PriceLimits(float(bars["close"].iloc[-1]), pcts)


def _days_traded(listing: Listing | None, bars: pd.DataFrame) -> int | None:
    """The bars since the listing day, when the bars reach back to it (a young listing); None
    for an older one, whose first days are long past."""
    listed = None if listing is None else listing.list_date
    if listed is None or bars.index[0].date() > listed:
        return None
    return int((pd.DatetimeIndex(bars.index).date >= listed).sum())
