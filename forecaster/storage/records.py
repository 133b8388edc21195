"""Reads and writes of forecasts and plots. Like every storage module, each function takes the
caller's Session and never commits."""

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, case, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from forecaster.model.forecasting import Point
from forecaster.model.intervals import Interval
from forecaster.model.spec import BASELINES, ENSEMBLE, SKIPPED
from forecaster.storage.bars import newest_bar_date
from forecaster.storage.quantiles import INTERVAL_COLUMNS, QUANTILE_COLUMNS, interval_values
from forecaster.storage.schema import Bar, Base, Forecast, Plot
from forecaster.storage.schema_runs import Run, RunItem

# One multi-row INSERT holds this many rows: a row's values stay under SQLite's bound on
# parameters a statement (32,766) up to 32 columns, where a backfill writes years of days at once.
ROWS_A_STATEMENT = 1000


def upsert(
    session: Session, table: Table, rows: list[dict[str, Any]], keys: Sequence[str], *, when_changed: Sequence[str] = ()
) -> None:
    """INSERT ... ON CONFLICT (keys) DO UPDATE: idempotent writes on natural keys.

    With `when_changed`, an existing row is only rewritten when one of those columns differs,
    so re-running the same day leaves its rows exactly as they were (created_at included).
    Many rows go in statements of at most `ROWS_A_STATEMENT` each, all in the caller's transaction.
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    for first in range(0, len(rows), ROWS_A_STATEMENT):
        stmt = insert(table).values(rows[first : first + ROWS_A_STATEMENT])
        changing = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in (*keys, "id")}
        where = or_(*(table.c[c].is_distinct_from(stmt.excluded[c]) for c in when_changed)) if when_changed else None
        session.execute(stmt.on_conflict_do_update(index_elements=list(keys), set_=changing, where=where))


def write_forecasts(
    session: Session,
    *,
    ticker: str,
    model: str,
    model_version_id: int | None,
    run_id: int | None,
    as_of: date,
    target: str,
    last_close: float,
    forecast: list[Point],
    now: datetime,
    intervals: Sequence[Interval | None] | None = None,
) -> None:
    """One row per target day; re-running the same as-of replaces the row (newest version wins).

    `intervals`, one per point: the calibrated intervals to issue (see storage/quantiles)."""
    bands = list(intervals) if intervals is not None else [None] * len(forecast)
    rows = [
        {
            "ticker": ticker,
            "model": model,
            "model_version_id": model_version_id,
            "run_id": run_id,
            "as_of": as_of,
            "target_date": p.target_date,
            "horizon": p.horizon,
            "target": target,
            "yhat": p.yhat,
            "last_close": last_close,
            "actual": None,
            "created_at": now,
            **interval_values(p, band),
        }
        for p, band in zip(forecast, bands, strict=True)
    ]
    upsert(
        session,
        Base.metadata.tables["forecasts"],
        rows,
        ("ticker", "model", "as_of", "target_date"),
        when_changed=(
            "yhat",
            "model_version_id",
            "horizon",
            "target",
            "last_close",
            *QUANTILE_COLUMNS,
            *INTERVAL_COLUMNS,
        ),
    )


def fill_actuals(session: Session, ticker: str, *, revisit_days: int = 15) -> int:
    """Set `actual` on forecasts whose target day now has a bar. Recent ones are looked at again,
    so a bar revised by a later ingest corrects its actual too."""
    value = (
        select(case((Forecast.target == "open", Bar.open), else_=Bar.close))
        .where(Bar.ticker == Forecast.ticker, Bar.trade_date == Forecast.target_date)
        .scalar_subquery()
    )
    newest = newest_bar_date(session, ticker)
    if newest is None:
        return 0
    since = newest - timedelta(days=revisit_days)
    result = session.execute(
        update(Forecast)
        .where(
            Forecast.ticker == ticker,
            Forecast.target_date <= newest,
            (Forecast.actual.is_(None)) | (Forecast.target_date >= since),
        )
        .values(actual=value)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def recent_mae_ratio(
    session: Session,
    ticker: str,
    model: str,
    *,
    until: date,
    count: int,
    horizon: int | None = None,
    after: date | None = None,
) -> float | None:
    """The model's MAE over its last `count` matured forecasts (target day <= `until`, so this is
    known at `until`) divided by naive's MAE on the same (as_of, target_date) pairs; only those of
    `horizon` when given (None: every horizon, pooled), and only those made after `after` when
    given (a retrain's day: the forecasts of the version that replaced the drifting one)."""
    naive = aliased(Forecast)
    rows = session.execute(
        select(Forecast.yhat, naive.yhat, Forecast.actual)
        .join(
            naive,
            and_(
                naive.ticker == Forecast.ticker,
                naive.as_of == Forecast.as_of,
                naive.target_date == Forecast.target_date,
                naive.model == "naive",
            ),
        )
        .where(
            Forecast.ticker == ticker,
            Forecast.model == model,
            Forecast.target_date <= until,
            Forecast.actual.is_not(None),
            *([Forecast.horizon == horizon] if horizon is not None else []),
            *([Forecast.as_of > after] if after is not None else []),
        )
        .order_by(Forecast.target_date.desc())
        .limit(count)
    ).all()
    if len(rows) < max(2, count // 2):
        return None
    model_mae = sum(abs(m - a) for m, _, a in rows if a is not None) / len(rows)
    naive_mae = sum(abs(n - a) for _, n, a in rows if a is not None) / len(rows)
    return model_mae / naive_mae if naive_mae > 0 else None


def complete_days(session: Session, tickers: Sequence[str], kinds: Sequence[str], start: date, end: date) -> set[date]:
    """Days on which every (ticker with a bar, network of `kinds` or baseline) has its forecasts
    stored, and the ensemble too where a network forecast quantiles that day (it is written after
    the last network)."""
    wanted = len(kinds) + len(BASELINES)
    quantiled = Forecast.model.in_(list(kinds)) & Forecast.q500.is_not(None)
    per_ticker = (
        select(
            Forecast.as_of,
            Forecast.ticker,
            func.count(case((Forecast.model != ENSEMBLE, Forecast.model)).distinct()).label("models"),
            func.count(case((quantiled, Forecast.model)).distinct()).label("quantiled"),
            func.sum(case((Forecast.model == ENSEMBLE, 1), else_=0)).label("ensembles"),
        )
        .where(
            Forecast.ticker.in_(list(tickers)),
            Forecast.as_of.between(start, end),
            Forecast.model.in_([*kinds, *BASELINES, ENSEMBLE]),
        )
        .group_by(Forecast.as_of, Forecast.ticker)
        .subquery()
    )
    # A network skipped for a young ticker that day (too few bars) counts as done: it has no forecast to wait for.
    skipped = (
        select(Run.as_of, RunItem.ticker, func.count(RunItem.model.distinct()).label("skipped"))
        .join(Run, Run.id == RunItem.run_id)
        .where(RunItem.action == SKIPPED, RunItem.ticker.in_(list(tickers)), Run.as_of.between(start, end))
        .group_by(Run.as_of, RunItem.ticker)
        .subquery()
    )
    c, s = per_ticker.c, skipped.c
    joined = per_ticker.outerjoin(skipped, (s.as_of == c.as_of) & (s.ticker == c.ticker))
    whole = (c.models + func.coalesce(s.skipped, 0) >= wanted) & ((c.quantiled < 2) | (c.ensembles > 0))
    done = select(c.as_of, func.count()).select_from(joined).where(whole).group_by(c.as_of)
    bars_per_day: dict[date, int] = dict(
        session.execute(
            select(Bar.trade_date, func.count())
            .where(Bar.ticker.in_(list(tickers)), Bar.trade_date.between(start, end))
            .group_by(Bar.trade_date)
        ).all()
    )
    return {day for day, n in session.execute(done).all() if n >= bars_per_day.get(day, 0)}


def record_plot(
    session: Session, *, ticker: str, as_of: date, kind: str, path: str, run_id: int | None, now: datetime
) -> None:
    row = {"ticker": ticker, "as_of": as_of, "kind": kind, "path": path, "run_id": run_id, "created_at": now}
    upsert(session, Base.metadata.tables["plots"], [row], ("ticker", "as_of", "kind"))


def recent_plots(session: Session, ticker: str, kind: ColumnElement[bool], *, limit: int = 5) -> list[Plot]:
    """The ticker's newest recorded plots of a kind (`kind`: a filter on Plot.kind), newest first."""
    return list(
        session.scalars(
            select(Plot).where(Plot.ticker == ticker, kind).order_by(Plot.as_of.desc(), Plot.id.desc()).limit(limit)
        )
    )
