"""Forecast accuracy metrics: pure functions over arrays of the same length.

Definitions follow shared/docs/EVALUATION.md:
- MAE, RMSE, MAPE (%) on price units;
- MASE = MAE / scale, where scale is the in-sample MAE of the one-step naive forecast over the
  training window (Hyndman & Koehler, 2006); < 1 means better than naive on the training scale;
- direction hit-rate: share of forecasts where sign(yhat - last_close) == sign(actual - last_close),
  ties (either side unchanged) excluded and counted.
"""

from dataclasses import dataclass

import numpy as np

from forecaster.model.windows import FloatArray


@dataclass(frozen=True)
class Scores:
    n: int
    mse: float
    rmse: float
    mae: float
    mape: float
    mase: float
    hit_rate: float
    ties: int


def mae(yhat: FloatArray, actual: FloatArray) -> float:
    return float(np.mean(np.abs(yhat - actual)))


def mse(yhat: FloatArray, actual: FloatArray) -> float:
    return float(np.mean((yhat - actual) ** 2))


def rmse(yhat: FloatArray, actual: FloatArray) -> float:
    return float(np.sqrt(mse(yhat, actual)))


def mape(yhat: FloatArray, actual: FloatArray) -> float:
    return float(np.mean(np.abs((yhat - actual) / actual)) * 100.0)


def naive_scale(target: FloatArray, previous_close: FloatArray) -> float:
    """In-sample MAE of the one-step naive forecast: |target_t - close_{t-1}| averaged.

    With target = close this is the mean absolute daily change; with target = open it is how far
    each open lands from the previous close (the naive forecast is the last close either way).
    """
    return float(np.mean(np.abs(target - previous_close)))


def hit_rate(yhat: FloatArray, actual: FloatArray, last_close: FloatArray) -> tuple[float, int]:
    """(share of correct directions among non-ties, number of ties)."""
    predicted = np.sign(yhat - last_close)
    real = np.sign(actual - last_close)
    counted = (predicted != 0) & (real != 0)
    ties = int(np.count_nonzero(~counted))
    if not counted.any():
        return float("nan"), ties
    return float(np.mean(predicted[counted] == real[counted])), ties


def score(yhat: FloatArray, actual: FloatArray, last_close: FloatArray, scale: float) -> Scores:
    if len(yhat) == 0:
        nan = float("nan")
        return Scores(0, nan, nan, nan, nan, nan, nan, 0)
    rate, ties = hit_rate(yhat, actual, last_close)
    m = mae(yhat, actual)
    return Scores(
        n=len(yhat),
        mse=mse(yhat, actual),
        rmse=rmse(yhat, actual),
        mae=m,
        mape=mape(yhat, actual),
        mase=m / scale if scale > 0 else float("nan"),
        hit_rate=rate,
        ties=ties,
    )
