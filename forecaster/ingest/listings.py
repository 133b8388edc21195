"""The stored listings brought up to date, and the check that a code is listed before its bars
are asked for.

With tushare as the source, `stock_basic` and `index_basic` are asked at most once a day (as
`trade_cal`, see ingest/calendar.py); a refusal or a failure is a warning and the stored
listings stay. Without tushare, the bundled listings file (data/listings.csv) is stored once,
for names: it lists only the bundled data's codes, so it never refuses one.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from forecaster import clock
from forecaster.errors import RefusedError, SourceError
from forecaster.ingest.calendar import asked_today
from forecaster.ingest.names import refresh_names
from forecaster.ingest.sources import BarSource
from forecaster.ingest.sources.tushare_pro import TushareSource
from forecaster.storage.db import transaction
from forecaster.storage.listings import (
    LISTING_FIELDS,
    add_listing_fetch,
    index_codes,
    last_listing_fetch,
    listings_of,
    listings_source,
    replace_listings,
)
from forecaster.storage.schema import Listing, ListingFetch

log = logging.getLogger(__name__)

BUNDLED_LISTINGS = Path(__file__).resolve().parent.parent.parent / "data" / "listings.csv"


@dataclass
class ListingCheck:
    """Whether a code may be ingested, by the stored listings."""

    listings: dict[str, Listing]  # of the tickers to ingest, read once
    complete: bool  # tushare's listings: a code they lack is not listed
    warnings: list[str] = field(default_factory=list)

    def refusal(self, ticker: str, today: date) -> str | None:
        """Why `ticker` is not ingested (one line), or None when it may be."""
        listing = self.listings.get(ticker)
        if listing is not None:
            return _not_yet(listing, today)
        return "not listed: tushare's stock_basic and index_basic do not know this code" if self.complete else None


def _not_yet(listing: Listing, today: date) -> str | None:
    if listing.list_status == "G" or (listing.list_date is not None and listing.list_date > today):
        when = f" on {listing.list_date}" if listing.list_date else ""
        return f"not listed yet: {listing.name} lists{when}"
    return None


def not_listed_yet(factory: sessionmaker[Session], tickers: Sequence[str], day: date) -> dict[str, str]:
    """The tickers whose stored listing starts after `day` (or is approved, not trading yet): why."""
    with factory() as session:
        listings = listings_of(session, tickers)
    return {t: why for t, listing in listings.items() if (why := _not_yet(listing, day)) is not None}


def prepare_listings(
    factory: sessionmaker[Session], source: BarSource, tickers: Sequence[str], *, today: date
) -> ListingCheck:
    """Refresh the stored listings when due (tushare) or store the bundled ones when none are,
    and tell a tushare source which codes are indexes."""
    warnings = refresh_listings(factory, source, today)
    with transaction(factory) as session:
        stored_from = listings_source(session)
        if stored_from is None:
            replace_listings(session, read_listings_file(BUNDLED_LISTINGS), "bundled", clock.now())
        if isinstance(source, TushareSource):
            source.indexes = frozenset(index_codes(session))
            source.refused.clear()  # each ingest asks again: the account may have been upgraded
        listings = listings_of(session, tickers)
    if isinstance(source, TushareSource):
        warnings += refresh_names(factory, source, listings)
    return ListingCheck(listings, stored_from == "tushare", warnings)


def refresh_listings(factory: sessionmaker[Session], source: BarSource, today: date) -> list[str]:
    """Ask tushare for the listings when due (at most once a day); the warnings of a failed ask."""
    if isinstance(source, TushareSource) and not asked_today(factory, today, last_listing_fetch):
        return _refresh_from_tushare(factory, source, today)
    return []


def _refresh_from_tushare(factory: sessionmaker[Session], source: TushareSource, today: date) -> list[str]:
    status, rows, message = "ok", [], None
    try:  # outside the transaction: network calls
        rows = tushare_listings(source.stock_basic(), "stock") + tushare_listings(source.index_basic(), "index")
    except SourceError as exc:
        status = "refused" if isinstance(exc, RefusedError) else "error"
        message = str(exc)
    with transaction(factory) as session:
        now = clock.now()
        stored = replace_listings(session, rows, "tushare", now) if rows else 0
        add_listing_fetch(
            session, ListingFetch(fetched_at=now, fetched_on=today, status=status, rows=stored, message=message)
        )
    if message is None:
        log.info("listings: %d from tushare stock_basic and index_basic", stored)
        return []
    log.warning("listings: tushare %s; the stored listings stay", message)
    return [f"listings from tushare {status}: {message}"]


def tushare_listings(frame: pd.DataFrame, kind: str) -> list[dict[str, object]]:
    """`stock_basic` or `index_basic` rows as listing rows (an index's `exp_date` ends it)."""
    if frame.empty:
        return []
    frame = frame.rename(columns={"ts_code": "ticker", "exp_date": "delist_date"})
    frame["kind"] = kind
    if "list_status" not in frame:
        frame["list_status"] = frame["delist_date"].map(lambda d: "D" if isinstance(d, str) and d.strip() else "L")
    return _rows(frame, "%Y%m%d")


def read_listings_file(path: Path) -> list[dict[str, object]]:
    """The bundled listings file: `ts_code` and the listing columns, ISO dates."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False).rename(columns={"ts_code": "ticker"})
    return _rows(frame, "%Y-%m-%d")


def _rows(frame: pd.DataFrame, date_format: str) -> list[dict[str, object]]:
    frame = frame.copy()
    for column in LISTING_FIELDS:
        if column not in frame:
            frame[column] = None
    for column in ("list_date", "delist_date"):
        parsed = pd.to_datetime(frame[column].astype("string"), format=date_format, errors="coerce")
        frame[column] = [None if pd.isna(d) else d.date() for d in parsed]
    frame = frame.astype(object).where(frame.notna(), None).replace({"": None})
    return [{c: row[c] for c in LISTING_FIELDS} for _, row in frame.drop_duplicates("ticker").iterrows()]
