"""Would acting on the forecasts have paid? Each rule's account beside buy-and-hold and flat.

A signal is made at the as-of close from the stored one-day-ahead forecast and its quantiles,
and filled at the target day's open (or close) under the rules of scoring/trading.py, with the
costs of scoring/costs.py on the day of each fill. Rules (docs/models.md):
- `median`: long when the median forecast's return exceeds the round-trip cost;
- `prob`: long when P(rise), the forecast CDF interpolated at the last close across the stored
  quantile levels (clamped to the outer levels), exceeds a threshold;
- `cautious`: long when the lower 80 % bound is above the last close.
Prices are as stored (unadjusted, so that the limits are the exchange's): dividends are not
counted, for the rules and buy-and-hold alike.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Final

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from forecaster.market.limits import limit_pct, limit_prices
from forecaster.model.intervals import QUANTILE_LEVELS
from forecaster.model.windows import FloatArray
from forecaster.scoring.costs import Costs
from forecaster.scoring.evaluation import matured_forecasts, model_order
from forecaster.scoring.performance import curve_stats, hit_rate, max_drawdown
from forecaster.scoring.trading import Market, equity_array, simulate
from forecaster.storage.bars import load_bars
from forecaster.storage.quantiles import quantile_array

RULES: Final[tuple[str, ...]] = ("median", "prob", "cautious")
BENCHMARKS: Final[tuple[str, ...]] = ("buy_and_hold", "flat")
COLUMNS = [
    "ticker", "model", "rule", "days", "total_return", "annual_return", "volatility", "sharpe", "max_drawdown",
    "exposure", "round_trips", "cost_drag", "hit_rate", "hit_lo", "hit_hi", "excess_annual",
]  # fmt: skip


@dataclass(frozen=True)
class Plan:
    """What to backtest and how: the rules, the prob rule's threshold, the fill, the account."""

    rules: tuple[str, ...] = RULES
    threshold: float = 0.55
    fill: str = "open"
    notional: float = 100_000.0
    costs: Costs = field(default_factory=Costs)


@dataclass(frozen=True)
class Backtest:
    """One (ticker, model): a summary row per rule and benchmark, and their equity curves."""

    ticker: str
    model: str
    rows: list[dict[str, object]]
    curves: dict[str, pd.Series]
    notional: float


def p_rise(quantiles: FloatArray, last_close: FloatArray) -> FloatArray:
    """P(price > last close) per row of (n, levels) quantile prices; NaN where one is missing."""
    out = np.full(len(last_close), np.nan)
    for i, (q, c) in enumerate(zip(quantiles, last_close, strict=True)):
        if not np.isnan(q).any():
            out[i] = 1.0 - float(np.interp(c, np.sort(q), QUANTILE_LEVELS))
    return out


def signals(rows: pd.DataFrame, rule: str, plan: Plan) -> FloatArray:
    """1.0 (long) or 0.0 (flat) per forecast row; a row without what the rule reads is flat."""
    last = rows["last_close"].to_numpy(float)
    if rule == "median":
        median = rows["q500"].fillna(rows["yhat"]).to_numpy(float)
        cost = np.array([plan.costs.round_trip(plan.notional, d) for d in rows["target_date"]])
        return np.asarray(median / last - 1.0 > cost, dtype=np.float64)
    if rule == "prob":
        return (np.nan_to_num(p_rise(quantile_array(rows), last), nan=0.0) > plan.threshold).astype(float)
    if rule == "cautious":
        return (rows["lo80"].to_numpy(float) > last).astype(float)
    raise ValueError(f"unknown rule {rule!r}; choose from {', '.join(RULES)}")


def market_of(ticker: str, bars: pd.DataFrame, fill: str) -> Market:
    """`bars` (stored, unadjusted; the day before the first fill first, for its limits) as a Market."""
    prev = bars["pre_close"].fillna(bars["close"].shift(1)).to_numpy(float)[1:]
    days = [ts.date() for ts in bars.index[1:]]
    limits = [limit_prices(p, limit_pct(ticker, d)) for p, d in zip(prev, days, strict=True)]
    return Market(
        days=days,
        fill=bars[fill].to_numpy(float)[1:],
        close=bars["close"].to_numpy(float)[1:],
        down=np.array([lo for lo, _ in limits]),
        up=np.array([hi for _, hi in limits]),
    )


def backtest(ticker: str, model: str, rows: pd.DataFrame, market: Market, plan: Plan) -> Backtest:
    """Every rule of `plan` and the benchmarks on one model's forecast `rows` (one day ahead,
    matured, in as-of order), filled on `market` (whose days run over the rows' target days)."""
    index = {d: i for i, d in enumerate(market.days)}
    rows = rows[rows["target_date"].isin(index)]
    at = [index[d] for d in rows["target_date"]]
    realised = rows["actual"].to_numpy(float) / rows["last_close"].to_numpy(float) - 1.0
    stances = {rule: signals(rows, rule, plan) for rule in plan.rules}
    stances |= dict(zip(BENCHMARKS, (np.ones(len(rows)), np.zeros(len(rows))), strict=True))
    out, curves = [], {}
    for name, stance in stances.items():
        account = simulate(market, list(zip(at, stance.astype(bool), strict=True)), plan.costs, plan.notional)
        equity = equity_array(account)
        curves[name] = pd.Series(equity, index=pd.DatetimeIndex(list(market.days)))
        out.append(
            {"ticker": ticker, "model": model, "rule": name, "days": len(equity), "first": market.days[0]}
            | {"last": market.days[-1], **curve_stats(equity, plan.notional)}
            | {"max_drawdown": max_drawdown(equity), "exposure": float(np.mean(account.long))}
            | {"round_trips": account.round_trips, "cost_drag": account.costs / plan.notional}
            | hit_rate(stance, realised)
        )
    hold = next(r for r in out if r["rule"] == "buy_and_hold")
    for row in out:
        row["excess_annual"] = float(row["annual_return"]) - float(hold["annual_return"])  # type: ignore[arg-type]
    return Backtest(ticker, model, out, curves, plan.notional)


def backtests(
    session: Session,
    plan: Plan,
    *,
    tickers: Sequence[str] | None = None,
    models: Sequence[str] | None = None,
    since: date | None = None,
    until: date | None = None,
) -> list[Backtest]:
    """The backtest of each (ticker, model) with matured one-day-ahead forecasts (target days
    within [since, until]), networks first."""
    return backtests_of(session, matured_forecasts(session, tickers=tickers, since=since, until=until), plan, models)


def backtests_of(
    session: Session, frame: pd.DataFrame, plan: Plan, models: Sequence[str] | None = None
) -> list[Backtest]:
    """`backtests` of a frame of matured forecasts (the report reads it once); bars from the session."""
    frame = frame[frame["horizon"] == 1]
    if models:
        frame = frame[frame["model"].isin(list(models))]
    out: list[Backtest] = []
    for ticker, group in frame.groupby("ticker", sort=True):
        bars = load_bars(session, str(ticker), until=max(group["target_date"]))
        for model in model_order(group["model"]):
            rows = group[group["model"] == model].sort_values("as_of")
            market = market_of(str(ticker), _from_day_before(bars, min(rows["target_date"])), plan.fill)
            out.append(backtest(str(ticker), model, rows, market, plan))
    return out


def first_per_ticker(results: Sequence[Backtest]) -> list[Backtest]:
    """Each ticker's first result (`backtests` lists a ticker's models networks first)."""
    firsts: dict[str, Backtest] = {}
    for result in results:
        firsts.setdefault(result.ticker, result)
    return list(firsts.values())


def pooled_curves(results: Sequence[Backtest]) -> dict[str, pd.Series]:
    """Each rule's and benchmark's equity over `results` together, in notionals: the sum of the
    accounts' equity over the sum of their notionals, each account from its first day (it holds
    its last equity after its last day, as a stale or suspended stock's account would). One
    result: its own curves over its notional."""
    pooled: dict[str, pd.Series] = {}
    for name in dict.fromkeys(n for r in results for n in r.curves):
        held = [r for r in results if name in r.curves]
        equity = pd.concat([r.curves[name] for r in held], axis=1, ignore_index=True).sort_index().ffill()
        notional = equity.notna().mul([r.notional for r in held], axis=1).sum(axis=1)
        pooled[name] = equity.sum(axis=1) / notional
    return pooled


def _from_day_before(bars: pd.DataFrame, first: date) -> pd.DataFrame:
    """`bars` from the trading day before `first` (whose close sets `first`'s limits) on."""
    before = bars.index[bars.index < pd.Timestamp(first)]
    start = before.max() if len(before) else bars.index[0]
    out: pd.DataFrame = bars.loc[bars.index >= start]
    return out
