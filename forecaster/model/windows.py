"""Sliding windows and chronological splits: pure numpy, no model code.

Alignment (pinned by a test): sample i sees rows [i, i + window) and its labels are the target
at rows i + window .. i + window + horizon - 1, i.e. the next `horizon` trading days after the
window's last row. Nothing a sample sees is later than the row before its first label.
"""

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

# Every array here is float64 prices or scaled prices.
FloatArray = npt.NDArray[np.float64]


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
    return x.astype("float64"), y.astype("float64")


def last_window(features: FloatArray, *, window: int) -> FloatArray:
    """The newest window, shaped (1, window, n_features), to forecast the days after it."""
    if len(features) < window:
        raise ValueError(f"need {window} rows for a window, have {len(features)}")
    return features[None, -window:].astype("float64")


@dataclass(frozen=True)
class Split:
    """Chronological sample ranges: train = [0, train_end), validation = [val_start, samples)."""

    train_end: int
    val_start: int
    samples: int

    @property
    def train(self) -> slice:
        return slice(0, self.train_end)

    @property
    def val(self) -> slice:
        return slice(self.val_start, self.samples)


def train_val_split(samples: int, *, val_fraction: float, horizon: int, min_val: int = 1) -> Split:
    """Hold out the *last* `val_fraction` of samples for early stopping.

    A gap of horizon - 1 samples keeps every training label strictly before every validation
    label (with horizon h, neighbouring samples share h - 1 label days).
    """
    n_val = max(min_val, round(samples * val_fraction))
    gap = horizon - 1
    train_end = samples - n_val - gap
    if train_end < 1:
        raise ValueError(f"{samples} samples are too few for a validation slice of {n_val}")
    return Split(train_end=train_end, val_start=samples - n_val, samples=samples)
