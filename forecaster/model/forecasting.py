"""Forecasts for the trading days after an as-of date: from a model, or from a baseline.

Baselines are defined in shared/docs/EVALUATION.md and are the bar every model must clear:
- naive: the last close at the as-of date, for every horizon and whatever the target column;
- drift: the last close plus h x the average daily change of the close over the history used.
"""

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from forecaster.market.calendar import next_trading_days
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


@dataclass(frozen=True)
class ValidationSeries:
    """Predicted vs actual on a model's validation slice (first horizon), for its plot."""

    dates: pd.DatetimeIndex
    actual: FloatArray
    predicted: FloatArray


def target_dates(as_of: date, horizon: int) -> list[date]:
    """The next `horizon` trading days (weekdays past the calendar's end, with a warning)."""
    return next_trading_days(as_of, horizon)


def model_forecast(model: "keras.Model", scaler: Scaler, bars: pd.DataFrame, spec: ModelSpec) -> FloatArray:
    """(horizon,) forecasts in price units from the newest `window` rows of `bars`."""
    x = last_window(bars[list(spec.features)].to_numpy(dtype="float64"), window=spec.window)
    scaled = np.asarray(model(scaler.transform_x(x), training=False), dtype="float64")  # (1, horizon)
    values = scaler.inverse_y(x, scaled)[0]
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{spec.kind} produced a non-finite forecast: {values.tolist()}")
    return np.asarray(values, dtype=np.float64)


def naive_forecast(bars: pd.DataFrame, horizon: int) -> FloatArray:
    return np.full(horizon, float(bars["close"].iloc[-1]))


def drift_forecast(bars: pd.DataFrame, horizon: int) -> FloatArray:
    close = bars["close"].to_numpy(dtype="float64")
    step = (close[-1] - close[0]) / (len(close) - 1) if len(close) > 1 else 0.0
    return np.asarray(close[-1] + step * np.arange(1, horizon + 1), dtype=np.float64)


def points(as_of: date, values: FloatArray) -> list[Point]:
    days = target_dates(as_of, len(values))
    return [Point(d, h + 1, float(v)) for h, (d, v) in enumerate(zip(days, values, strict=True))]
