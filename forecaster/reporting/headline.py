"""The report's first screen: per ticker, tomorrow's number from the model to trust, its range,
whether any model beat naive lately, and how the last run went.

The champion is v_champion's (lowest mean pinball loss over its last 60 matured forecasts, naive
while none beats it); its 80 % range is the band the forecast was issued with (lo80, hi80).
"Beat naive lately" is the point view beside it: MAE over the last 60 matured one-day forecasts.
"""

import html
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from forecaster.model.kinds import MODEL_KINDS
from forecaster.storage.quantiles import champions
from forecaster.storage.queries import newest_run
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
    # The headline's forecast is one day ahead: pooling longer horizons in would let a model that
    # only beats naive two days out count as beating it for tomorrow.
    ratios = {
        m: recent_mae_ratio(session, ticker, m, until=until, count=RECENT, horizon=1) for m in (*MODEL_KINDS, "drift")
    }
    return {m: r for m, r in ratios.items() if r is not None}


def champion(session: Session, ticker: str, horizon: int) -> str:
    """v_champion's model for (ticker, horizon); `naive` while it has none."""
    rows = [r for r in champions(session, tickers=[ticker]) if r["horizon"] == horizon]
    return str(rows[0]["model"]) if rows else "naive"


def interval_80(row: "pd.Series[Any]") -> tuple[float, float] | None:
    """The 80 % band the forecast was issued with, when it has one."""
    lo, hi = row.get("lo80"), row.get("hi80")
    if lo is None or hi is None or pd.isna(lo) or pd.isna(hi):
        return None
    return float(lo), float(hi)


def headline(session: Session, ticker: str, latest: pd.DataFrame) -> Headline:
    """`latest`: the report's latest-forecasts frame (every ticker's newest as-of)."""
    best = champion(session, ticker, 1)
    rows = latest[(latest["ticker"] == ticker) & (latest["model"] == best)].sort_values("horizon")
    row = rows.iloc[0] if len(rows) else None
    target = pd.Timestamp(row["target_date"]).date() if row is not None else None
    interval = interval_80(row) if row is not None else None
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
    run = newest_run(session, Run.tickers.contains(ticker))
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
