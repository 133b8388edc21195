"""Stocks' names over time from tushare `namechange`, where their ST and *ST periods show, so that
each day's price limit knows whether the stock was ST that day.

A stock is asked when no names of it are stored or its listing's current name (stock_basic, asked
daily) is not the newest stored one: a rename, maybe into or out of ST. Where the account is
refused namechange, the limits read ST from the listing's current name (a warning says so).
"""

import logging
from collections.abc import Mapping

import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from forecaster import clock
from forecaster.errors import RefusedError, SourceError
from forecaster.ingest.sources.tushare_pro import TushareSource
from forecaster.market.limits import NameSpan
from forecaster.storage.db import transaction
from forecaster.storage.limits import name_periods_of, replace_name_periods
from forecaster.storage.schema import Listing

log = logging.getLogger(__name__)


def refresh_names(factory: sessionmaker[Session], source: TushareSource, listings: Mapping[str, Listing]) -> list[str]:
    """Store the names over time of the stocks in `listings` that are due; returns warnings."""
    with factory() as session:
        stored = name_periods_of(session, list(listings))
    due = [t for t, listing in listings.items() if listing.kind == "stock" and _renamed(stored.get(t), listing.name)]
    for ticker in due:
        try:  # outside the transaction: a network call
            spans = name_spans(source.namechange(ticker))
        except SourceError as exc:  # refused (the account's tier) or failed: the rest at the next ingest
            fallback = "the listings' current names" if isinstance(exc, RefusedError) else "the stored names"
            if isinstance(exc, RefusedError):
                source.refused["namechange"] = str(exc)  # named in the ingest's calls line
            log.warning("namechange of %s: %s; ST status from %s", ticker, exc, fallback)
            return [f"namechange unavailable ({exc}); ST status from {fallback}"]
        with transaction(factory) as session:
            replace_name_periods(session, ticker, spans, clock.now())
    return []


def _renamed(spans: list[NameSpan] | None, name: str) -> bool:
    return not spans or spans[-1][2] != name


def name_spans(frame: pd.DataFrame) -> list[NameSpan]:
    """`namechange` rows (`name, start_date, end_date`, YYYYMMDD) as spans, oldest first; one a
    first day (the newest announcement's, as tushare lists them newest first)."""
    if frame.empty:
        return []
    starts = pd.to_datetime(frame["start_date"].astype("string"), format="%Y%m%d", errors="coerce")
    ends = pd.to_datetime(frame["end_date"].astype("string"), format="%Y%m%d", errors="coerce")
    spans: dict[object, NameSpan] = {}
    for start, end, name in zip(starts, ends, frame["name"], strict=True):
        if not pd.isna(start) and start.date() not in spans:
            spans[start.date()] = (start.date(), None if pd.isna(end) else end.date(), str(name))
    return sorted(spans.values())
