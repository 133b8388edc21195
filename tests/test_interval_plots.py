"""The pictures of intervals: the forecast plot's fan chart and the backfill plot's band and misses."""

from datetime import date

import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection, PolyCollection

from forecaster.market.calendar import trading_days
from forecaster.model.forecasting import Point
from forecaster.model.intervals import Interval, calibrated
from forecaster.reporting.plotting import backfill_figure, forecast_figure, save_png

Z = np.array([-1.96, -1.645, -1.2816, -0.6745, 0.0, 0.6745, 1.2816, 1.645, 1.96])
DAYS = trading_days(date(2024, 1, 2), date(2024, 4, 30))
AS_OF = DAYS[59]


def history() -> pd.Series:
    rng = np.random.default_rng(2)
    return pd.Series(100 * np.exp(np.cumsum(rng.normal(0, 0.01, 60))), index=pd.DatetimeIndex(DAYS[:60]))


def forecast(centre: float, spread: float) -> tuple[list[Point], list[Interval]]:
    pts = [Point(DAYS[60 + h], h + 1, centre, tuple(centre + spread * np.sqrt(h + 1) * Z)) for h in range(3)]
    return pts, [calibrated(p.quantiles or ()) for p in pts]


def test_the_forecast_plot_is_a_fan_of_one_model_with_the_others_intervals_as_bars(tmp_path):
    last = float(history().iloc[-1])
    models = {"naive": forecast(last, 1.0), "ewma": forecast(last, 0.8), "ensemble": forecast(last + 0.5, 0.6)}
    points = {name: pts for name, (pts, _) in models.items()} | {"rnn": forecast(last + 0.3, 0.0)[0]}
    bands = {name: band for name, (_, band) in models.items()}
    fig = forecast_figure("600519.SH", AS_OF, history(), points, "close", bands)
    ax = fig.axes[0]
    fans = [c for c in ax.collections if isinstance(c, PolyCollection)]
    bars = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert len(fans) == 2  # the ensemble's 95 % and 80 % bands
    labels = [c.get_label() for c in fans]
    end = bands["ensemble"][-1]
    assert labels == [
        f"ensemble 95 %: {end.lo95:.2f} .. {end.hi95:.2f}",
        f"ensemble 80 %: {end.lo80:.2f} .. {end.hi80:.2f}",
    ]
    assert len(bars) == 2  # naive's and ewma's 80 % intervals; rnn has none
    segments = bars[0].get_segments()
    assert [s[1][1] - s[0][1] for s in segments] == [b.hi80 - b.lo80 for b in bands["naive"]]
    save_png(fig, tmp_path / "fan.png")
    assert (tmp_path / "fan.png").stat().st_size > 10_000


def test_without_intervals_the_forecast_plot_has_no_fan():
    pts = {"naive": forecast(100.0, 1.0)[0]}
    ax = forecast_figure("600519.SH", AS_OF, history(), pts, "close").axes[0]
    assert not ax.collections


def test_the_backfill_plot_draws_the_band_and_marks_each_miss(tmp_path):
    rng = np.random.default_rng(4)
    targets = DAYS[1:41]
    actual = 100 + np.cumsum(rng.normal(0, 1, 40))
    last = np.r_[100.0, actual[:-1]]
    rows = []
    for model in ("naive", "ewma", "rnn"):
        spread = {"naive": 1.28, "ewma": 0.9, "rnn": np.nan}[model]
        for t, y, c in zip(targets, actual, last, strict=True):
            rows.append(
                {"target_date": t, "model": model, "yhat": c, "actual": y, "lo80": c - spread, "hi80": c + spread}
            )
    frame = pd.DataFrame(rows)
    fig = backfill_figure("600519.SH", frame, "one day ahead")
    titles = [ax.get_title() for ax in fig.axes]
    assert [t.split(":")[0] for t in titles] == ["600519.SH rnn", "600519.SH ewma"]
    rnn_ax, ewma_ax = fig.axes
    assert not [c for c in rnn_ax.collections if isinstance(c, PolyCollection)]  # no intervals, no band
    misses = int(np.sum(np.abs(actual - last) > 0.9))
    (crosses,) = [ln for ln in ewma_ax.get_lines() if ln.get_marker() == "x"]
    assert np.size(crosses.get_xdata()) == misses and str(crosses.get_label()).startswith(f"outside: {misses} of 40")
    save_png(fig, tmp_path / "backfill.png")
    assert (tmp_path / "backfill.png").stat().st_size > 10_000


def test_the_forecast_plot_marks_a_limit_up_close_on_a_main_board_ticker():
    closes = np.full(60, 10.0)
    closes[40:] = 11.0  # +10 % on day 40: the main board's limit-up from 10.00
    series = pd.Series(closes, index=pd.DatetimeIndex(DAYS[:60]))
    ax = forecast_figure("600519.SH", AS_OF, series, {"naive": forecast(11.0, 0.1)[0]}, "close").axes[0]
    marks = {line.get_marker(): line for line in ax.get_lines() if line.get_linestyle() == "None"}
    assert set(marks) == {"^"}
    assert np.asarray(marks["^"].get_ydata()).tolist() == [11.0] and marks["^"].get_label() == "limit-up (1)"
    assert list(pd.DatetimeIndex(np.asarray(marks["^"].get_xdata()))) == [pd.Timestamp(DAYS[40])]
    # On ChiNext (20 % since 2020-08-24) the same day is no limit day: nothing marked.
    chinext = forecast_figure("300750.SZ", AS_OF, series, {"naive": forecast(11.0, 0.1)[0]}, "close").axes[0]
    assert not [line for line in chinext.get_lines() if line.get_linestyle() == "None"]
