"""Sliding windows and chronological splits: pure numpy, no model code.

Alignment (pinned by a test): sample i sees rows [i, i + window) and its labels are the target
at rows i + window .. i + window + horizon - 1, i.e. the next `horizon` trading days after the
window's last row. Nothing a sample sees is later than the row before its first label.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

# Every array here is float64 prices or scaled prices.
FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.intp]
# Label days: datetime64 from bars, or plain positions (one ticker's samples are one day apart).
DateArray = npt.NDArray[Any]


def make_windows(
    features: FloatArray, target: FloatArray, *, window: int, horizon: int
) -> tuple[FloatArray, FloatArray]:
    """(X, y): X (samples, window, n_features), y (samples, horizon).

    `features` is (rows, n_features) and `target` (rows,), both in time order.
    """
    rows = len(features)
    if features.ndim != 2 or target.shape != (rows,):
        raise ValueError(f"features must be (rows, n) and target (rows,), got {features.shape}, {target.shape}")
    samples = rows - window - horizon + 1
    if samples <= 0:
        return np.empty((0, window, features.shape[1])), np.empty((0, horizon))
    # Index arithmetic instead of a Python loop: starts[:, None] + offsets[None, :].
    starts = np.arange(samples)
    x = features[starts[:, None] + np.arange(window)[None, :]]  # (samples, window, n_features)
    y = target[starts[:, None] + window + np.arange(horizon)[None, :]]  # (samples, horizon)
    return x.astype("float64", copy=False), y.astype("float64", copy=False)  # the indexing made the copy


def last_window(features: FloatArray, *, window: int) -> FloatArray:
    """The newest window, shaped (1, window, n_features), to forecast the days after it."""
    if len(features) < window:
        raise ValueError(f"need {window} rows for a window, have {len(features)}")
    return features[None, -window:].astype("float64")


@dataclass(frozen=True)
class Split:
    """Chronological sample sets, as index arrays into the samples: every training sample's
    labels lie before every validation sample's first label."""

    train: IndexArray
    val: IndexArray


def train_val_split(first_label: DateArray, last_label: DateArray, *, val_fraction: float, min_val: int = 1) -> Split:
    """Hold out the samples of the newest label days, about `val_fraction` of all, for early
    stopping and calibration; train on those whose *last* label falls before the first held-out
    day, so no training label is a validation day (with horizon h, neighbouring samples of one
    ticker share h - 1 label days: h - 1 samples of each ticker fall in between).

    Dates, not positions, so one cut serves windows pooled from many tickers: a validation day is
    one for every ticker. For one ticker this is the last n_val samples, after a gap of h - 1.
    """
    samples = len(first_label)
    n_val = max(min_val, round(samples * val_fraction))
    if n_val >= samples:
        raise ValueError(f"{samples} samples are too few for a validation slice of {n_val}")
    cut = np.sort(first_label)[samples - n_val]  # the first held-out label day
    val = np.flatnonzero(first_label >= cut)
    train = np.flatnonzero(last_label < cut)
    if len(train) < 1:
        raise ValueError(f"{samples} samples are too few for a validation slice of {n_val}")
    return Split(train=train, val=val)
