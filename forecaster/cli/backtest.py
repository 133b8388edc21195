"""`forecaster backtest`: would acting on the stored forecasts have paid, after A-share costs?"""

from collections.abc import Sequence
from datetime import date
from pathlib import Path

import click

from forecaster.cli.options import DAY, FORMAT_OPTION, MODEL_FILTER_OPTION, TICKERS_FILE_OPTION, tickers_from
from forecaster.cli.output import echo_rows, say_for
from forecaster.cli.runtime import read_db
from forecaster.config import Settings
from forecaster.scoring.backtest import COLUMNS, RULES, Plan
from forecaster.scoring.costs import Costs

_COSTS = Costs()


@click.command()
@click.option("--ticker", "-t", multiple=True, help="ts_code; repeatable (default: all in the database).")
@TICKERS_FILE_OPTION
@MODEL_FILTER_OPTION
@click.option("--since", type=DAY, help="First target date traded.")
@click.option("--until", type=DAY, help="Last target date traded.")
@click.option("--rule", "rules", type=click.Choice(RULES), multiple=True, help="Rule; repeatable (default: all).")
@click.option("--threshold", type=click.FloatRange(0, 1), default=0.55, show_default=True, help="P(rise) of prob.")
@click.option("--fill", type=click.Choice(["open", "close"]), default="open", show_default=True, help="Fill price.")
@click.option(
    "--notional",
    type=click.FloatRange(min=0, min_open=True),
    default=100_000.0,
    show_default=True,
    help="Starting cash in CNY (where the 5 CNY commission minimum bites).",
)
@click.option(
    "--commission",
    type=click.FloatRange(min=0),
    default=_COSTS.commission,
    show_default=True,
    help="Commission per side, a fraction of the value traded.",
)
@click.option(
    "--commission-min",
    type=click.FloatRange(min=0),
    default=_COSTS.commission_min,
    show_default=True,
    help="Smallest commission per trade, CNY.",
)
@click.option(
    "--slippage-bps",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Slippage per side, in basis points of the value traded.",
)
@click.option(
    "--plot",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the equity curves to this PNG (each ticker's first model; several tickers: their accounts together).",
)
@FORMAT_OPTION
@click.pass_obj
def backtest(
    settings: Settings,
    ticker: Sequence[str],
    tickers_file: Path | None,
    model: Sequence[str],
    since: date | None,
    until: date | None,
    rules: Sequence[str],
    threshold: float,
    fill: str,
    notional: float,
    commission: float,
    commission_min: float,
    slippage_bps: float,
    plot: Path | None,
    fmt: str,
) -> None:
    """Trade each stored one-day-ahead forecast's signal and compare with buy-and-hold and flat.

    A signal made at the as-of close is filled at the next trading day's open (or close), T+1,
    with no buy at limit-up and no sell at limit-down; commission, transfer fee and stamp duty
    by date (docs/models.md). Rules: median (the median's return beats the round-trip cost),
    prob (P(rise) > --threshold), cautious (the 80 % lower bound is above the last close).
    """
    from forecaster.scoring.backtest import backtests
    from forecaster.storage.db import session_factory

    costs = Costs(commission=commission, commission_min=commission_min, slippage_bps=slippage_bps)
    plan = Plan(rules=tuple(rules) or RULES, threshold=threshold, fill=fill, notional=notional, costs=costs)
    with session_factory(read_db(settings))() as session:
        results = backtests(
            session, plan, tickers=tickers_from(ticker, tickers_file) or None, models=model or None, since=since,
            until=until,
        )  # fmt: skip
    rows = [row for result in results for row in result.rows]
    echo_rows(rows, fmt, COLUMNS, empty="no matured one-day-ahead forecasts in that range")
    if rows:
        first = min(r["first"] for r in rows)  # type: ignore[type-var]
        last = max(r["last"] for r in rows)  # type: ignore[type-var]
        for start, rates in costs.periods(first, last):  # type: ignore[arg-type]
            say_for(fmt)(f"rates from {start}: " + ", ".join(f"{k} {v:g}" for k, v in rates.items()))
    if plot is not None and results:
        from forecaster.reporting.backtest_plot import equity_figure
        from forecaster.reporting.plotting import save_png
        from forecaster.scoring.backtest import first_per_ticker

        save_png(equity_figure(first_per_ticker(results)), plot)
        say_for(fmt)(f"plot: {plot}")
