"""The queries behind retention: which model files and plots are past keeping, and marking them.

Like the rest of `storage/`, every function takes the caller's Session and never commits; the
files themselves are removed by `forecaster.routine.retention`.
"""

from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from forecaster.storage.schema import ModelVersion, Plot

# The daily plots, two a ticker a day; a backfill's plot is one per command and is kept.
DAILY_PLOT_KINDS = ("forecast", "validation")


def versions_past_keeping(session: Session, keep: int, *, protect: Collection[int] = ()) -> list[ModelVersion]:
    """Versions whose file may go: beyond the `keep` newest of their (universe, kind) by (as_of, id)
    — the newest is the current one — and not in `protect` (versions a run still reads), and not
    pruned already."""
    rank = (
        func.row_number()
        .over(
            partition_by=(ModelVersion.ticker, ModelVersion.kind),
            order_by=(ModelVersion.as_of.desc(), ModelVersion.id.desc()),
        )
        .label("rank")
    )
    ranked = select(ModelVersion.id, rank).subquery()
    old = select(ranked.c.id).where(ranked.c.rank > keep)
    query = select(ModelVersion).where(
        ModelVersion.id.in_(old), ModelVersion.pruned_at.is_(None), ModelVersion.id.not_in(list(protect))
    )
    return list(session.scalars(query.order_by(ModelVersion.ticker, ModelVersion.kind, ModelVersion.id)))


def pruned_versions(session: Session) -> list[ModelVersion]:
    """Every version marked pruned: their files must be absent (a removal cut short is retried)."""
    return list(session.scalars(select(ModelVersion).where(ModelVersion.pruned_at.is_not(None))))


def mark_pruned(session: Session, version_ids: Collection[int], *, now: datetime) -> None:
    if version_ids:
        session.execute(
            update(ModelVersion)
            .where(ModelVersion.id.in_(list(version_ids)), ModelVersion.pruned_at.is_(None))
            .values(pruned_at=now)
        )


def plots_past_keeping(session: Session, keep_days: int) -> list[Plot]:
    """Daily plots older than `keep_days` calendar days before their ticker's newest daily plot
    (counted from the data, not the wall clock, so a backfill of 2019 keeps 2019's last days)."""
    newest = (
        select(Plot.ticker, func.max(Plot.as_of).label("newest"))
        .where(Plot.kind.in_(DAILY_PLOT_KINDS))
        .group_by(Plot.ticker)
        .subquery()
    )
    rows = session.execute(
        select(Plot, newest.c.newest)
        .join(newest, newest.c.ticker == Plot.ticker)
        .where(Plot.kind.in_(DAILY_PLOT_KINDS))
        .order_by(Plot.ticker, Plot.as_of, Plot.kind)
    ).all()
    return [plot for plot, last in rows if plot.as_of < last - timedelta(days=keep_days)]


def delete_plots(session: Session, plot_ids: Collection[int]) -> None:
    if plot_ids:
        session.execute(delete(Plot).where(Plot.id.in_(list(plot_ids))))
