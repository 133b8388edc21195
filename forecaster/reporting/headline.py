"""The report's first screen: per ticker, tomorrow's number from the model to trust, its range,
whether any model beat naive lately, and how the last run went.

`champion` and `interval_80` are the two seams the interval work (issue 17) replaces: today the
champion is chosen from point scores (lowest MAE over the last 60 matured forecasts, naive unless
a model beats it) and no forecast carries a range yet.
"""

import html
from dataclasses import dataclass
from datetime import date

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from forecaster.model.kinds import MODEL_KINDS
from forecaster.storage.records import recent_mae_ratio
from forecaster.storage.schema import Run

RECENT = 60  # matured forecasts the champion is judged on


@dataclass(frozen=True)
class Headline:
    ticker: str
    champion: str
    target_date: date | None
    yhat: float | None
    last_close: float | None
    interval: tuple[float, float] | None
    beat_naive: list[str]  # models whose MAE over the last RECENT matured forecasts is below naive's
    last_run: str


def _ratios(session: Session, ticker: str, until: date) -> dict[str, float]:
    ratios = {m: recent_mae_ratio(session, ticker, m, until=until, count=RECENT) for m in (*MODEL_KINDS, "drift")}
    return {m: r for m, r in ratios.items() if r is not None}


def champion(session: Session, ticker: str, horizon: int) -> str:
    """The model to quote: the lowest MAE relative to naive over the last 60 matured forecasts,
    or `naive` while no model is below 1. (Horizon 1 only until scores per horizon exist.)"""
    del horizon  # recent_mae_ratio scores every horizon together today; issue 17's v_champion is per horizon
    ratios = _ratios(session, ticker, date.max)
    best = min(ratios, key=lambda m: ratios[m], default=None)
    return best if best is not None and ratios[best] < 1 else "naive"


def interval_80(
    session: Session, ticker: str, model: str, as_of: date, target_date: date
) -> tuple[float, float] | None:
    """The forecast's 80 % range, once forecasts carry quantiles (issue 17); None until then."""
    return None


def headline(session: Session, ticker: str, latest: pd.DataFrame) -> Headline:
    """`latest`: the report's latest-forecasts frame (every ticker's newest as-of)."""
    best = champion(session, ticker, 1)
    rows = latest[(latest["ticker"] == ticker) & (latest["model"] == best)].sort_values("horizon")
    row = rows.iloc[0] if len(rows) else None
    target = pd.Timestamp(row["target_date"]).date() if row is not None else None
    as_of = pd.Timestamp(row["as_of"]).date() if row is not None else None
    interval = interval_80(session, ticker, best, as_of, target) if as_of and target else None
    ratios = _ratios(session, ticker, date.max)
    return Headline(
        ticker=ticker,
        champion=best,
        target_date=target,
        yhat=float(row["yhat"]) if row is not None else None,
        last_close=float(row["last_close"]) if row is not None else None,
        interval=interval,
        beat_naive=sorted(m for m, r in ratios.items() if r < 1),
        last_run=_last_run(session, ticker),
    )


def _last_run(session: Session, ticker: str) -> str:
    run = session.scalars(
        select(Run).where(Run.tickers.contains(ticker)).order_by(Run.started_at.desc(), Run.id.desc()).limit(1)
    ).first()
    if run is None:
        return "no run yet"
    when = run.finished_at or run.started_at
    return f"{run.command} {run.status}, {when:%Y-%m-%d %H:%M} UTC"


def headline_html(item: Headline) -> str:
    """One short block: the sentence a person reads before any table."""
    if item.yhat is None:
        forecast = "no forecast yet"
    else:
        move = f" ({item.yhat - item.last_close:+.2f} from {item.last_close:.2f})" if item.last_close else ""
        forecast = f"{item.target_date}: <strong>{item.yhat:.2f}</strong>{move} by {html.escape(item.champion)}"
        if item.interval is not None:
            forecast += f", 80 % range {item.interval[0]:.2f}–{item.interval[1]:.2f}"
    trust = (
        f"beat naive over the last {RECENT} matured forecasts: {', '.join(item.beat_naive)}"
        if item.beat_naive
        else f"no model beat naive over the last {RECENT} matured forecasts"
    )
    return (
        f'<section class="headline"><h2>{html.escape(item.ticker)}</h2><p>{forecast}</p>'
        f"<p>{html.escape(trust)}. Last run: {html.escape(item.last_run)}.</p></section>"
    )


__all__ = ["Headline", "champion", "headline", "headline_html", "interval_80"]
