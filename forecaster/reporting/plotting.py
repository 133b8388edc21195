"""PNG plots with matplotlib's object API: no pyplot, so no global figure state in the daemon."""

import io
from collections.abc import Mapping
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from forecaster.model.forecasting import Point, ValidationSeries
from forecaster.storage.files import write_atomic

# One colour per model, stable across plots; baselines are grey and dashed.
COLOURS = {"rnn": "tab:blue", "lstm": "tab:orange", "gru": "tab:green", "naive": "0.35", "drift": "0.6"}
HISTORY_DAYS = 60
ROLLING_DAYS = 20  # the window of the rolling mean absolute error


def forecast_figure(
    ticker: str, as_of: date, history: pd.Series, forecasts: Mapping[str, list[Point]], target: str
) -> Figure:
    """Recent closes, then each model's and baseline's forecast for the days after `as_of`."""
    fig = Figure(figsize=(10, 5), layout="constrained")
    ax = fig.subplots()
    recent = history.iloc[-HISTORY_DAYS:]
    ax.plot(recent.index, recent.to_numpy(), color="black", linewidth=1.2, label=f"{target} (history)")
    last_x, last_y = recent.index[-1], float(recent.iloc[-1])
    for name, pts in forecasts.items():
        xs = [last_x, *(pd.Timestamp(p.target_date) for p in pts)]
        ys = [last_y, *(p.yhat for p in pts)]
        dashed = name in ("naive", "drift")
        ax.plot(
            xs,
            ys,
            marker="o",
            markersize=3,
            linestyle="--" if dashed else "-",
            color=COLOURS.get(name),
            label=f"{name}: {pts[-1].yhat:.2f}",
        )
    ax.axvline(last_x, color="0.8", linewidth=0.8)
    ax.set_title(f"{ticker}: forecasts as of {as_of.isoformat()}")
    ax.set_ylabel(target)
    ax.legend(loc="upper left", fontsize="small")
    ax.grid(alpha=0.3)
    return fig


def validation_figure(ticker: str, as_of: date, series: Mapping[str, ValidationSeries]) -> Figure:
    """Predicted vs actual on each model's inner validation slice (the newest training days)."""
    fig = Figure(figsize=(10, 3 * max(1, len(series))), layout="constrained")
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


def save_png(fig: Figure, path: Path) -> None:
    """Draw `fig` to PNG bytes, then write them with the one atomic writer."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    write_atomic(path, buffer.getvalue())


def backfill_figure(ticker: str, frame: pd.DataFrame, title: str) -> Figure:
    """Predicted vs actual over a replayed range, one panel per model, with the naive line.

    `frame`: one-day-ahead matured forecasts with columns target_date, model, yhat, actual.
    """
    models = [m for m in sorted(set(frame["model"])) if m not in ("naive", "drift")] or ["naive"]
    naive = frame[frame["model"] == "naive"].set_index("target_date")["yhat"].sort_index()
    fig = Figure(figsize=(10, 3 * len(models)), layout="constrained")
    axes = fig.subplots(len(models), 1, squeeze=False)[:, 0]
    for ax, model in zip(axes, models, strict=True):
        rows = frame[frame["model"] == model].set_index("target_date").sort_index()
        mae = float(np.mean(np.abs(rows["yhat"] - rows["actual"])))
        naive_mae = float(np.mean(np.abs(naive.reindex(rows.index) - rows["actual"])))
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


def rolling_error_figure(ticker: str, frame: pd.DataFrame) -> Figure:
    """Rolling mean absolute error of each model's one-day-ahead (else shortest) forecasts.

    `frame`: matured forecasts (columns model, horizon, target_date, yhat, actual).
    """
    horizon = 1 if (frame["horizon"] == 1).any() else int(frame["horizon"].min())
    rows = frame[frame["horizon"] == horizon]
    fig = Figure(figsize=(10, 4), layout="constrained")
    ax = fig.subplots()
    for model in sorted(set(rows["model"])):
        one = rows[rows["model"] == model].sort_values("target_date")
        err = (one["yhat"] - one["actual"]).abs().rolling(ROLLING_DAYS, min_periods=1).mean()
        dashed = model in ("naive", "drift")
        ax.plot(
            pd.to_datetime(one["target_date"]),
            err.to_numpy(),
            color=COLOURS.get(model),
            linestyle="--" if dashed else "-",
            linewidth=1.0,
            label=model,
        )
    ax.set_title(f"{ticker}: {ROLLING_DAYS}-forecast rolling MAE, horizon {horizon}", fontsize="medium")
    ax.set_ylabel("mean |forecast - actual|")
    ax.legend(loc="upper left", fontsize="small")
    ax.grid(alpha=0.3)
    return fig
