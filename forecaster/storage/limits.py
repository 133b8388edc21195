"""The exchange's own word on a stock's price limits: its names over time (`name_periods`, from
tushare `namechange`: the ST periods) and each bar's limit prices (`limit_prices`, from tushare
`stk_limit`). Like every storage module, functions take the caller's Session and never commit."""

from collections.abc import Collection, Iterable
from datetime import date, datetime

import pandas as pd
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from forecaster.market.limits import NameSpan
from forecaster.storage.records import upsert
from forecaster.storage.schema import Base, LimitPrice, NamePeriod


def replace_name_periods(session: Session, ticker: str, spans: Iterable[NameSpan], now: datetime) -> int:
    """Store `spans` as `ticker`'s names, replacing the stored ones (an answer is the whole history)."""
    session.execute(delete(NamePeriod).where(NamePeriod.ticker == ticker))
    rows = [NamePeriod(ticker=ticker, start_date=s, end_date=e, name=n, updated_at=now) for s, e, n in spans]
    session.add_all(rows)
    session.flush()
    return len(rows)


def name_periods_of(session: Session, tickers: Collection[str]) -> dict[str, list[NameSpan]]:
    """Each of `tickers` with stored names: its spans, oldest first (a ticker without any is absent)."""
    query = select(NamePeriod).where(NamePeriod.ticker.in_(tickers)).order_by(NamePeriod.start_date)
    spans: dict[str, list[NameSpan]] = {}
    for row in session.scalars(query):
        spans.setdefault(row.ticker, []).append((row.start_date, row.end_date, row.name))
    return spans


def upsert_limit_prices(session: Session, ticker: str, limits: pd.DataFrame, source: str, now: datetime) -> int:
    """Write `limits` (`trade_date` datetime64, `up_limit`, `down_limit`); returns its rows."""
    rows = [
        {"ticker": ticker, "trade_date": day.date(), "up_limit": float(up), "down_limit": float(down)}
        | {"source": source, "ingested_at": now}
        for day, up, down in zip(limits["trade_date"], limits["up_limit"], limits["down_limit"], strict=True)
    ]
    table = Base.metadata.tables["limit_prices"]
    upsert(session, table, rows, ("ticker", "trade_date"), when_changed=("up_limit", "down_limit"))
    return len(rows)


def limit_prices_of(session: Session, ticker: str, days: Collection[date]) -> dict[date, tuple[float, float]]:
    """The stored (down, up) limit prices of `ticker` on those of `days` that have them."""
    query = select(LimitPrice.trade_date, LimitPrice.down_limit, LimitPrice.up_limit).where(
        LimitPrice.ticker == ticker, LimitPrice.trade_date.in_(list(days))
    )
    return {day: (down, up) for day, down, up in session.execute(query)}
