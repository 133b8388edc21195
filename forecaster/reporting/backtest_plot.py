"""The backtest in pictures and in the report: each rule's equity curve beside buy-and-hold, with
drawdowns below (matplotlib's object API, no pyplot), and the report's section."""

import html
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure
from sqlalchemy.orm import Session

from forecaster.reporting.plotting import _figure, save_png
from forecaster.scoring.backtest import COLUMNS, Backtest, Plan, backtests_of, first_per_ticker, pooled_curves
from forecaster.scoring.ic import IC_COLUMNS, MIN_TICKERS, ic_rows
from forecaster.scoring.performance import drawdowns

# The benchmarks in grey, black for buy-and-hold; the rules in colour.
STYLES = {
    "buy_and_hold": {"color": "black", "linewidth": 1.3},
    "flat": {"color": "0.6", "linestyle": ":"},
    "median": {"color": "tab:blue"},
    "prob": {"color": "tab:orange"},
    "cautious": {"color": "tab:green"},
}
BACKTEST_IMAGE = "backtest.png"
Table = Callable[[list[dict[str, Any]], list[str], str, str], str]


def equity_figure(results: Sequence[Backtest]) -> Figure:
    """Equity (1 = the starting notional) of each rule and benchmark, drawdowns beneath: of one
    (ticker, model), or of several tickers' accounts together (`pooled_curves`)."""
    return _equity(pooled_curves(results), _title(results))


def _title(results: Sequence[Backtest]) -> str:
    models = sorted({r.model for r in results})
    if len(results) == 1:
        return f"{results[0].ticker} {results[0].model}: equity after costs"
    return f"{len(results)} tickers, {', '.join(models)}: equity after costs, one notional each from its first day"


def _equity(curves: Mapping[str, pd.Series], title: str) -> Figure:
    fig = _figure(10, 6)
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[2, 1])
    for name, curve in curves.items():
        top.plot(curve.index, curve.to_numpy(), label=name, **STYLES.get(name, {}))  # type: ignore[arg-type]
        if name != "flat":
            bottom.plot(curve.index, drawdowns(curve.to_numpy()), **STYLES.get(name, {}))  # type: ignore[arg-type]
    top.set_title(title, fontsize="medium")
    top.set_ylabel("equity / notional")
    bottom.set_ylabel("drawdown")
    top.legend(loc="upper left", fontsize="small")
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
    return fig


def backtest_section(session: Session, img: Path, matured: pd.DataFrame, table: Table) -> str:
    """The report's "Would acting on it have paid?" section: the default rules and costs per
    (ticker, model), one equity figure of the first model's accounts of every ticker together
    (written into `img`; one figure, not one per ticker: a watch-list of hundreds would put
    hundreds on the index, and drawing them was a large part of a daily run's time per ticker),
    and the cross-section's IC when five or more tickers share forecast days."""
    plan = Plan()
    results = backtests_of(session, matured, plan)
    parts = [
        "<h2>Would acting on it have paid?</h2>",
        "<p>Each rule traded on the one-day-ahead forecasts, filled at the next open with T+1, price limits, "
        "commission, transfer fee and stamp duty by date (docs/models.md); excess_annual is the annualised "
        "return minus buy-and-hold's on the same days.</p>",
        table([r for b in results for r in b.rows], COLUMNS, "backtest", "no matured one-day-ahead forecasts yet"),
    ]
    first = first_per_ticker(results)
    if first:
        save_png(equity_figure(first), img / BACKTEST_IMAGE)
        alt = html.escape(f"{_title(first)}: each rule and buy-and-hold, drawdowns below")
        parts.append(f'<figure><img src="img/{BACKTEST_IMAGE}" alt="{alt}"><figcaption>{alt}</figcaption></figure>')
    ic = ic_rows(matured)
    parts.append(f"<h3>Across tickers (days with {MIN_TICKERS} or more)</h3>")
    parts.append(table(ic, IC_COLUMNS, "ic", f"fewer than {MIN_TICKERS} tickers with forecasts on the same days"))
    return "\n".join(parts)
