"""The daily ingest of a large watch-list: `daily` and `adj_factor` asked by trade date.

tushare answers `daily` by `trade_date` alone with the whole market for that day, so keeping N
tickers current costs two calls a new trading day instead of two per ticker. Only tickers with
stored history take this path (a new one is backfilled per ticker, once), and only when it is
the cheaper one. Each ticker is still validated and written in its own transaction; when a day
fails (an empty answer on a day the exchange was open is an HTTP error, not "no data"), every
ticker of the batch fails with that reason and nothing of it is written.
"""

import logging
from collections.abc import Callable, Sequence
from datetime import date, timedelta

import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from forecaster.errors import RefusedError, SourceError
from forecaster.ingest.sources import BarSource, Fetched
from forecaster.ingest.sources.tushare_frames import bar_frame, factor_frame
from forecaster.ingest.sources.tushare_pro import TushareSource
from forecaster.market.calendar import TradingCalendar
from forecaster.storage.bars import newest_bar_dates

log = logging.getLogger(__name__)

# What a batched ticker gets: its rows of the asked days, or why the days could not be had.
Prepared = Fetched | str


def fetch_by_date(
    factory: sessionmaker[Session],
    source: BarSource,
    tickers: Sequence[str],
    *,
    today: date,
    end: date,
    calendar: TradingCalendar,
) -> dict[str, tuple[date, Prepared]]:
    """ticker -> (first day asked, its rows or the failure) for the tickers worth asking by
    trade date; {} when the per-ticker path is as cheap (or the source cannot do it)."""
    if not isinstance(source, TushareSource) or source.batch_from is None:
        return {}
    with factory() as session:  # one grouped read; the tickers' order kept
        newest = newest_bar_dates(session, [t for t in tickers if t not in source.indexes])
    stored = {t: newest[t] for t in tickers if t in newest}
    if len(stored) < source.batch_from:
        return {}
    days = calendar.trading_days(min(stored.values()) + timedelta(days=1), end)
    if len(days) >= len(stored):  # long behind: per ticker (paged by range) is fewer calls
        return {}
    first = days[0] if days else end
    try:
        bars, factors, warnings = _market_days(source, days, today, calendar)
    except SourceError as exc:
        reason = f"by trade date: {exc}; nothing written"
        return {t: (first, reason) for t in stored}
    # Split once by code, not one mask over the whole market per ticker.
    bars_of, factors_of = _by_code(bars), None if factors is None else _by_code(factors)
    return {t: (first, _ticker_rows(source, t, bars_of, factors_of, warnings)) for t in stored}


def _market_days(
    source: TushareSource, days: list[date], today: date, calendar: TradingCalendar
) -> tuple[pd.DataFrame, pd.DataFrame | None, list[str]]:
    """The whole market's rows of `days`: one `daily` and one `adj_factor` call a day."""
    daily: list[pd.DataFrame] = []
    for day in days:
        # Today's bar may not have landed yet, and an estimated day may be an unpublished holiday.
        expect = day < today and not calendar.is_estimated(day)
        daily.append(source.query("daily", expect_rows=expect, trade_date=f"{day:%Y%m%d}"))
    factors: list[pd.DataFrame] = []
    try:
        for day, answer in zip(days, daily, strict=True):
            if not answer.empty:
                factors.append(source.query("adj_factor", expect_rows=True, trade_date=f"{day:%Y%m%d}"))
    except RefusedError as exc:  # a lower account tier: bars are still worth having, as per ticker
        warning = f"adj_factor unavailable ({exc}); bars stored unadjusted only"
        log.warning("%s", warning)
        return _concat(daily), None, [warning]
    return _concat(daily), _concat(factors), []


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame({"ts_code": [], "trade_date": []})


def _by_code(frame: pd.DataFrame) -> Callable[[str], pd.DataFrame]:
    """A code's rows of a whole-market frame (none: an empty frame with its columns)."""
    groups = {str(code): rows for code, rows in frame.groupby("ts_code")}
    empty = frame.iloc[0:0]
    return lambda code: groups.get(code, empty)


def _ticker_rows(
    source: TushareSource,
    ticker: str,
    bars_of: Callable[[str], pd.DataFrame],
    factors_of: Callable[[str], pd.DataFrame] | None,
    warnings: list[str],
) -> Fetched:
    mine = bars_of(ticker)
    own_factors = None
    if factors_of is not None and not mine.empty:
        own_factors = factor_frame(factors_of(ticker))
    return Fetched(ticker, source.name, bar_frame(mine.reset_index(drop=True), ticker), own_factors, list(warnings))
