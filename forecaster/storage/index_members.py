"""An index's stored constituents (`index_members`, from tushare's `index_weight`). Functions
take the caller's Session and never commit, like the rest of `storage`."""

from collections.abc import Iterable
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from forecaster.storage.records import upsert
from forecaster.storage.schema import Base, IndexMember


def store_members(session: Session, rows: Iterable[tuple[str, date, str, float | None]]) -> int:
    """(index_code, trade_date, con_code, weight) rows, idempotent; returns how many were given."""
    values = [{"index_code": i, "trade_date": d, "con_code": c, "weight": w} for i, d, c, w in rows]
    upsert(session, Base.metadata.tables["index_members"], values, ("index_code", "trade_date", "con_code"))
    return len(values)


def members_on(session: Session, index_code: str, day: date) -> list[str]:
    """The index's constituents on its newest stored month on or before `day` (else its oldest
    stored month: a replay before the first month stored uses the first); empty when none are stored."""
    dates = select(IndexMember.trade_date).where(IndexMember.index_code == index_code)
    month = session.scalar(dates.where(IndexMember.trade_date <= day).order_by(IndexMember.trade_date.desc()))
    month = month or session.scalar(
        select(func.min(IndexMember.trade_date)).where(IndexMember.index_code == index_code)
    )
    if month is None:
        return []
    query = select(IndexMember.con_code).where(IndexMember.index_code == index_code, IndexMember.trade_date == month)
    return sorted(session.scalars(query))


def newest_month(session: Session, index_code: str) -> date | None:
    """The newest month of the index's constituents stored; None when none is."""
    return session.scalar(select(func.max(IndexMember.trade_date)).where(IndexMember.index_code == index_code))
