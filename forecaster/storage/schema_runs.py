"""The ORM models of the routine's own records: runs and their items, daemon jobs, smoke runs.

Split from storage/schema.py (which holds `Base` and the market data, models and forecasts);
both register on the same metadata, and schema.py imports this module at its end so that
every table is known wherever `Base.metadata` is used.
"""

from datetime import date, datetime

from sqlalchemy import Date, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from forecaster.storage.moments import UTCDateTime
from forecaster.storage.schema import Base


class Run(Base):
    """One run of the daily routine (or one as-of day of a backfill)."""

    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    command: Mapped[str] = mapped_column(String(32))  # run | backfill | daemon
    as_of: Mapped[date | None] = mapped_column(Date)
    tickers: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))  # running | ok | partial | error | interrupted
    error: Mapped[str | None] = mapped_column(Text)
    # What differed from what was asked, e.g. the as-of actually used (migration 0012).
    note: Mapped[str | None] = mapped_column(Text)
    timings: Mapped[str | None] = mapped_column(Text)  # JSON: seconds per step
    pid: Mapped[int | None] = mapped_column(Integer)
    # The machine `pid` lives on: with one database shared by several machines, only a row of
    # this machine can be judged dead by its pid (migration 0008; NULL on older rows).
    host: Mapped[str | None] = mapped_column(String(255))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Refreshed after each ticker: older than FORECASTER_STALE_RUN_MINUTES, the run is over (0014).
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RunItem(Base):
    """The outcome of one (ticker, model) within a run."""

    __tablename__ = "run_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True)
    ticker: Mapped[str] = mapped_column(String(16))
    model: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(16))  # retrain | finetune | reuse | baseline | ensemble | skipped
    reason: Mapped[str | None] = mapped_column(Text)
    model_version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id"))
    status: Mapped[str] = mapped_column(String(16))  # ok | error
    error: Mapped[str | None] = mapped_column(Text)
    seconds: Mapped[float | None] = mapped_column(Float)


class SmokeRun(Base):
    """One `forecaster smoke` run: the letter-prediction check of Keras, TensorFlow and the model files."""

    __tablename__ = "smoke_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # True when every task reached 100% and reloaded identically (Boolean, from the annotation).
    ok: Mapped[bool] = mapped_column()
    seconds: Mapped[float] = mapped_column(Float)
    details: Mapped[str] = mapped_column(Text)  # JSON: one object per task (SmokeResult.to_json)
    # Versions, because "it passed last week" means little after an upgrade of either.
    keras_version: Mapped[str] = mapped_column(String(32))
    tf_version: Mapped[str] = mapped_column(String(32))


class JobRun(Base):
    """One execution of a daemon job (daily update, weekly retrain, their retries and catch-ups)."""

    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job: Mapped[str] = mapped_column(String(64))  # daily_update | weekly_retrain
    # The fire time this execution stands for (UTC): what misfire catch-up compares against.
    scheduled_for: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))  # running | ok | no-data | failed | interrupted | skipped
    as_of: Mapped[date | None] = mapped_column(Date)  # newest bar the routine forecast from
    error: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[str | None] = mapped_column(Text)
    pid: Mapped[int | None] = mapped_column(Integer)
    host: Mapped[str | None] = mapped_column(String(255))  # as Run.host
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id"))

    __table_args__ = (Index("ix_job_runs_job_scheduled_for", "job", "scheduled_for"),)
