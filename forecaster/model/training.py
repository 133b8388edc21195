"""Fit and fine-tune: seeds, inner validation slice, early stopping with best weights.

Only data up to the as-of date ever reaches this module (the caller reads with `until=as_of`).
The validation slice used for early stopping is the newest part of *that* history — never
anything after the as-of date. A quantile network's conformal calibration (model/intervals) is
computed on the same slice, after the best epoch's weights are restored.
"""

import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

import keras
import numpy as np
import numpy.typing as npt
import pandas as pd

from forecaster.model.batches import EpochProgress, Loop, fit_by_batches
from forecaster.model.forecasting import point_output
from forecaster.model.intervals import Calibration, calibrate
from forecaster.model.networks import PinballLoss, first_seed
from forecaster.model.resident import forward, network_for
from forecaster.model.scaling import Scaler, make_scaler, scaled_rows
from forecaster.model.spec import ModelSpec, TrainSpec
from forecaster.model.trainers import DEFAULT_FIT, AdamState, FitOptions, adam_state, trainer_for, weights_back
from forecaster.model.windows import DateArray, FloatArray, IndexArray, Split, make_windows, train_val_split

FINETUNE_MIN_DAYS = 10  # a pooled fine-tune's newest days per ticker, at the least

# The bars a network learns from: one ticker's, or every ticker's of a training universe by code.
Histories = Mapping[str, pd.DataFrame]


@dataclass
class Prepared:
    """Windows over one or many bar histories, with the days each sample's labels fall on and the
    ticker it comes from; tickers in code order, each one's samples oldest first."""

    x: FloatArray  # (samples, window, n_features), raw prices
    y: FloatArray  # (samples, horizon), raw target values
    label_dates: pd.DatetimeIndex  # (samples,) each sample's first label day
    last_label: DateArray  # (samples,) each sample's last label day
    tickers: npt.NDArray[np.str_]  # (samples,)
    first_date: date
    last_date: date


@dataclass(frozen=True)
class TrainingStats:
    """What a fit reports about itself, carried as one object from the fit to the task's result
    to the version's row (epochs_run, train_loss, val_loss, train_seconds, train_start, train_end)."""

    epochs_run: int
    train_loss: float
    val_loss: float  # the best epoch's, on the inner validation slice
    seconds: float
    train_start: date  # first and last bar of the history trained on
    train_end: date


@dataclass
class Fitted:
    model: keras.Model
    scaler: Scaler
    stats: TrainingStats
    # The validation slice, for the plot of predicted vs actual (first horizon only).
    val_dates: pd.DatetimeIndex
    val_actual: FloatArray
    val_predicted: FloatArray
    # The CQR offsets from the validation slice; None for a point network.
    calibration: Calibration | None = None
    # The Adam state the fit ended with, which a fine-tune of this model continues; None for
    # averaged members (each had its own optimizer, none of which fits the joined model).
    adam: AdamState | None = None
    val_tickers: npt.NDArray[np.str_] = field(default_factory=lambda: np.array([], dtype=str))  # per val sample

    def validation_of(self, ticker: str) -> tuple[pd.DatetimeIndex, FloatArray, FloatArray]:
        """One ticker's part of the validation slice (dates, actual, predicted): "" for a fit on one
        ticker's bars."""
        mask = self.val_tickers == ticker
        return self.val_dates[mask], self.val_actual[mask], self.val_predicted[mask]


def prepare(bars: pd.DataFrame | Histories, spec: ModelSpec) -> Prepared:
    """Every window of every history given (a DataFrame: one ticker's, named "")."""
    histories = {"": bars} if isinstance(bars, pd.DataFrame) else bars
    samples = {code: max(len(histories[code]) - spec.window - spec.horizon + 1, 0) for code in sorted(histories)}
    codes = [code for code, n in samples.items() if n] or list(samples)[:1]
    if not codes:
        raise ValueError("no bars to make windows from")
    # Filled ticker by ticker: the tickers' windows, then their concatenation, held them twice.
    x = np.empty((sum(samples[c] for c in codes), spec.window, len(spec.features)))
    parts = []
    for code, end in zip(codes, np.cumsum([samples[c] for c in codes]), strict=True):
        parts.append(part := _windows(code, histories[code], spec))
        x[end - len(part.x) : end], part.x = part.x, x[:0]  # its windows live in `x` alone
    return Prepared(
        x=x,
        y=np.concatenate([p.y for p in parts]),
        label_dates=pd.DatetimeIndex(np.concatenate([p.label_dates.to_numpy() for p in parts])),
        last_label=np.concatenate([p.last_label for p in parts]),
        tickers=np.concatenate([p.tickers for p in parts]),
        first_date=min(p.first_date for p in parts),
        last_date=max(p.last_date for p in parts),
    )


def _windows(code: str, bars: pd.DataFrame, spec: ModelSpec) -> Prepared:
    features = bars[list(spec.features)].to_numpy(dtype="float64")
    target = bars[spec.target].to_numpy(dtype="float64")
    x, y = make_windows(features, target, window=spec.window, horizon=spec.horizon)
    dates = pd.DatetimeIndex(bars.index)
    first = dates[spec.window : spec.window + len(x)]
    last = dates[spec.window + spec.horizon - 1 : spec.window + spec.horizon - 1 + len(x)].to_numpy()
    tickers = np.full(len(x), code)
    return Prepared(x, y, first, last, tickers, dates[0].date(), dates[-1].date())


def split_of(data: Prepared, train: TrainSpec) -> Split:
    return train_val_split(data.label_dates.to_numpy(), data.last_label, val_fraction=train.val_fraction)


def seed_everything(seed: int) -> None:
    """Same seed, same data, same machine -> same weights and forecasts.

    Seeds Python's and NumPy's generators: every seed the networks use comes from them (layer
    seeds in model/networks, Keras' defaults for a layer left unseeded, the shuffle in
    model/batches). Not TensorFlow's global seed (`keras.utils.set_random_seed`): nothing draws
    from it (Keras runs its random ops stateless), and setting it clears TensorFlow's kernel
    cache, so every traced function is instantiated again: 1.2-2.0 s of a 2.7-3.5 s GRU
    fine-tune in a warm process, measured here; the weights are identical without it.
    """
    random.seed(seed)
    np.random.seed(seed)


def train_new(
    bars: pd.DataFrame | Histories | Prepared,
    spec: ModelSpec,
    train: TrainSpec,
    *,
    label: str = "",
    options: FitOptions = DEFAULT_FIT,
    scaler: Scaler | None = None,
) -> Fitted:
    """Fresh weights on the whole history given (everything up to the as-of date): one ticker's
    bars, or the windows of every ticker of a universe pooled into one training set.

    With `spec.members` > 1, that many networks are trained (seeds seed, seed + 1, ...), each
    with its own early stop, and joined into one model whose output is their mean: averaging
    independent fits cancels part of each one's noise around the naive forecast.
    Windows already made and a `scaler` (fit here) of a study's own: the network takes as many
    inputs per day as the scaled windows have, so a study can append inputs (bench/studies/inputs).
    """
    data = bars if isinstance(bars, Prepared) else prepare(bars, spec)
    split = split_of(data, train)
    scaler = (make_scaler(spec.scaling, spec.features) if scaler is None else scaler).fit(
        data.x[split.train], data.y[split.train], spec.target_index
    )
    width = scaler.transform_x(data.x[:1]).shape[-1]
    fits: list[Fitted] = []
    for member in range(spec.members):
        seed_everything(train.seed + member)
        # The draw build_model would take from the global generator after seed_everything, but from
        # a generator of its own: two fits on two threads cannot take each other's draws.
        model = network_for(spec, seed=first_seed(train.seed + member), n_features=width)
        epochs, rate = train.max_epochs, train.learning_rate
        fit = _fit(model, scaler, data, split, spec, train, epochs, rate, label, options, seed=train.seed + member)
        fits.append(fit)
    return fits[0] if len(fits) == 1 else _averaged(fits, scaler, data, split.val, spec)


def _loss(spec: ModelSpec) -> keras.losses.Loss:
    if spec.head == "quantile":
        return PinballLoss(bias_penalty=spec.bias_penalty)
    return keras.losses.MeanSquaredError()


def _averaged(fits: list[Fitted], scaler: Scaler, data: Prepared, va: IndexArray, spec: ModelSpec) -> Fitted:
    """One Keras model averaging the members' outputs, so it saves, loads, forecasts and
    fine-tunes like a single network."""
    first = fits[0]
    inputs = keras.Input(shape=first.model.input_shape[1:], name="window")  # (batch, window, features)
    name = first.model.name
    for i, f in enumerate(fits):
        f.model.name = f"{name}_{i}"  # Keras needs unique names for the nested models
    # (batch, horizon[, levels]): averaging non-decreasing quantile rows keeps them non-decreasing.
    mean = keras.layers.Average(name="mean")([f.model(inputs) for f in fits])
    model = keras.Model(inputs, mean, name=f"{name}_x{len(fits)}")
    x_va, y_va = scaler.transform_x(data.x[va]), scaler.transform_y(data.x[va], data.y[va])
    val_scaled = _predict(model, x_va)
    return Fitted(
        model=model,
        scaler=scaler,
        stats=TrainingStats(
            epochs_run=sum(f.stats.epochs_run for f in fits),
            train_loss=float(np.mean([f.stats.train_loss for f in fits])),
            val_loss=float(_loss(spec)(y_va, val_scaled)),
            seconds=sum(f.stats.seconds for f in fits),
            train_start=first.stats.train_start,
            train_end=first.stats.train_end,
        ),
        val_dates=first.val_dates,
        val_actual=first.val_actual,
        val_predicted=scaler.inverse_y(data.x[va], point_output(val_scaled))[:, 0],
        calibration=_calibration(val_scaled, y_va),
        val_tickers=first.val_tickers,
    )


def _calibration(val_scaled: FloatArray, y_va: FloatArray) -> Calibration | None:
    return calibrate(val_scaled, y_va) if val_scaled.ndim == 3 else None


def fine_tune(
    model: keras.Model,
    scaler: Scaler,
    bars: pd.DataFrame | Histories,
    spec: ModelSpec,
    train: TrainSpec,
    *,
    label: str = "",
    options: FitOptions = DEFAULT_FIT,
    adam: AdamState | None = None,
) -> Fitted:
    """A few epochs at a lower learning rate on the most recent days, from the parent's weights
    and, given `adam`, the Adam state the parent's fit ended with (a fresh Adam without it).

    The parent's scaler is kept: the weights were learnt on its scale. Pooled, each ticker
    gives its windows of the same most recent days.
    """
    histories = {"": bars} if isinstance(bars, pd.DataFrame) else bars
    # About `finetune_days` windows in all, the newest days of every ticker (at least
    # FINETUNE_MIN_DAYS each): a day's fine-tune costs the same for one ticker or many.
    days = max(FINETUNE_MIN_DAYS, -(-train.finetune_days // len(histories)))
    rows = min(days, train.finetune_days) + spec.window + spec.horizon - 1
    data = prepare({code: h.iloc[-rows:] for code, h in histories.items()}, spec)
    split = split_of(data, train)
    seed_everything(train.seed)
    # The calibration is recomputed on the fine-tune's own validation slice, like its early stop.
    epochs, rate = train.finetune_epochs, train.finetune_learning_rate
    return _fit(model, scaler, data, split, spec, train, epochs, rate, label, options, seed=train.seed, adam=adam)


def _fit(
    model: keras.Model,
    scaler: Scaler,
    data: Prepared,
    split: Split,
    spec: ModelSpec,
    train: TrainSpec,
    epochs: int,
    learning_rate: float,
    label: str,
    options: FitOptions,
    *,
    seed: int,
    adam: AdamState | None = None,
) -> Fitted:
    tr, va = split.train, split.val
    x_tr, y_tr = scaled_rows(scaler, data.x, data.y, tr)
    x_va, y_va = scaler.transform_x(data.x[va]), scaler.transform_y(data.x[va], data.y[va])
    loss = _loss(spec)
    trainer = trainer_for(model, learning_rate, loss, options, adam)
    progress = EpochProgress(epochs, label)
    started = time.perf_counter()
    sample = train.epoch_windows or None
    loop = Loop(epochs=epochs, batch_size=train.batch_size, patience=train.patience, seed=seed, sample=sample)
    losses = fit_by_batches(trainer, model, (x_tr, y_tr), (x_va, y_va), loss, loop, progress)
    train_losses, val_losses = losses.loss, losses.val_loss
    seconds = time.perf_counter() - started
    end_state = adam_state(trainer)
    model = weights_back(trainer, model)
    best = int(np.argmin(val_losses))
    val_scaled = _predict(model, x_va)  # (samples, horizon[, levels])
    val_pred = scaler.inverse_y(data.x[va], point_output(val_scaled))
    return Fitted(
        model=model,
        scaler=scaler,
        stats=TrainingStats(
            epochs_run=len(train_losses),
            train_loss=float(train_losses[best]),
            val_loss=float(val_losses[best]),
            seconds=seconds,
            train_start=data.first_date,
            train_end=data.last_date,
        ),
        val_dates=data.label_dates[va],
        val_actual=data.y[va][:, 0],
        val_predicted=val_pred[:, 0],
        calibration=_calibration(val_scaled, y_va),
        adam=end_state,
        val_tickers=data.tickers[va],
    )


def _predict(model: keras.Model, x: FloatArray) -> FloatArray:
    return forward(model, x)
