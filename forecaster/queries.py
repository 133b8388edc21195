"""Read-side questions about the database, for the CLI and for notebooks."""

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from forecaster.schema import AdjFactor, Bar, IngestLog, JobRun, ModelVersion, Run


@dataclass(frozen=True)
class TickerSummary:
    ticker: str
    bars: int
    first: date
    last: date
    sources: str
    factors: int
    last_ingest: IngestLog | None


def ticker_summaries(session: Session) -> list[TickerSummary]:
    """One row per ticker with bars: counts, date range, sources, and its newest ingest."""
    rows = session.execute(
        select(
            Bar.ticker,
            func.count(),
            func.min(Bar.trade_date),
            func.max(Bar.trade_date),
            func.group_concat(Bar.source.distinct()),
        )
        .group_by(Bar.ticker)
        .order_by(Bar.ticker)
    ).all()
    factor_counts = dict(session.execute(select(AdjFactor.ticker, func.count()).group_by(AdjFactor.ticker)).all())
    return [
        TickerSummary(ticker, count, first, last, sources, factor_counts.get(ticker, 0), last_ingest(session, ticker))
        for ticker, count, first, last, sources in rows
    ]


def last_ingest(session: Session, ticker: str) -> IngestLog | None:
    return session.scalars(
        select(IngestLog).where(IngestLog.ticker == ticker).order_by(IngestLog.id.desc()).limit(1)
    ).first()


def failed_ingests_without_bars(session: Session) -> list[IngestLog]:
    """Newest ingest of tickers that have no bars at all (e.g. every attempt failed)."""
    with_bars = select(Bar.ticker).distinct()
    newest = select(func.max(IngestLog.id)).where(IngestLog.ticker.not_in(with_bars)).group_by(IngestLog.ticker)
    return list(session.scalars(select(IngestLog).where(IngestLog.id.in_(newest)).order_by(IngestLog.ticker)))


def current_models(session: Session) -> list[tuple[ModelVersion, int]]:
    """The newest version of each (ticker, kind), with how many versions it has in all."""
    newest = (
        select(func.max(ModelVersion.id).label("id"), func.count().label("n"))
        .group_by(ModelVersion.ticker, ModelVersion.kind)
        .subquery()
    )
    rows = session.execute(
        select(ModelVersion, newest.c.n)
        .join(newest, ModelVersion.id == newest.c.id)
        .order_by(ModelVersion.ticker, ModelVersion.kind)
    ).all()
    return [(version, count) for version, count in rows]


def last_run(session: Session) -> Run | None:
    return session.scalars(select(Run).order_by(Run.id.desc()).limit(1)).first()


def recent_job_runs(session: Session, *, limit: int = 5) -> list[JobRun]:
    """The newest daemon job runs, newest first."""
    return list(session.scalars(select(JobRun).order_by(JobRun.id.desc()).limit(limit)))
