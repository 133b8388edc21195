"""The stored trading calendar (`trading_calendar`), its tushare fetches, and the target dates
that follow from it. Like the rest of `storage`, every function takes the caller's Session and
never commits: a calendar change and the forecasts it corrects are one transaction."""

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import TypeVar, cast

from sqlalchemy import ColumnElement, func, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from forecaster.market.builtin import xshg
from forecaster.market.calendar import EXCHANGE, Day, Source, TradingCalendar, builtin_day, replaces
from forecaster.storage.schema import Bar, CalendarDay, CalendarFetch, Forecast, ListingFetch

_Fetch = TypeVar("_Fetch", CalendarFetch, ListingFetch)

# Where the stored calendar starts: exchange_calendars' XSHG starts here too.
FIRST_STORED_DAY = date(2005, 1, 4)


def stored_days(session: Session, start: date | None = None, end: date | None = None) -> dict[date, Day]:
    query = select(CalendarDay.cal_date, CalendarDay.is_open, CalendarDay.source).where(
        CalendarDay.exchange == EXCHANGE
    )
    if start is not None:
        query = query.where(CalendarDay.cal_date >= start)
    if end is not None:
        query = query.where(CalendarDay.cal_date <= end)
    return {d: Day(d, bool(is_open), cast(Source, source)) for d, is_open, source in session.execute(query).all()}


def load_calendar(session: Session) -> TradingCalendar:
    """The stored calendar; days not stored come from the built-in sources."""
    return TradingCalendar(stored_days(session).values())


def write_days(session: Session, days: Iterable[Day], now: datetime) -> list[Day]:
    """Store the days that change what is stored, by the sources' order (`replaces`); returns them."""
    wanted = list(days)
    if not wanted:
        return []
    stored = stored_days(session, min(d.day for d in wanted), max(d.day for d in wanted))
    changed = [d for d in wanted if replaces(d, stored.get(d.day))]
    if not changed:
        return []
    rows = [
        {"exchange": EXCHANGE, "cal_date": d.day, "is_open": d.is_open, "source": d.source, "updated_at": now}
        for d in changed
    ]
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = insert(CalendarDay)
    # One statement run for many rows (executemany): a first sync writes some 8,000 days, and
    # one multi-row VALUES statement of that size takes seconds just to compile.
    columns = {c: stmt.excluded[c] for c in ("is_open", "source", "updated_at")}
    session.execute(stmt.on_conflict_do_update(index_elements=["exchange", "cal_date"], set_=columns), rows)
    return changed


def sync_builtin(session: Session, until: date, now: datetime) -> list[Day]:
    """Store the built-in days of [FIRST_STORED_DAY, until] not stored yet, and replace stored
    estimates that exchange_calendars now covers (a newer release). Two counts when nothing is due."""
    span = (until - FIRST_STORED_DAY).days + 1
    count = select(func.count()).select_from(CalendarDay).where(CalendarDay.exchange == EXCHANGE)
    stored = session.scalar(count.where(CalendarDay.cal_date.between(FIRST_STORED_DAY, until)))
    _, _, xcals_last = xshg()
    stale = session.scalar(count.where(CalendarDay.source == "estimated", CalendarDay.cal_date <= xcals_last))
    if stored == span and not stale:
        return []
    known = stored_days(session, FIRST_STORED_DAY, until)
    days = (FIRST_STORED_DAY + timedelta(days=i) for i in range(span))
    due = [builtin_day(d) for d in days if d not in known or known[d].source == "estimated"]
    return write_days(session, due, now)


def observe_open(session: Session, bar_dates: Iterable[date], now: datetime) -> list[Day]:
    """Reality wins: a day with a bar that the calendar has closed becomes open (`observed`), and
    so does an estimated open day, which the bar confirms. Published open days keep their source."""
    dates = set(bar_dates)
    if not dates:
        return []
    calendar = TradingCalendar(stored_days(session, min(dates), max(dates)).values())
    seen = [d for d in sorted(dates) if not calendar.is_open(d) or calendar.is_estimated(d)]
    return write_days(session, [Day(d, True, "observed") for d in seen], now)


def observe_closed(session: Session, first: date, last: date, now: datetime) -> list[Day]:
    """An estimated open day strictly between two bars of a ticker (`first`, `last`) on which no
    ticker has a bar did not trade: it becomes closed (`observed`). Few days are ever estimated
    and open without a bar, so each is one lookup."""
    candidates = session.scalars(
        select(CalendarDay.cal_date).where(
            CalendarDay.exchange == EXCHANGE,
            CalendarDay.source == "estimated",
            CalendarDay.is_open.is_(True),
            CalendarDay.cal_date > first,
            CalendarDay.cal_date < last,
        )
    ).all()
    closed = [d for d in candidates if session.scalar(select(Bar.ticker).where(Bar.trade_date == d).limit(1)) is None]
    return write_days(session, [Day(d, False, "observed") for d in closed], now)


def observe_all_bars(session: Session, now: datetime) -> list[Day]:
    """`observe_open` over every stored bar day (bars stored before the calendar was): one scan."""
    return observe_open(session, session.scalars(select(Bar.trade_date).distinct()), now)


def correct_target_dates(session: Session, calendar: TradingCalendar) -> int:
    """Re-derive the target dates of forecasts not yet matured: a forecast is `horizon` trading
    days after its as-of, whatever the calendar said when it was made. Returns the rows moved.

    Every row of an (ticker, model, as_of) with an open horizon is looked at, matured ones too,
    since one day dropping out shifts all later horizons; a moved row loses its actual (the
    next fill finds the right one). Rows move in two steps through a day before their as-of,
    which no target can be, so that the natural key (…, as_of, target_date) never collides.
    """
    open_groups = select(Forecast.ticker, Forecast.model, Forecast.as_of).where(Forecast.actual.is_(None))
    rows = session.execute(
        select(Forecast.id, Forecast.as_of, Forecast.horizon, Forecast.target_date).where(
            tuple_(Forecast.ticker, Forecast.model, Forecast.as_of).in_(open_groups)
        )
    ).all()
    if not rows:
        return 0
    furthest = max(r.horizon for r in rows)
    targets: dict[date, list[date]] = {}
    moves = []
    for row in rows:
        days = targets.get(row.as_of) or targets.setdefault(row.as_of, calendar.next_trading_days(row.as_of, furthest))
        if days[row.horizon - 1] != row.target_date:
            moves.append((row.id, row.as_of - timedelta(days=row.horizon), days[row.horizon - 1]))
    if moves:
        session.execute(update(Forecast), [{"id": i, "target_date": parked} for i, parked, _ in moves])
        session.execute(update(Forecast), [{"id": i, "target_date": new, "actual": None} for i, _, new in moves])
    return len(moves)


def calendar_rows(session: Session, start: date, end: date) -> dict[date, CalendarDay]:
    """The stored rows of [start, end], with when each was last set."""
    rows = session.scalars(
        select(CalendarDay).where(CalendarDay.exchange == EXCHANGE, CalendarDay.cal_date.between(start, end))
    )
    return {row.cal_date: row for row in rows}


def last_fetch(session: Session) -> CalendarFetch | None:
    """The newest tushare `trade_cal` fetch that answered (ok or refused)."""
    return newest_answered(session, CalendarFetch, CalendarFetch.exchange == EXCHANGE)


def newest_answered(session: Session, table: type[_Fetch], *where: ColumnElement[bool]) -> _Fetch | None:
    """The newest row of a fetch record (`calendar_fetches`, `listing_fetches`) whose ask was
    answered, ok or refused: what "asked today already" counts (an error is asked again)."""
    query = select(table).where(table.status.in_(("ok", "refused")), *where)
    return session.scalars(query.order_by(table.id.desc()).limit(1)).first()


def add_fetch(session: Session, fetch: CalendarFetch) -> None:
    session.add(fetch)
    session.flush()


def source_spans(session: Session) -> list[tuple[str, date, date, int]]:
    """Per source: first and last stored day and how many days it has, oldest first."""
    rows = session.execute(
        select(CalendarDay.source, func.min(CalendarDay.cal_date), func.max(CalendarDay.cal_date), func.count())
        .where(CalendarDay.exchange == EXCHANGE)
        .group_by(CalendarDay.source)
        .order_by(func.min(CalendarDay.cal_date))
    ).all()
    return [(source, first, last, n) for source, first, last, n in rows]
