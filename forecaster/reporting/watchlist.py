"""The watch-list: one row per ticker that answers "what does it do tomorrow" at a glance.

Its code and name, the last close and its day, the next trading day's forecast (the ensemble's,
else the champion's median) with its 80 % and 95 % ranges, the expected move in %, the champion,
and a status read from the ticker's newest run: `failed` (the run failed for it), `delisted` or
`suspended` (not forecast: no bar on the run's day), `not listed yet` (its listing is to come), `young`
(a network skipped for too few bars), else `ok`.
The report's first table, `forecaster status` and `forecasts --latest --overview` show these rows.
"""

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from forecaster.model.spec import ENSEMBLE, SKIPPED
from forecaster.reporting.headline import as_issued, champion, next_day, ticker_failure
from forecaster.storage.listings import ticker_names
from forecaster.storage.queries import newest_run
from forecaster.storage.schema_runs import Run, RunItem

WATCH_COLUMNS = [
    "ticker", "name", "last_close", "close_date", "target_date", "forecast", "lo80", "hi80", "lo95", "hi95",
    "move_pct", "champion", "status",
]  # fmt: skip


@dataclass(frozen=True)
class WatchRow:
    ticker: str
    name: str | None
    last_close: float | None
    close_date: date | None  # the as-of day of the newest forecast: the close it starts from
    target_date: date | None
    forecast: float | None
    by: str | None  # the model whose forecast is shown: ensemble, else the champion
    lo80: float | None
    hi80: float | None
    lo95: float | None
    hi95: float | None
    move_pct: float | None
    champion: str
    status: str  # ok | young | suspended | delisted | not listed yet | failed | no run
    detail: str  # why that status, in words ("" for ok)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def watchlist(session: Session, tickers: Sequence[str], latest: pd.DataFrame) -> list[WatchRow]:
    """One row per ticker, in the given order; `latest`: the latest-forecasts frame."""
    names = ticker_names(session, tickers)  # one read for all: a name per listed ticker
    return [_row(session, t, latest, names.get(t)) for t in tickers]


def _row(session: Session, ticker: str, latest: pd.DataFrame, name: str | None) -> WatchRow:
    best = champion(session, ticker, 1)
    by = ENSEMBLE if next_day(latest, ticker, ENSEMBLE) is not None else best
    row = next_day(latest, ticker, by)
    shown = as_issued(row, by)
    close = None if row is None else float(row["last_close"])
    move = None if shown is None or not close else 100.0 * (shown.value - close) / close
    lo80, hi80 = shown.interval if shown and shown.interval else (None, None)
    lo95, hi95 = shown.interval95 if shown and shown.interval95 else (None, None)
    status, detail = ticker_status(session, ticker)
    return WatchRow(
        ticker=ticker,
        name=name,
        last_close=close,
        close_date=None if row is None else pd.Timestamp(row["as_of"]).date(),
        target_date=None if row is None else pd.Timestamp(row["target_date"]).date(),
        forecast=None if shown is None else shown.value,
        by=None if shown is None else by,
        lo80=lo80,
        hi80=hi80,
        lo95=lo95,
        hi95=hi95,
        move_pct=move,
        champion=best,
        status=status,
        detail=detail,
    )


def ticker_status(session: Session, ticker: str) -> tuple[str, str]:
    """(status, why) of the ticker as its newest run left it; the first that applies of failed,
    delisted, suspended, not listed yet, young, ok."""
    run = newest_run(session, Run.tickers.contains(ticker))
    if run is None:
        return "no run", ""
    failure = ticker_failure(run, ticker)
    if failure is not None:
        return "failed", failure
    noted = [line.removeprefix(f"{ticker}: ") for line in (run.note or "").splitlines()]
    # The run's notes: `delisted on D ...`, `suspended since D ...`, `not listed yet: NAME lists on D`.
    for stale in ("delisted", "suspended", "not listed yet"):
        lines = [line for line in noted if line.startswith(stale)]
        if lines:
            return stale, lines[0].removeprefix(stale).lstrip(": ")
    skipped = session.execute(
        select(RunItem.model, RunItem.reason).where(
            RunItem.run_id == run.id, RunItem.ticker == ticker, RunItem.action == SKIPPED
        )
    ).all()
    if skipped:
        return "young", "; ".join(f"{model}: {reason}" for model, reason in skipped)
    return "ok", ""


__all__ = ["WATCH_COLUMNS", "WatchRow", "ticker_status", "watchlist"]
