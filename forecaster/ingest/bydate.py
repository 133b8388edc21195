"""The daily ingest of a large watch-list: `daily` and `adj_factor` asked by trade date.

tushare answers `daily` by `trade_date` alone with the whole market for that day, so keeping N
tickers current costs two calls a new trading day instead of two per ticker. Only tickers with
stored history take this path (a new one is backfilled per ticker, once), and only when it is
the cheaper one. Each ticker is still validated and written in its own transaction; when a day
fails (an empty answer on a day the exchange was open is an HTTP error, not "no data"), every
ticker of the batch fails with that reason and nothing of it is written.
"""

from collections.abc import Callable, Sequence
from datetime import date

import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from forecaster.errors import SourceError
from forecaster.ingest.sources import BarSource, Fetched
from forecaster.ingest.sources.tushare_frames import bar_frame, factor_frame, limit_frame
from forecaster.ingest.sources.tushare_pro import TushareSource
from forecaster.market.calendar import TradingCalendar
from forecaster.storage.bars import newest_bar_dates

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
    overlap_days: int,
) -> dict[str, tuple[date, Prepared]]:
    """ticker -> (first day asked, its rows or the failure) for the tickers worth asking by
    trade date; {} when the per-ticker path is as cheap (or the source cannot do it). The days
    asked start `overlap_days` before the oldest newest bar, as per ticker (`overlap_start`)."""
    if not isinstance(source, TushareSource) or source.batch_from is None:
        return {}
    with factory() as session:  # one grouped read; the tickers' order kept
        newest = newest_bar_dates(session, [t for t in tickers if t not in source.indexes])
    stored = {t: newest[t] for t in tickers if t in newest}
    if len(stored) < source.batch_from:
        return {}
    days = calendar.trading_days(overlap_start(min(stored.values()), overlap_days, calendar), end)
    if len(days) >= len(stored):  # long behind: per ticker (paged by range) is fewer calls
        return {}
    first = days[0] if days else end
    try:
        bars, extras, warnings = _market_days(source, days, today, calendar)
    except SourceError as exc:
        reason = f"by trade date: {exc}; nothing written"
        return {t: (first, reason) for t in stored}
    # Split once by code, not one mask over the whole market per ticker.
    bars_of = _by_code(bars)
    extras_of = {api: None if frame is None else _by_code(frame) for api, frame in extras.items()}
    return {t: (first, _ticker_rows(source, t, bars_of, extras_of, warnings)) for t in stored}


def overlap_start(last: date, overlap_days: int, calendar: TradingCalendar) -> date:
    """Where an incremental ingest starts after its last stored bar `last`: `overlap_days`
    trading days before it (the bar itself with 0), so bars the source revised are caught."""
    return calendar.previous_trading_days(last, overlap_days)[0] if overlap_days else last


def _market_days(
    source: TushareSource, days: list[date], today: date, calendar: TradingCalendar
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame | None], list[str]]:
    """The whole market's rows of `days`: one `daily` call a day, and one `adj_factor` and one
    `stk_limit` a day the account has them (api -> None when refused)."""
    daily: list[pd.DataFrame] = []
    for day in days:
        # Today's bar may not have landed yet, and an estimated day may be an unpublished holiday.
        expect = day < today and not calendar.is_estimated(day)
        daily.append(source.query("daily", expect_rows=expect, trade_date=f"{day:%Y%m%d}"))
    warnings: list[str] = []
    extras: dict[str, pd.DataFrame | None] = {}
    traded = [day for day, answer in zip(days, daily, strict=True) if not answer.empty]
    for api in ("adj_factor", "stk_limit"):
        frames = []
        for day in traded:
            got = source.optional(api, warnings, trade_date=f"{day:%Y%m%d}")
            if got is None:  # refused (said once): bars are still worth having, as per ticker
                break
            frames.append(got)
        extras[api] = None if api in source.refused else _concat(frames)
    return _concat(daily), extras, warnings


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
    extras_of: dict[str, Callable[[str], pd.DataFrame] | None],
    warnings: list[str],
) -> Fetched:
    mine = bars_of(ticker)
    fetched = Fetched(ticker, source.name, bar_frame(mine.reset_index(drop=True), ticker), warnings=list(warnings))
    factors_of, limits_of = extras_of["adj_factor"], extras_of["stk_limit"]
    if not mine.empty:
        fetched.factors = None if factors_of is None else factor_frame(factors_of(ticker))
        fetched.limits = None if limits_of is None else limit_frame(limits_of(ticker))
    return fetched
