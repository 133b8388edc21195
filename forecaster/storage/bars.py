"""Reads and writes of bars, factors and the ingest log.

Every function takes the caller's `Session` and never commits: the job boundary owns the
transaction, so one ingest is one transaction whatever it touches.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

import numpy as np
import pandas as pd
from sqlalchemy import Table, func, select, text, update
from sqlalchemy.orm import Session

from forecaster.storage.moments import stored
from forecaster.storage.schema import AdjFactor, Bar, Base, IngestLog

Adjust = Literal["none", "qfq", "hfq"]
_VALUE_COLUMNS = ["open", "high", "low", "close", "pre_close", "volume", "amount"]
# How SQLAlchemy's SQLite DateTime type writes a stored (naive UTC) moment; PostgreSQL's COPY
# reads it too. The bulk path skips the column types, so it converts with `stored` itself.
_DATETIME_TEXT = "%Y-%m-%d %H:%M:%S.%f"
# The advisory-lock key space of per-ticker writes ("bars" in ASCII); the ticker's hash is the key.
_BARS = 0x62617273


@dataclass(frozen=True)
class WriteCounts:
    new: int = 0
    changed: int = 0
    unchanged: int = 0


def _same(a: float | None, b: float | None) -> bool:
    a_missing = a is None or (isinstance(a, float) and math.isnan(a))
    b_missing = b is None or (isinstance(b, float) and math.isnan(b))
    if a_missing or b_missing:
        return a_missing and b_missing
    return a == b


def _none_for_nan(values: np.ndarray) -> list[float | None]:
    return [None if math.isnan(v) else float(v) for v in values]


def _bulk_insert(session: Session, table: Table, names: list[str], rows: list[tuple[Any, ...]]) -> None:
    """Insert many rows whose date/datetime values are already ISO text, by each database's own
    bulk path: SQLAlchemy's per-row parameter processing would otherwise be most of an ingest.

    SQLite: the driver's executemany; the text is exactly what SQLAlchemy's SQLite Date/DateTime
    types store and parse, so reads are unaffected. PostgreSQL: COPY FROM STDIN in text format,
    where the server parses the ISO text into its date and timestamp columns. Both run inside
    the session's transaction. (`db.make_engine` admits no other database.)
    """
    if not rows:
        return
    conn = session.connection()
    if conn.dialect.name == "sqlite":
        sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
        conn.exec_driver_sql(sql, rows)
        return
    driver = conn.connection.driver_connection  # psycopg 3's connection, in the session's transaction
    assert driver is not None
    with driver.cursor() as cursor, cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _one_writer_per_ticker(session: Session, ticker: str) -> None:
    """PostgreSQL: until this transaction ends, other writers of `ticker`'s bars and factors wait.

    The upserts below read what is stored, then insert the rest. SQLite lets one writer in at a
    time anyway; PostgreSQL (read committed) would let two ingests of one ticker (two machines,
    or `forecaster ingest` beside a run) both insert the same new days, and the second fail on
    the primary key. Waiting on a transaction-level advisory lock, the second reads after the
    first commits and finds those bars unchanged.
    """
    if session.get_bind().dialect.name == "postgresql":
        lock = text("SELECT pg_advisory_xact_lock(:space, hashtext(:ticker))")
        session.execute(lock, {"space": _BARS, "ticker": ticker})


def upsert_bars(session: Session, ticker: str, bars: pd.DataFrame, source: str, now: datetime) -> WriteCounts:
    """Insert new bars, update revised ones (same date, other values), leave the rest.

    Compared in Python rather than with ON CONFLICT so that the ingest log can say exactly how
    many bars were new, revised or unchanged.
    """
    if bars.empty:
        return WriteCounts()
    _one_writer_per_ticker(session, ticker)
    days = bars["trade_date"].dt.strftime("%Y-%m-%d").tolist()
    existing = {
        row[0].isoformat(): tuple(row[1:])
        for row in session.execute(
            select(Bar.trade_date, *(getattr(Bar, c) for c in _VALUE_COLUMNS)).where(
                Bar.ticker == ticker,
                Bar.trade_date.between(date.fromisoformat(min(days)), date.fromisoformat(max(days))),
            )
        )
    }
    columns = [_none_for_nan(bars[c].to_numpy(dtype="float64")) for c in _VALUE_COLUMNS]
    stamp = stored(now).strftime(_DATETIME_TEXT)
    new_rows: list[tuple[Any, ...]] = []
    changed_rows: list[dict[str, Any]] = []
    unchanged = 0
    for day, *values in zip(days, *columns, strict=True):
        old = existing.get(day)
        if old is None:
            new_rows.append((ticker, day, *values, source, stamp))
        elif all(_same(o, v) for o, v in zip(old, values, strict=True)):
            unchanged += 1
        else:
            changed_rows.append(
                {
                    "ticker": ticker,
                    "trade_date": date.fromisoformat(day),
                    **dict(zip(_VALUE_COLUMNS, values, strict=True)),
                    "source": source,
                    "ingested_at": now,
                }
            )
    names = ["ticker", "trade_date", *_VALUE_COLUMNS, "source", "ingested_at"]
    _bulk_insert(session, Base.metadata.tables["bars"], names, new_rows)
    if changed_rows:
        session.execute(update(Bar), changed_rows)  # ORM bulk update by primary key
    return WriteCounts(len(new_rows), len(changed_rows), unchanged)


def upsert_factors(session: Session, ticker: str, factors: pd.DataFrame, source: str, now: datetime) -> int:
    """Write adjustment factors; returns how many were new or different."""
    if factors.empty:
        return 0
    _one_writer_per_ticker(session, ticker)
    days = factors["trade_date"].dt.strftime("%Y-%m-%d").tolist()
    existing = {
        d.isoformat(): f
        for d, f in session.execute(
            select(AdjFactor.trade_date, AdjFactor.adj_factor).where(
                AdjFactor.ticker == ticker,
                AdjFactor.trade_date.between(date.fromisoformat(min(days)), date.fromisoformat(max(days))),
            )
        )
    }
    stamp = stored(now).strftime(_DATETIME_TEXT)
    new_rows: list[tuple[Any, ...]] = []
    changed_rows: list[dict[str, Any]] = []
    for day, value in zip(days, factors["adj_factor"].astype("float64").tolist(), strict=True):
        if day not in existing:
            new_rows.append((ticker, day, value, source, stamp))
        elif existing[day] != value:
            changed_rows.append(
                {
                    "ticker": ticker,
                    "trade_date": date.fromisoformat(day),
                    "adj_factor": value,
                    "source": source,
                    "ingested_at": now,
                }
            )
    _bulk_insert(
        session,
        Base.metadata.tables["adj_factors"],
        ["ticker", "trade_date", "adj_factor", "source", "ingested_at"],
        new_rows,
    )
    if changed_rows:
        session.execute(update(AdjFactor), changed_rows)
    return len(new_rows) + len(changed_rows)


def newest_bar_date(session: Session, tickers: str | Sequence[str], *, until: date | None = None) -> date | None:
    """The newest stored bar's date of one ticker, or of any of several; at most `until`."""
    which = Bar.ticker == tickers if isinstance(tickers, str) else Bar.ticker.in_(tickers)
    bounded = [Bar.trade_date <= until] if until is not None else []
    return session.scalar(select(func.max(Bar.trade_date)).where(which, *bounded))


def newest_bar_dates(session: Session, tickers: Sequence[str]) -> dict[str, date]:
    """Each ticker's newest stored bar; a ticker without bars is absent."""
    rows = session.execute(
        select(Bar.ticker, func.max(Bar.trade_date)).where(Bar.ticker.in_(tickers)).group_by(Bar.ticker)
    ).all()
    return {ticker: day for ticker, day in rows}


def oldest_bar_date(session: Session, ticker: str) -> date | None:
    return session.scalar(select(func.min(Bar.trade_date)).where(Bar.ticker == ticker))


def bar_days(session: Session, tickers: Sequence[str], start: date, end: date) -> list[date]:
    """The days in [start, end] on which at least one of the tickers has a bar."""
    return list(
        session.scalars(
            select(Bar.trade_date)
            .where(Bar.ticker.in_(list(tickers)), Bar.trade_date.between(start, end))
            .distinct()
            .order_by(Bar.trade_date)
        )
    )


def tickers_with_bar(session: Session, tickers: Sequence[str], day: date) -> list[str]:
    """Those of `tickers` with a bar on `day`."""
    return list(session.scalars(select(Bar.ticker).where(Bar.ticker.in_(list(tickers)), Bar.trade_date == day)))


def load_bars(
    session: Session,
    ticker: str,
    *,
    since: date | None = None,
    until: date | None = None,
    adjust: Adjust = "none",
) -> pd.DataFrame:
    """Bars of `ticker` in time order, indexed by trade_date (datetime64).

    `until` is inclusive and is the only way forecasting code reads history, so nothing after
    an as-of date can leak in. `qfq` anchors on the newest factor *up to `until`*, which keeps
    it leak-free too; bars without a factor of their own (e.g. from the course CSV) take the
    nearest known one.
    """
    query = select(Bar.trade_date, *(getattr(Bar, c) for c in _VALUE_COLUMNS)).where(Bar.ticker == ticker)
    if since is not None:
        query = query.where(Bar.trade_date >= since)
    if until is not None:
        query = query.where(Bar.trade_date <= until)
    rows = session.execute(query.order_by(Bar.trade_date)).all()
    frame = pd.DataFrame(rows, columns=["trade_date", *_VALUE_COLUMNS])
    frame["trade_date"] = pd.to_datetime(frame["trade_date"])
    frame = frame.set_index("trade_date").astype("float64")
    if adjust == "none" or frame.empty:
        return frame
    return _adjusted(session, ticker, frame, adjust, until)


def _adjusted(session: Session, ticker: str, frame: pd.DataFrame, adjust: Adjust, until: date | None) -> pd.DataFrame:
    query = select(AdjFactor.trade_date, AdjFactor.adj_factor).where(AdjFactor.ticker == ticker)
    if until is not None:
        query = query.where(AdjFactor.trade_date <= until)
    factors = pd.Series(dict(session.execute(query).all()), dtype="float64")
    if factors.empty:
        return frame  # no factors known: the series stays unadjusted
    factors.index = pd.DatetimeIndex(pd.to_datetime(factors.index))
    f = factors.reindex(factors.index.union(pd.DatetimeIndex(frame.index))).ffill().bfill().reindex(frame.index)
    scale = f / f.iloc[-1] if adjust == "qfq" else f
    out = frame.copy()
    for column in ("open", "high", "low", "close", "pre_close"):
        out[column] = out[column] * scale
    return out


def add_ingest_log(session: Session, entry: IngestLog) -> None:
    session.add(entry)
