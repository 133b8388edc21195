"""The stored listings (`listings`): what each code names, its board, when it listed and
delisted; and the record of asking tushare for them (`listing_fetches`). Functions take the
caller's Session and never commit, like the rest of `storage`."""

from collections.abc import Collection, Iterable
from datetime import date, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from forecaster.storage.calendar import newest_answered
from forecaster.storage.schema import Listing, ListingFetch

# Columns a listing row is given by (a tushare answer or the bundled file, already parsed).
LISTING_FIELDS = ("ticker", "kind", "name", "market", "exchange", "list_status", "list_date", "delist_date")


def listings_of(session: Session, tickers: Collection[str]) -> dict[str, Listing]:
    return {row.ticker: row for row in session.scalars(select(Listing).where(Listing.ticker.in_(tickers)))}


def ticker_names(session: Session, tickers: Collection[str]) -> dict[str, str]:
    """The stored name of each of `tickers` that has a listing (missing ones are left out)."""
    rows = session.execute(select(Listing.ticker, Listing.name).where(Listing.ticker.in_(tickers)))
    return {ticker: name for ticker, name in rows}


def delist_dates(session: Session, tickers: Collection[str]) -> dict[str, date]:
    """The stored delist date of each of `tickers` that has one (delisted, or about to be)."""
    query = select(Listing.ticker, Listing.delist_date).where(
        Listing.ticker.in_(tickers), Listing.delist_date.is_not(None)
    )
    return {ticker: day for ticker, day in session.execute(query) if day is not None}


def listings_source(session: Session) -> str | None:
    """Where the stored listings came from (`tushare` or `bundled`), None when none are stored;
    only tushare's are complete enough to refuse a code they lack."""
    sources = set(session.scalars(select(Listing.source).distinct()))
    return "tushare" if "tushare" in sources else next(iter(sources), None)


def codes_listed_as(session: Session, codes: Iterable[str]) -> list[str]:
    """The stored tickers whose code (the part before the dot) is one of `codes`."""
    wanted = set(codes)
    tickers = session.scalars(select(Listing.ticker).where(Listing.ticker.like("%.%")))
    return sorted(t for t in tickers if t.split(".", 1)[0] in wanted)


def index_codes(session: Session) -> set[str]:
    return set(session.scalars(select(Listing.ticker).where(Listing.kind == "index")))


def replace_listings(session: Session, rows: Iterable[dict[str, object]], source: str, now: datetime) -> int:
    """Store `rows` as the listings of `source`, replacing what that source stored before (a
    later answer is the whole list); returns the rows stored. tushare's replace the bundled ones."""
    session.execute(delete(Listing).where(Listing.source.in_((source, "bundled"))))
    listings = [Listing(**row, source=source, updated_at=now) for row in rows]
    session.add_all(listings)
    session.flush()
    return len(listings)


def last_listing_fetch(session: Session) -> ListingFetch | None:
    """The newest ask of tushare's listings that answered (ok or refused)."""
    return newest_answered(session, ListingFetch)


def add_listing_fetch(session: Session, fetch: ListingFetch) -> None:
    session.add(fetch)
    session.flush()
