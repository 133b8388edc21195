"""The report's first screen: per ticker, what the models forecast for the next trading day (the
champion's median and both ranges, and the ensemble's beside it), why the champion is who it is,
whether any model beat naive lately, how the last run went, and plain warnings when the data is
stale or the ticker's last run failed.

The champion is v_champion's (lowest mean pinball loss over its last 60 matured forecasts, with
at least 20 of them, naive while none beats it); its ranges are the bands the forecast was issued
with. "Beat naive lately" is the point view beside it: MAE over the last 60 matured one-day
forecasts.
"""

import html
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from forecaster.market.calendar import TradingCalendar
from forecaster.model.spec import MODEL_KINDS
from forecaster.storage.bars import newest_bar_date
from forecaster.storage.calendar import load_calendar
from forecaster.storage.quantiles import champions
from forecaster.storage.queries import newest_run
from forecaster.storage.records import recent_mae_ratio
from forecaster.storage.schema_runs import Run

RECENT = 60  # matured forecasts the champion is judged on
MIN_MATURED = 20  # v_champion's minimum before a model can replace naive
_CALENDAR = "forecaster.calendar"  # the key of the calendar read once per session (Session.info)

Band = tuple[float, float]


@dataclass(frozen=True)
class Shown:
    """One model's next-day forecast as issued: its median and its 80 % and 95 % ranges."""

    model: str
    value: float
    interval: Band | None
    interval95: Band | None


@dataclass(frozen=True)
class Headline:
    ticker: str
    champion: str
    target_date: date | None
    yhat: float | None
    last_close: float | None
    interval: Band | None
    beat_naive: list[str]  # models whose MAE over the last RECENT matured forecasts is below naive's
    last_run: str
    interval95: Band | None = None
    matured: int = 0  # the champion's matured forecasts counted (v_champion's n)
    rel_pinball: float | None = None  # the champion's pinball loss over naive's
    ensemble: Shown | None = None  # beside the champion's, when the champion is another model
    warnings: list[str] = field(default_factory=list)


def _ratios(session: Session, ticker: str, until: date) -> dict[str, float]:
    # The headline's forecast is one day ahead: pooling longer horizons in would let a model that
    # only beats naive two days out count as beating it for tomorrow.
    ratios = {
        m: recent_mae_ratio(session, ticker, m, until=until, count=RECENT, horizon=1) for m in (*MODEL_KINDS, "drift")
    }
    return {m: r for m, r in ratios.items() if r is not None}


def _champion_row(session: Session, ticker: str, horizon: int) -> dict[str, Any]:
    rows = [r for r in champions(session, tickers=[ticker]) if r["horizon"] == horizon]
    return rows[0] if rows else {"model": "naive", "n": 0, "rel_pinball": None}


def champion(session: Session, ticker: str, horizon: int) -> str:
    """v_champion's model for (ticker, horizon); `naive` while it has none."""
    return str(_champion_row(session, ticker, horizon)["model"])


def _band(row: "pd.Series[Any]", level: int) -> Band | None:
    lo, hi = row.get(f"lo{level}"), row.get(f"hi{level}")
    if lo is None or hi is None or pd.isna(lo) or pd.isna(hi):
        return None
    return float(lo), float(hi)


def next_day(latest: pd.DataFrame, ticker: str, model: str) -> "pd.Series[Any] | None":
    """`model`'s one-day-ahead row of `ticker` in a latest-forecasts frame, or None."""
    rows = latest[(latest["ticker"] == ticker) & (latest["model"] == model)].sort_values("horizon")
    return rows.iloc[0] if len(rows) else None


def as_issued(row: "pd.Series[Any] | None", model: str) -> Shown | None:
    """The row's median and ranges as `model` issued them (None: no row)."""
    return None if row is None else Shown(model, float(row["yhat"]), _band(row, 80), _band(row, 95))


def headline(session: Session, ticker: str, latest: pd.DataFrame, today: date | None = None) -> Headline:
    """`latest`: the report's latest-forecasts frame (every ticker's newest as-of); `today` (at
    the exchange) for the stale-data warning, None for none."""
    best = _champion_row(session, ticker, 1)
    row = next_day(latest, ticker, str(best["model"]))
    shown = as_issued(row, str(best["model"]))
    ensemble = None if best["model"] == "ensemble" else as_issued(next_day(latest, ticker, "ensemble"), "ensemble")
    rel = best.get("rel_pinball")
    return Headline(
        ticker=ticker,
        champion=str(best["model"]),
        target_date=None if row is None else pd.Timestamp(row["target_date"]).date(),
        yhat=None if shown is None else shown.value,
        last_close=None if row is None else float(row["last_close"]),
        interval=None if shown is None else shown.interval,
        interval95=None if shown is None else shown.interval95,
        beat_naive=sorted(m for m, r in _ratios(session, ticker, date.max).items() if r < 1),
        last_run=_last_run(session, ticker),
        matured=int(best["n"]),
        rel_pinball=None if rel is None else float(rel),
        ensemble=ensemble,
        warnings=_warnings(session, ticker, today),
    )


def _last_run(session: Session, ticker: str) -> str:
    run = newest_run(session, Run.tickers.contains(ticker))
    if run is None:
        return "no run yet"
    when = run.finished_at or run.started_at
    return f"{run.command} {run.status}, {when:%Y-%m-%d %H:%M} UTC"


def _calendar(session: Session) -> TradingCalendar:
    """The stored calendar, read once per session: a report's headlines share one read-only
    session, and reading the calendar for every ticker was a fixed cost per ticker."""
    if _CALENDAR not in session.info:
        session.info[_CALENDAR] = load_calendar(session)
    calendar: TradingCalendar = session.info[_CALENDAR]
    return calendar


def _warnings(session: Session, ticker: str, today: date | None) -> list[str]:
    """Plain sentences: the newest bar is older than the last trading day; the last run failed."""
    found = []
    newest = newest_bar_date(session, ticker)
    last_day = _calendar(session).previous_trading_days(today, 1) if today else []
    if newest is not None and last_day and newest < last_day[0]:
        found.append(
            f"The newest bar is from {newest}, older than the last trading day ({last_day[0]}): "
            "these forecasts are not for the coming trading day. Check the ingest."
        )
    run = newest_run(session, Run.tickers.contains(ticker))
    # The run's note on this ticker: suspended (not forecast that day), or trading again after a gap.
    noted = (run.note or "") if run is not None else ""
    found += [f"{line}." for line in noted.splitlines() if line.startswith(f"{ticker}: ")]
    reason = None if run is None else ticker_failure(run, ticker)
    if run is not None and reason is not None:
        found.append(f"The last run ({run.command} {run.id}) failed for this ticker: {reason}.")
    return found


def ticker_failure(run: Run, ticker: str) -> str | None:
    """Why `run` failed for `ticker` (its error lines naming it, or the whole run's error), or
    None when the run did not fail for it."""
    if run.status == "ok":
        return None
    mine = [line for line in (run.error or "").splitlines() if line.startswith(ticker)]
    if mine or run.status == "error":
        return "; ".join(mine) or run.error or "no reason recorded"
    return None


def _ranges(item: Shown) -> str:
    parts = [
        f"{name} range {b[0]:.2f}–{b[1]:.2f}" for name, b in (("80 %", item.interval), ("95 %", item.interval95)) if b
    ]
    return ", " + ", ".join(parts) if parts else ""


def _forecast_sentence(item: Headline) -> str:
    if item.yhat is None:
        return "no forecast yet"
    move = f" ({item.yhat - item.last_close:+.2f} from {item.last_close:.2f})" if item.last_close else ""
    champ = Shown(item.champion, item.yhat, item.interval, item.interval95)
    text = f"{item.target_date}: <strong>{item.yhat:.2f}</strong>{move} by {html.escape(item.champion)}{_ranges(champ)}"
    if item.ensemble is not None:
        text += f"; the ensemble says {item.ensemble.value:.2f}{_ranges(item.ensemble)}"
    return text


def champion_reason(item: Headline) -> str:
    """Why the champion is who it is, with the counts the rule uses."""
    rule = f"a model replaces naive once it has at least {MIN_MATURED} matured forecasts and a lower pinball loss"
    if item.champion != "naive":
        rel = "" if item.rel_pinball is None else f" {item.rel_pinball:.2f}× naive's,"
        return f"{item.champion} is the champion: pinball loss{rel} over its last {item.matured} matured forecasts"
    if item.matured == 0:
        return f"naive is the champion: no forecast has matured yet ({rule})"
    return f"naive is the champion: no model beat it over the last {item.matured} matured forecasts ({rule})"


def headline_html(item: Headline) -> str:
    """One short block: the sentences a person reads before any table; warnings first."""
    warn = "".join(f'<p class="warning">{html.escape(w)}</p>' for w in item.warnings)
    trust = (
        f"Beat naive (MAE) over the last {RECENT} matured one-day forecasts: {', '.join(item.beat_naive)}. "
        if item.beat_naive
        else ""
    )
    return (
        f'<section class="headline"><h2>{html.escape(item.ticker)}</h2>{warn}<p>{_forecast_sentence(item)}</p>'
        f"<p>{html.escape(champion_reason(item))}. {html.escape(trust)}Last run: {html.escape(item.last_run)}.</p>"
        "</section>"
    )


__all__ = [
    "Headline",
    "Shown",
    "as_issued",
    "champion",
    "champion_reason",
    "headline",
    "headline_html",
    "next_day",
    "ticker_failure",
]
