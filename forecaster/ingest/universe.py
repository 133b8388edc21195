"""A training universe named by an index: its constituents from tushare's `index_weight`.

`FORECASTER_UNIVERSE` may hold index codes (000300.SH for the CSI 300): each stands for the
index's constituents of the newest month on or before the day asked, stored from `index_weight`
(monthly; asked again once the newest stored month is 25 days old). Point in time, so a
backfill trains on the members of its own day, not today's (before the first stored month, the
first one). Without tushare, or before any month is stored, an index stands for itself.
"""

import logging
from collections.abc import Sequence
from datetime import date, timedelta

import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from forecaster.config import Settings
from forecaster.errors import SourceError
from forecaster.ingest.listings import refresh_listings
from forecaster.ingest.sources import BarSource
from forecaster.ingest.sources.tushare_pro import TushareSource
from forecaster.storage.db import transaction
from forecaster.storage.index_members import members_on, newest_month, store_members
from forecaster.storage.listings import listings_of

log = logging.getLogger(__name__)

STALE_DAYS = 25  # index_weight is monthly


def refresh_members(
    factory: sessionmaker[Session], source: BarSource, codes: Sequence[str], today: date, since: date
) -> list[str]:
    """Store the constituents of each index among `codes` (by the stored listings) from tushare,
    from `since` at the first ask, then the months after the newest stored; returns a warning per
    index whose ask failed (its stored months stay)."""
    if not isinstance(source, TushareSource):
        return []
    warnings = refresh_listings(factory, source, today)  # which codes are indexes (asked once a day)
    with factory() as session:
        indexes = [c for c, listing in listings_of(session, codes).items() if listing.kind == "index"]
        newest = {i: newest_month(session, i) for i in indexes}
    for index in indexes:
        last = newest[index]
        if last is not None and (today - last).days < STALE_DAYS:
            continue
        try:
            rows = _ask(source, index, last + timedelta(days=1) if last else since, today)
        except SourceError as exc:
            warnings.append(f"{index}: constituents not refreshed: {exc}")
            continue
        with transaction(factory) as session:
            store_members(session, rows)
    for warning in warnings:
        log.warning("%s", warning)
    return warnings


def _ask(source: TushareSource, index: str, start: date, end: date) -> list[tuple[str, date, str, float | None]]:
    """index_weight from `start` to `end`, a year a call (about 3,600 rows for 300 members: under
    the service's row limit)."""
    rows = []
    while start <= end:
        stop = min(end, start + timedelta(days=365))
        frame = source.query(
            "index_weight", expect_rows=False, index_code=index, start_date=f"{start:%Y%m%d}",
            end_date=f"{stop:%Y%m%d}", fields="index_code,con_code,trade_date,weight",
        )  # fmt: skip
        rows += _rows(frame)
        start = stop + timedelta(days=1)
    return rows


def _rows(frame: pd.DataFrame) -> list[tuple[str, date, str, float | None]]:
    if frame.empty:
        return []
    days = pd.to_datetime(frame["trade_date"], format="%Y%m%d").dt.date
    weights = pd.to_numeric(frame["weight"], errors="coerce")
    return [
        (str(i), d, str(c), None if pd.isna(w) else float(w))
        for i, d, c, w in zip(frame["index_code"], days, frame["con_code"], weights, strict=True)
    ]


def expand_indexes(session: Session, codes: Sequence[str], day: date) -> list[str]:
    """`codes` with each index that has stored constituents replaced by those of `day`, in order, once each."""
    expanded: list[str] = []
    for code in codes:
        expanded += members_on(session, code, day) or [code]
    return list(dict.fromkeys(expanded))


def universe_tickers(
    factory: sessionmaker[Session], source: BarSource, settings: Settings, tickers: list[str] | None, today: date
) -> list[str]:
    """The tickers to ingest for `tickers` (None: the watch-list) and the training universe: each
    index's constituents since the history's start brought up to date, then those of `today` in its place."""
    asked = settings.tickers if tickers is None else tickers
    others = [c for c in settings.training_universe(asked) if c not in asked]  # an index there: its members
    if others:
        refresh_members(factory, source, others, today, settings.history_start)
    with factory() as session:
        return list(dict.fromkeys([*asked, *expand_indexes(session, others, today)]))
