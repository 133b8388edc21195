"""Read-side questions about the database, for the CLI and for notebooks."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import pandas as pd
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from forecaster.storage.quantiles import BAND_COLUMNS, CHAMPION_COLUMNS, champions
from forecaster.storage.schema import AdjFactor, Bar, Forecast, IngestLog, ModelVersion
from forecaster.storage.schema_runs import JobRun, Run, SmokeRun


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
    # Grouped by (ticker, source) in SQL and merged here: string aggregation is spelled
    # differently in SQLite (group_concat) and PostgreSQL (string_agg), and sources are few.
    rows = session.execute(
        select(Bar.ticker, Bar.source, func.count(), func.min(Bar.trade_date), func.max(Bar.trade_date))
        .group_by(Bar.ticker, Bar.source)
        .order_by(Bar.ticker, Bar.source)
    ).all()
    merged: dict[str, tuple[int, date, date, list[str]]] = {}
    for ticker, source, count, first, last in rows:
        n, lo, hi, sources = merged.get(ticker, (0, first, last, []))
        merged[ticker] = (n + count, min(lo, first), max(hi, last), [*sources, source])
    factor_counts = dict(session.execute(select(AdjFactor.ticker, func.count()).group_by(AdjFactor.ticker)).all())
    return [
        TickerSummary(
            ticker, count, first, last, ",".join(sources), factor_counts.get(ticker, 0), last_ingest(session, ticker)
        )
        for ticker, (count, first, last, sources) in merged.items()
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
    """The newest version of each (universe, kind), with how many versions it has in all."""
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


def newest_run(session: Session, *filters: ColumnElement[bool]) -> Run | None:
    """The run that started last among those matching `filters`."""
    return session.scalars(select(Run).where(*filters).order_by(Run.started_at.desc(), Run.id.desc()).limit(1)).first()


def last_smoke(session: Session) -> SmokeRun | None:
    return session.scalars(select(SmokeRun).order_by(SmokeRun.started_at.desc(), SmokeRun.id.desc()).limit(1)).first()


def latest_version(
    session: Session, ticker: str, kind: str, as_of: date, *, action: str | None = None
) -> ModelVersion | None:
    """The newest version trained with data up to `as_of` at most (never a later one: a
    backfill replaying an earlier day must not use a model that has seen its future); with
    `action`, the newest made that way (`retrain`: the line's last fresh start)."""
    made = [ModelVersion.action == action] if action else []
    return session.scalars(
        select(ModelVersion)
        .where(ModelVersion.ticker == ticker, ModelVersion.kind == kind, ModelVersion.as_of <= as_of, *made)
        .order_by(ModelVersion.as_of.desc(), ModelVersion.id.desc())
        .limit(1)
    ).first()


def recent_job_runs(session: Session, *, limit: int = 5) -> list[JobRun]:
    """The newest daemon job runs, newest first."""
    return list(session.scalars(select(JobRun).order_by(JobRun.id.desc()).limit(limit)))


# The columns of `forecasts()`: v_forecasts' columns, with the signed and relative errors too.
# `forecast` is `yhat` under the name the CLI uses (v_forecasts has both).
FORECAST_COLUMNS = [
    "ticker",
    "model",
    "model_version",
    "as_of",
    "target_date",
    "horizon",
    "target",
    "yhat",
    "forecast",
    "last_close",
    "actual",
    "error",
    "abs_error",
    "pct_error",
    "lo80",
    "hi80",
    "lo95",
    "hi95",
]
# Those computed from the others rather than read.
_DERIVED = ("forecast", "error", "abs_error", "pct_error")


def forecasts(
    session: Session,
    *,
    tickers: Sequence[str] | None = None,
    models: Sequence[str] | None = None,
    as_of: date | None = None,
    since: date | None = None,
    until: date | None = None,
    latest: bool = False,
) -> pd.DataFrame:
    """Stored forecasts with their actuals and errors where the target day's bar is in.

    `as_of` picks one as-of day; `since`/`until` an inclusive range of as-of days. With
    `latest`, only the newest as-of of each (ticker, model) within those filters (all its
    horizons). One row per forecast, ordered by ticker, model, as_of, target_date; `forecast`
    is `yhat` again (the CLI's name for it); `error` is the forecast error, yhat - actual, and
    `pct_error` is 100 * error / actual; both NaN until the actual is known.
    """
    filters = _forecast_filters(tickers, models, as_of, since, until)
    query = select(
        Forecast.ticker,
        Forecast.model,
        Forecast.model_version_id,
        Forecast.as_of,
        Forecast.target_date,
        Forecast.horizon,
        Forecast.target,
        Forecast.yhat,
        Forecast.last_close,
        Forecast.actual,
        Forecast.lo80,
        Forecast.hi80,
        Forecast.lo95,
        Forecast.hi95,
    ).where(*filters)
    if latest:
        # The same shape as v_latest_forecasts: the filters go inside the GROUP BY too, so that
        # both steps are seeks on the natural-key index (ticker, model, as_of, target_date).
        newest = (
            select(Forecast.ticker, Forecast.model, func.max(Forecast.as_of).label("as_of"))
            .where(*filters)
            .group_by(Forecast.ticker, Forecast.model)
            .subquery()
        )
        query = query.join(
            newest,
            (newest.c.ticker == Forecast.ticker)
            & (newest.c.model == Forecast.model)
            & (newest.c.as_of == Forecast.as_of),
        )
    query = query.order_by(Forecast.ticker, Forecast.model, Forecast.as_of, Forecast.target_date)
    rows = session.execute(query).all()
    frame = pd.DataFrame(rows, columns=[c for c in FORECAST_COLUMNS if c not in _DERIVED])
    # Taken from the rows, not the frame: pandas has already turned a column of ints with None
    # (the baselines' missing version) into floats with NaN, and 6 would print as 6.0000.
    frame["model_version"] = pd.Series([row[2] for row in rows], index=frame.index, dtype=object)
    actual = pd.to_numeric(frame["actual"], errors="coerce").astype(float)
    frame["actual"] = actual
    frame["forecast"] = frame["yhat"]
    frame["error"] = frame["yhat"].astype(float) - actual
    frame["abs_error"] = frame["error"].abs()
    frame["pct_error"] = 100.0 * frame["error"] / actual
    for band in BAND_COLUMNS:  # NULL (no intervals) -> NaN, as for actual
        frame[band] = pd.to_numeric(frame[band], errors="coerce").astype(float)
    return frame[FORECAST_COLUMNS]


def latest_forecasts(
    session: Session, *, tickers: Sequence[str] | None = None, models: Sequence[str] | None = None
) -> pd.DataFrame:
    """The newest as-of of each (ticker, model): what `v_latest_forecasts` shows."""
    return forecasts(session, tickers=tickers, models=models, latest=True)


def champion_forecasts(session: Session, *, tickers: Sequence[str] | None = None) -> pd.DataFrame:
    """The newest forecast of each (ticker, horizon)'s champion (v_champion), with the
    champion's pinball loss, naive's on the same days, and how many matured forecasts that took."""
    chosen = pd.DataFrame(champions(session, tickers=tickers), columns=CHAMPION_COLUMNS)
    latest = forecasts(session, tickers=tickers, models=sorted(set(chosen["model"])) or None, latest=True)
    scores = chosen.rename(columns={"n": "champion_n"})
    return latest.merge(scores, on=["ticker", "model", "horizon"], how="inner")


def _forecast_filters(
    tickers: Sequence[str] | None,
    models: Sequence[str] | None,
    as_of: date | None,
    since: date | None,
    until: date | None,
) -> list[ColumnElement[bool]]:
    filters: list[ColumnElement[bool]] = []
    if tickers:
        filters.append(Forecast.ticker.in_(list(tickers)))
    if models:
        filters.append(Forecast.model.in_(list(models)))
    if as_of is not None:
        filters.append(Forecast.as_of == as_of)
    if since is not None:
        filters.append(Forecast.as_of >= since)
    if until is not None:
        filters.append(Forecast.as_of <= until)
    return filters
