"""Forecasts for the trading days after an as-of date, from a model; the baselines every model
must clear are in `baselines`."""

from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from forecaster.market.calendar import BUILTIN, TradingCalendar
from forecaster.market.limits import Band, PriceLimits, clip_to
from forecaster.model.intervals import MEDIAN, Calibration, Interval, apply, widen_with_horizon
from forecaster.model.scaling import Scaler
from forecaster.model.spec import ModelSpec
from forecaster.model.windows import FloatArray, last_window

if TYPE_CHECKING:  # Keras is only needed by whoever built the model; plots and reports skip its import
    import keras


@dataclass(frozen=True)
class Point:
    target_date: date
    horizon: int
    yhat: float
    # Prices at quantiles.QUANTILE_LEVELS, non-decreasing; None for a forecast without intervals.
    quantiles: tuple[float, ...] | None = None


@dataclass(frozen=True)
class ValidationSeries:
    """Predicted vs actual on a model's validation slice (first horizon), for its plot."""

    dates: pd.DatetimeIndex
    actual: FloatArray
    predicted: FloatArray


def target_dates(as_of: date, horizon: int, calendar: TradingCalendar | None = None) -> list[date]:
    """The next `horizon` trading days of `calendar`: the routine passes the stored one (None: the
    built-in calendar, for code without a database). A target is "h trading days after as_of"."""
    return (calendar or BUILTIN).next_trading_days(as_of, horizon)


def model_quantiles(
    model: "keras.Model", scaler: Scaler, bars: pd.DataFrame, spec: ModelSpec, calibration: Calibration | None = None
) -> tuple[FloatArray, FloatArray | None]:
    """(horizon,) forecasts and, from a quantile network, its calibrated (horizon, levels)
    quantiles, in price units, from the newest `window` rows of `bars`."""
    x = last_window(bars[list(spec.features)].to_numpy(dtype="float64"), window=spec.window)
    values, quantiles = window_forecasts(model, scaler, x, calibration)
    quantiles = None if quantiles is None else quantiles[0]
    if (error := non_finite(spec.kind, values[0], quantiles)) is not None:
        raise ValueError(error)
    return values[0], quantiles


def non_finite(kind: str, values: FloatArray, quantiles: FloatArray | None) -> str | None:
    """Why one window's forecast cannot be stored (a NaN or an infinity in it), or None."""
    if np.all(np.isfinite(values)) and (quantiles is None or np.all(np.isfinite(quantiles))):
        return None
    return f"{kind} produced a non-finite forecast: {values.tolist()}"


def point_output(raw: FloatArray) -> FloatArray:
    """(samples, horizon) points in the scaler's units from a network's output: a quantile
    network's (samples, horizon, levels) gives its median."""
    return np.asarray(raw[..., MEDIAN] if raw.ndim == 3 else raw, dtype=np.float64)


def window_forecasts(
    model: "keras.Model", scaler: Scaler, x: FloatArray, calibration: Calibration | None = None
) -> tuple[FloatArray, FloatArray | None]:
    """For windows `x` (samples, window, features) of raw prices: the (samples, horizon) points
    and, from a quantile network, the (samples, horizon, levels) quantiles with `calibration`
    applied, both in price units. A quantile network's point is its (calibrated) median."""
    from forecaster.model.resident import forward  # Keras: only where a model is at hand

    raw = forward(model, scaler.transform_x(x))  # (samples, horizon[, levels])
    if raw.ndim == 2:
        return scaler.inverse_y(x, raw), None
    scaled = apply(raw, calibration)
    # The inverse scalings are increasing, so each level maps on its own and rows stay ordered.
    prices = np.stack([scaler.inverse_y(x, scaled[:, :, j]) for j in range(scaled.shape[-1])], axis=-1)
    return np.asarray(prices[..., MEDIAN], dtype=np.float64), np.asarray(prices, dtype=np.float64)


def points(
    as_of: date, values: FloatArray, quantiles: FloatArray | None = None, calendar: TradingCalendar | None = None
) -> list[Point]:
    """One Point per horizon; `quantiles` (horizon, levels) in price units, if the forecast has
    them, widened where a horizon would be narrower than the one before."""
    days = target_dates(as_of, len(values), calendar)
    rows = [None] * len(values) if quantiles is None else [tuple(map(float, q)) for q in widen_with_horizon(quantiles)]
    return [Point(d, h + 1, float(v), q) for h, (d, v, q) in enumerate(zip(days, values, rows, strict=True))]


def within_limits(
    forecast: list[Point], intervals: list[Interval | None], limits: PriceLimits | None
) -> tuple[list[Point], list[Interval | None]]:
    """The forecast and its calibrated intervals held inside each target day's price limits:
    the probability mass beyond a limit sits at the limit (the exchange allows no price past it)."""
    if limits is None:
        return forecast, intervals
    bands = limits.bands()
    clipped = [_clip_point(p, b) for p, b in zip(forecast, bands, strict=True)]
    issued = [None if i is None else _clip_interval(i, b) for i, b in zip(intervals, bands, strict=True)]
    return clipped, issued


def _clip_point(point: Point, band: Band) -> Point:
    quantiles = None if point.quantiles is None else tuple(clip_to(point.quantiles, band))
    return replace(point, yhat=clip_to([point.yhat], band)[0], quantiles=quantiles)


def _clip_interval(interval: Interval, band: Band) -> Interval:
    lo80, hi80, lo95, hi95 = clip_to([interval.lo80, interval.hi80, interval.lo95, interval.hi95], band)
    return replace(interval, lo80=lo80, hi80=hi80, lo95=lo95, hi95=hi95)
