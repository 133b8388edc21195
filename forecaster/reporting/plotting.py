"""PNG plots with matplotlib's object API: no pyplot, so no global figure state in the daemon."""

import io
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import dates as mdates
from matplotlib.figure import Figure

from forecaster.market.limits import day_limit_pct, limit_prices
from forecaster.model.forecasting import Point, ValidationSeries
from forecaster.model.intervals import Interval
from forecaster.model.spec import BASELINES
from forecaster.storage.files import write_atomic

# One colour per model, stable across plots; baselines are grey and dashed.
COLOURS = {
    "rnn": "tab:blue",
    "lstm": "tab:orange",
    "gru": "tab:green",
    "ensemble": "tab:purple",
    "naive": "0.35",
    "ewma": "tab:brown",
    "drift": "0.6",
    "garch": "tab:olive",
}
HISTORY_DAYS = 60
FAN_HISTORY_DAYS = 20  # fewer days behind a fan, so that the intervals are wide enough to read
ROLLING_DAYS = 20  # target days in the rolling mean absolute error
# Whose fan the forecast plot draws: the ensemble where there is one, else the quant's baseline.
FAN_ORDER = ("ensemble", "ewma", "naive")


def forecast_figure(
    ticker: str,
    as_of: date,
    history: pd.Series,
    forecasts: Mapping[str, list[Point]],
    target: str,
    bands: Mapping[str, Sequence[Interval]] | None = None,
    st: bool = False,
) -> Figure:
    """Recent closes, then each model's and baseline's forecast for the days after `as_of`; a fan
    chart (80 % and 95 % bands, as issued) of one model, and every other model's 80 % interval
    as a bar at each target day (its range at the last one in the model's legend entry, in brackets). Closes
    at the day's limit price are marked (see `_limit_marks`; `st`: an ST stock, else the board's
    rule)."""
    fig = _figure(12, 5, right=3.2)  # the legend sits in the right margin
    ax = fig.subplots()
    bands = bands or {}
    recent = history.iloc[-(FAN_HISTORY_DAYS if bands else HISTORY_DAYS) :]
    ax.plot(recent.index, recent.to_numpy(), color="black", linewidth=1.2, label=f"{target} (history)")
    if target == "close":  # the limits are on the close
        _limit_marks(ax, ticker, history, len(recent), st)
    last_x, last_y = recent.index[-1], float(recent.iloc[-1])
    fan = next((name for name in (*FAN_ORDER, *bands) if name in bands and name in forecasts), None)
    if fan is not None:
        _fan(ax, fan, forecasts[fan], bands[fan], last_x, last_y)
    for k, (name, pts) in enumerate(forecasts.items()):
        xs = [last_x, *(pd.Timestamp(p.target_date) for p in pts)]
        ys = [last_y, *(p.yhat for p in pts)]
        barred = name in bands and name != fan
        lo, hi = ([b.lo80 for b in bands[name]], [b.hi80 for b in bands[name]]) if barred else ([], [])
        # One legend entry per model, its 80 % interval in it: two entries each made the legend
        # as tall as the plot, and drawing its text was a third of the figure's time.
        label = f"{name}: {pts[-1].yhat:.2f}" + (f" ({lo[-1]:.2f} .. {hi[-1]:.2f})" if barred else "")
        ax.plot(
            xs,
            ys,
            marker="o",
            markersize=3,
            linestyle="--" if name in BASELINES else "-",
            color=COLOURS.get(name),
            label=label,
        )
        if barred:  # dodged a little, so that the bars stay apart
            dx = pd.Timedelta(hours=6 * (k - len(forecasts) / 2))
            ax.vlines([x + dx for x in xs[1:]], lo, hi, color=COLOURS.get(name), linewidth=2.0, alpha=0.7)
    ax.axvline(last_x, color="0.8", linewidth=0.8)
    ax.set_title(f"{ticker}: forecasts as of {as_of.isoformat()} (bars: 80 % intervals)")
    ax.set_ylabel(target)
    # Beside the axes, not over them: with seven models and their intervals the legend is as
    # tall as the plot, and inside it covered the history.
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0, fontsize="small")
    ax.grid(alpha=0.3)
    return fig


def _limit_marks(ax: Any, ticker: str, closes: pd.Series, shown: int, st: bool) -> None:
    """▲ on each of the last `shown` closes at the day's limit-up price, ▼ at limit-down, each with
    a legend entry only when there is one. The limit is the board's rule from the code (ST only
    when the caller says so; a listing's first days are not known here) on the previous close;
    within a cent, as the history is adjusted (qfq) and its older prices need not be whole cents."""
    days = [d.date() for d in pd.DatetimeIndex(closes.index)]
    ups, downs = [], []
    for i in range(max(1, len(closes) - shown), len(closes)):
        pct = day_limit_pct(ticker, days[i], st=st)
        if pct is None:
            continue
        down, up = limit_prices(float(closes.iloc[i - 1]), pct)
        close = float(closes.iloc[i])
        ups += [i] if abs(close - up) < 0.01 else []
        downs += [i] if abs(close - down) < 0.01 else []
    for hits, marker, colour, label in ((ups, "^", "tab:red", "limit-up"), (downs, "v", "tab:green", "limit-down")):
        if hits:
            xs, ys = closes.index[hits], closes.iloc[hits].to_numpy()
            ax.plot(xs, ys, linestyle="none", marker=marker, color=colour, markersize=7, label=f"{label} ({len(hits)})")


def _fan(ax: Any, name: str, pts: list[Point], band: Sequence[Interval], last_x: Any, last_y: float) -> None:
    """The 95 % and 80 % bands of one model, widening from the last close (zero width there)."""
    xs = [last_x, *(pd.Timestamp(p.target_date) for p in pts)]
    colour = COLOURS.get(name, "tab:gray")
    end = band[-1]
    for lo, hi, alpha, level in (("lo95", "hi95", 0.15, 95), ("lo80", "hi80", 0.3, 80)):
        los = [last_y, *(getattr(b, lo) for b in band)]
        his = [last_y, *(getattr(b, hi) for b in band)]
        label = f"{name} {level} %: {getattr(end, lo):.2f} .. {getattr(end, hi):.2f}"
        ax.fill_between(xs, los, his, color=colour, alpha=alpha, linewidth=0, label=label)


def validation_figure(ticker: str, as_of: date, series: Mapping[str, ValidationSeries]) -> Figure:
    """Predicted vs actual on each model's inner validation slice (the newest training days)."""
    fig = _figure(10, 3 * max(1, len(series)))
    axes = fig.subplots(max(1, len(series)), 1, squeeze=False)[:, 0]
    for ax, (name, s) in zip(axes, series.items(), strict=False):
        mae = float(np.mean(np.abs(s.predicted - s.actual)))
        naive_mae = float(np.mean(np.abs(np.diff(s.actual)))) if len(s.actual) > 1 else float("nan")
        ax.plot(s.dates, s.actual, color="black", linewidth=1.0, label="actual")
        ax.plot(s.dates, s.predicted, color=COLOURS.get(name), linewidth=1.0, label=f"{name} (MAE {mae:.2f})")
        ax.set_title(
            f"{ticker} {name}: validation slice before {as_of.isoformat()} (naive day-to-day MAE {naive_mae:.2f})",
            fontsize="medium",
        )
        ax.legend(loc="upper left", fontsize="small")
        ax.grid(alpha=0.3)
    return fig


def _figure(width: float, height: float, *, right: float = 0.25) -> Figure:
    """A figure with fixed margins, in inches (room for tick labels, an axis label and a title;
    `right` for a legend beside the axes). Matplotlib's constrained layout placed them as well,
    but its solver was about half the time of drawing a figure (measured on a quiet machine: a
    three-panel validation figure to PNG, median of 7 alternating pairs, 0.96 s constrained
    against 0.52 s with these margins), and the routine draws two figures per ticker a day."""
    fig = Figure(figsize=(width, height))
    fig.subplots_adjust(
        left=0.85 / width,
        right=1 - right / width,
        bottom=0.6 / height,  # tick labels and the date offset (the year and month) below them
        top=1 - 0.4 / height,
        hspace=0.95 / 2.4,  # between panels, as a share of a panel's height (about 2.4 in)
    )
    return fig


def save_png(fig: Figure, path: Path) -> None:
    """Draw `fig` to PNG bytes, then write them with the one atomic writer. Date axes get
    concise labels (the day, the month at its start, the year once): full ISO dates under each
    tick ran into each other."""
    for ax in fig.axes:
        locator = ax.xaxis.get_major_locator()
        if isinstance(locator, mdates.AutoDateLocator):
            ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    write_atomic(path, buffer.getvalue())


def backfill_figure(ticker: str, frame: pd.DataFrame, title: str) -> Figure:
    """Predicted vs actual over a replayed range, one panel per model (and ewma, the baseline
    with intervals), with the naive line, the 80 % band as issued and its misses marked.

    `frame`: one-day-ahead matured forecasts with columns target_date, model, yhat, actual, and
    lo80 / hi80 (NaN where a model has no intervals).
    """
    present = set(frame["model"])
    models = [m for m in sorted(present) if m not in BASELINES] + [m for m in ("ewma",) if m in present]
    models = models or ["naive"]
    naive = frame[frame["model"] == "naive"].set_index("target_date")["yhat"].sort_index()
    fig = _figure(10, 3 * len(models))
    axes = fig.subplots(len(models), 1, squeeze=False)[:, 0]
    for ax, model in zip(axes, models, strict=True):
        rows = frame[frame["model"] == model].set_index("target_date").sort_index()
        mae = float(np.mean(np.abs(rows["yhat"] - rows["actual"])))
        naive_mae = float(np.mean(np.abs(naive.reindex(rows.index) - rows["actual"])))
        _band_and_misses(ax, rows, COLOURS.get(model, "tab:gray"))
        ax.plot(rows.index, rows["actual"], color="black", linewidth=1.0, label="actual")
        ax.plot(
            naive.index,
            naive.to_numpy(),
            color=COLOURS["naive"],
            linestyle="--",
            linewidth=0.9,
            label=f"naive (MAE {naive_mae:.2f})",
        )
        if model != "naive":
            ax.plot(
                rows.index,
                rows["yhat"],
                color=COLOURS.get(model),
                linewidth=1.0,
                label=f"{model} (MAE {mae:.2f}, {mae / naive_mae:.3f}x naive)",
            )
        ax.set_title(f"{ticker} {model}: {title}", fontsize="medium")
        ax.legend(loc="upper left", fontsize="small")
        ax.grid(alpha=0.3)
    return fig


def _band_and_misses(ax: Any, rows: pd.DataFrame, colour: str) -> None:
    """The 80 % band where the model has one, and a cross on each actual outside it."""
    banded = rows[rows["lo80"].notna()] if "lo80" in rows else rows.iloc[:0]
    if banded.empty:
        return
    ax.fill_between(
        banded.index, banded["lo80"], banded["hi80"], color=colour, alpha=0.2, linewidth=0, label="80 % interval"
    )
    out = banded[(banded["actual"] < banded["lo80"]) | (banded["actual"] > banded["hi80"])]
    ax.plot(
        out.index,
        out["actual"],
        "x",
        color="tab:red",
        markersize=6,
        label=f"outside: {len(out)} of {len(banded)} ({len(out) / len(banded):.0%})",
    )


def rolling_error_figure(frame: pd.DataFrame) -> Figure:
    """Each model's one-day-ahead (else shortest-horizon) absolute error over naive's, in a rolling
    window of target days: the errors in % of the actual, averaged over the tickers both forecast
    each day, then summed over the window, the model's sum over naive's. One picture for a
    watch-list of any size (of one ticker: its own); against naive, as the models' errors alone
    are all about the day's move and their lines lie on one another.

    `frame`: matured forecasts (columns ticker, model, horizon, target_date, yhat, actual).
    """
    horizon = 1 if (frame["horizon"] == 1).any() else int(frame["horizon"].min())
    rows = frame[frame["horizon"] == horizon].assign(
        pct=lambda f: (f["yhat"] - f["actual"]).abs() / f["actual"] * 100.0
    )
    naive = rows.loc[rows["model"] == "naive", ["ticker", "target_date", "pct"]]
    paired = rows[rows["model"] != "naive"].merge(naive, on=["ticker", "target_date"], suffixes=("", "_naive"))
    daily = paired.groupby(["model", "target_date"])[["pct", "pct_naive"]].mean()
    fig = _figure(10, 4)
    ax = fig.subplots()
    ax.axhline(1.0, color=COLOURS["naive"], linestyle="--", linewidth=1.0, label="naive")
    for key, per_day in daily.groupby(level="model", sort=True):
        model = str(key)
        window = per_day.droplevel("model").sort_index().rolling(ROLLING_DAYS, min_periods=1).sum()
        ratio = window["pct"] / window["pct_naive"]
        ax.plot(
            pd.to_datetime(ratio.index),
            ratio.to_numpy(),
            color=COLOURS.get(model),
            linestyle="--" if model in BASELINES else "-",
            linewidth=1.0,
            label=model,
        )
    tickers = rows["ticker"].nunique()
    who = str(rows["ticker"].iloc[0]) if tickers == 1 else f"{tickers} tickers"
    title = f"{who}: absolute error over naive's, {ROLLING_DAYS} target days rolling, horizon {horizon}"
    ax.set_title(title, fontsize="medium")
    ax.set_ylabel("error / naive's (below 1: better)")
    ax.legend(loc="upper left", fontsize="small")
    ax.grid(alpha=0.3)
    return fig
