"""The ORM models: the database's tables, typed (SQLAlchemy 2 `Mapped[]`).

Migrations under `migrations/` are the only way these tables are created; a test proves the two
agree. Dates are `Date` columns, which SQLite stores as ISO `YYYY-MM-DD` text.
"""

from datetime import date, datetime

from sqlalchemy import Date, DateTime, Float, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# A naming convention keeps constraint names stable, which SQLite batch migrations need.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Bar(Base):
    """One daily bar, **unadjusted** as the exchange printed it (the course CSV is the exception:
    it is stored as given, see data/SOURCES.md, and marked by `source`)."""

    __tablename__ = "bars"

    ticker: Mapped[str] = mapped_column(String(16), primary_key=True)
    trade_date: Mapped[date] = mapped_column(Date, primary_key=True)
    open: Mapped[float] = mapped_column(Float)
    high: Mapped[float] = mapped_column(Float)
    low: Mapped[float] = mapped_column(Float)
    close: Mapped[float] = mapped_column(Float)
    pre_close: Mapped[float | None] = mapped_column(Float)
    # Volume in lots of 100 shares, as both tushare `daily` and the course CSV give it.
    volume: Mapped[float] = mapped_column(Float)
    # Turnover in thousands of CNY (tushare's unit); the course CSV has none.
    amount: Mapped[float | None] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(32))
    ingested_at: Mapped[datetime] = mapped_column(DateTime)


class AdjFactor(Base):
    """tushare's cumulative adjustment factor: qfq = raw * f / f_last, hfq = raw * f."""

    __tablename__ = "adj_factors"

    ticker: Mapped[str] = mapped_column(String(16), primary_key=True)
    trade_date: Mapped[date] = mapped_column(Date, primary_key=True)
    adj_factor: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(32))
    ingested_at: Mapped[datetime] = mapped_column(DateTime)


class IngestLog(Base):
    """One row per ingest of one ticker, successful or not."""

    __tablename__ = "ingest_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticker: Mapped[str] = mapped_column(String(16), index=True)
    source: Mapped[str] = mapped_column(String(32))
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))  # ok | error
    rows_new: Mapped[int] = mapped_column(Integer, default=0)
    rows_changed: Mapped[int] = mapped_column(Integer, default=0)
    rows_unchanged: Mapped[int] = mapped_column(Integer, default=0)
    factors_written: Mapped[int] = mapped_column(Integer, default=0)
    # Bars dated on days the trading calendar says were closed: kept, but flagged here.
    closed_day_bars: Mapped[int] = mapped_column(Integer, default=0)
    warnings: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    fetch_seconds: Mapped[float | None] = mapped_column(Float)
    write_seconds: Mapped[float | None] = mapped_column(Float)
