"""The ORM models: the database's tables, typed (SQLAlchemy 2 `Mapped[]`).

Migrations under `migrations/` are the only way these tables are created; a test proves the two
agree. Dates are `Date` columns, which SQLite stores as ISO `YYYY-MM-DD` text; moments are
`UTCDateTime` columns (storage/moments.py): aware UTC in Python, stored without tzinfo.
"""

from datetime import date, datetime

from sqlalchemy import Date, Float, ForeignKey, Index, Integer, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from forecaster.storage.moments import UTCDateTime

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
    ingested_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AdjFactor(Base):
    """tushare's cumulative adjustment factor: qfq = raw * f / f_last, hfq = raw * f."""

    __tablename__ = "adj_factors"

    ticker: Mapped[str] = mapped_column(String(16), primary_key=True)
    trade_date: Mapped[date] = mapped_column(Date, primary_key=True)
    adj_factor: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(32))
    ingested_at: Mapped[datetime] = mapped_column(UTCDateTime)


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
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    fetch_seconds: Mapped[float | None] = mapped_column(Float)
    write_seconds: Mapped[float | None] = mapped_column(Float)


class ModelVersion(Base):
    """One trained model: its `.keras` file (path relative to the data dir, sha256) and all it
    takes to use or fine-tune it again: spec, scaler parameters, training window, seed."""

    __tablename__ = "model_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticker: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))  # rnn | lstm | gru
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"))
    action: Mapped[str] = mapped_column(String(16))  # retrain | finetune
    as_of: Mapped[date] = mapped_column(Date)  # trained with data up to and including this day
    train_start: Mapped[date] = mapped_column(Date)
    train_end: Mapped[date] = mapped_column(Date)
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    spec: Mapped[str] = mapped_column(Text)  # JSON: ModelSpec
    training: Mapped[str] = mapped_column(Text)  # JSON: TrainSpec used
    scaler: Mapped[str] = mapped_column(Text)  # JSON: scaler parameters
    seed: Mapped[int] = mapped_column(Integer)
    epochs_run: Mapped[int] = mapped_column(Integer)
    train_loss: Mapped[float | None] = mapped_column(Float)
    val_loss: Mapped[float | None] = mapped_column(Float)
    train_seconds: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # When retention removed the file (migration 0011); NULL while the file is kept. The row
    # stays: forecasts keep citing the version that made them.
    pruned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_model_versions_lookup", "ticker", "kind", "as_of"),)


class Forecast(Base):
    """One forecast of one target day, by a model version or a baseline (`naive`, `drift`,
    whose model_version_id is NULL). `actual` is filled in when the day's bar arrives."""

    __tablename__ = "forecasts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticker: Mapped[str] = mapped_column(String(16))
    model: Mapped[str] = mapped_column(String(16))  # rnn | lstm | gru | ensemble | naive | ewma | drift
    model_version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))
    as_of: Mapped[date] = mapped_column(Date)
    target_date: Mapped[date] = mapped_column(Date)
    horizon: Mapped[int] = mapped_column(Integer)  # trading days after as_of
    target: Mapped[str] = mapped_column(String(16))  # the bar column forecast: close | open
    yhat: Mapped[float] = mapped_column(Float)
    last_close: Mapped[float] = mapped_column(Float)  # close at as_of: the naive forecast
    actual: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Migration 0010. The model's quantiles (prices at model/intervals.QUANTILE_LEVELS; NULL for
    # a forecast without them), then its intervals as issued after the online calibration and
    # the factor that calibration applied (storage/quantiles.py names them all).
    q025: Mapped[float | None] = mapped_column(Float)
    q050: Mapped[float | None] = mapped_column(Float)
    q100: Mapped[float | None] = mapped_column(Float)
    q250: Mapped[float | None] = mapped_column(Float)
    q500: Mapped[float | None] = mapped_column(Float)
    q750: Mapped[float | None] = mapped_column(Float)
    q900: Mapped[float | None] = mapped_column(Float)
    q950: Mapped[float | None] = mapped_column(Float)
    q975: Mapped[float | None] = mapped_column(Float)
    lo80: Mapped[float | None] = mapped_column(Float)
    hi80: Mapped[float | None] = mapped_column(Float)
    lo95: Mapped[float | None] = mapped_column(Float)
    hi95: Mapped[float | None] = mapped_column(Float)
    scale80: Mapped[float | None] = mapped_column(Float)
    scale95: Mapped[float | None] = mapped_column(Float)

    __table_args__ = (
        UniqueConstraint("ticker", "model", "as_of", "target_date", name="uq_forecasts_natural_key"),
        Index("ix_forecasts_ticker_as_of", "ticker", "as_of"),
        Index("ix_forecasts_pending", "ticker", "target_date", "actual"),
    )


class Plot(Base):
    """A PNG written for a (ticker, as_of); path relative to the data dir."""

    __tablename__ = "plots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticker: Mapped[str] = mapped_column(String(16))
    as_of: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(32))  # forecast | validation
    path: Mapped[str] = mapped_column(Text)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("ticker", "as_of", "kind", name="uq_plots_natural_key"),)


class LatestAsOf(Base):
    """The newest as-of date per (ticker, model), kept current by triggers on `forecasts`
    (migration 0007), so `v_latest_forecasts` never has to group a million rows."""

    __tablename__ = "latest_as_of"

    ticker: Mapped[str] = mapped_column(String(16), primary_key=True)
    model: Mapped[str] = mapped_column(String(16), primary_key=True)
    as_of: Mapped[date] = mapped_column(Date)


class CalendarDay(Base):
    """One calendar day of an exchange, open or closed, and which source said so (migration
    0009): `override`, `tushare`, `exchange_calendars`, `estimated` or `observed` (a bar traded;
    or an estimated open day passed without one). See forecaster.market.calendar for the order."""

    __tablename__ = "trading_calendar"

    exchange: Mapped[str] = mapped_column(String(8), primary_key=True)
    cal_date: Mapped[date] = mapped_column(Date, primary_key=True)
    is_open: Mapped[bool] = mapped_column()
    source: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CalendarFetch(Base):
    """One ask of tushare `trade_cal`: its answer, so the ingest asks at most once a day."""

    __tablename__ = "calendar_fetches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    exchange: Mapped[str] = mapped_column(String(8))
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime)
    fetched_on: Mapped[date] = mapped_column(Date)  # the exchange's date then: "once a day" counts these
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))  # ok | refused | error
    days: Mapped[int] = mapped_column(Integer, default=0)  # rows answered
    changed: Mapped[int] = mapped_column(Integer, default=0)  # stored days it changed
    message: Mapped[str | None] = mapped_column(Text)


class Listing(Base):
    """One security as tushare's `stock_basic` / `index_basic` list it (or the bundled listings
    file, offline): what a code names and when it traded (migration 0015)."""

    __tablename__ = "listings"

    ticker: Mapped[str] = mapped_column(String(16), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # stock | index
    name: Mapped[str] = mapped_column(String(64))
    # A stock's board (主板, 创业板, 科创板, CDR, 北交所) or an index's market (SSE, SZSE, CSI, ...).
    market: Mapped[str | None] = mapped_column(String(32))
    exchange: Mapped[str | None] = mapped_column(String(8))  # SSE | SZSE | BSE
    list_status: Mapped[str] = mapped_column(String(1))  # L listed | D delisted | P paused | G not yet trading
    list_date: Mapped[date | None] = mapped_column(Date)
    delist_date: Mapped[date | None] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(32))  # tushare | bundled
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class IndexMember(Base):
    """One constituent of an index on one day of tushare's `index_weight` (monthly): what a
    training universe named by its index holds on a day (migration 0017)."""

    __tablename__ = "index_members"

    index_code: Mapped[str] = mapped_column(String(16), primary_key=True)
    trade_date: Mapped[date] = mapped_column(Date, primary_key=True)
    con_code: Mapped[str] = mapped_column(String(16), primary_key=True)
    weight: Mapped[float | None] = mapped_column(Float)


class ListingFetch(Base):
    """One ask of tushare's listings (`stock_basic`, `index_basic`): at most one a day, as trade_cal."""

    __tablename__ = "listing_fetches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime)
    fetched_on: Mapped[date] = mapped_column(Date)  # the exchange's date then
    status: Mapped[str] = mapped_column(String(16))  # ok | refused | error
    rows: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str | None] = mapped_column(Text)


class NamePeriod(Base):
    """One name a stock traded under, from tushare's `namechange` (migration 0016): an ST or *ST
    name over [start_date, end_date] puts the stock under the ST price limit those days. A stock
    without rows falls back to its listing's current name."""

    __tablename__ = "name_periods"

    ticker: Mapped[str] = mapped_column(String(16), primary_key=True)
    start_date: Mapped[date] = mapped_column(Date, primary_key=True)
    end_date: Mapped[date | None] = mapped_column(Date)  # None: the name it trades under now
    name: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LimitPrice(Base):
    """A bar's up and down limit prices as the exchange set them, from tushare's `stk_limit`
    (migration 0016); where a bar has none, the limits are computed from the board's rule."""

    __tablename__ = "limit_prices"

    ticker: Mapped[str] = mapped_column(String(16), primary_key=True)
    trade_date: Mapped[date] = mapped_column(Date, primary_key=True)
    up_limit: Mapped[float] = mapped_column(Float)
    down_limit: Mapped[float] = mapped_column(Float)
    source: Mapped[str] = mapped_column(String(32))
    ingested_at: Mapped[datetime] = mapped_column(UTCDateTime)
