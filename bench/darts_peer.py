"""darts' BlockRNNModel trained and scored on the course split, the way bench/training.py trains ours.

Imported only by bench/peers.py once it has checked that darts and torch are installed: nothing
else in the suite or the tests may need them.

The same rows as ours: the course's 2126 training rows, of which the windows of the newest 10 %
(our `train_val_split`) are the validation slice for early stopping, and the 240 one-day-ahead
test targets at the end of the file. The series is the settings' target column alone (the
default `close`; darts' univariate case), as float32, the precision Keras trains ours in.
"""

import logging
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import torch
from darts import TimeSeries
from darts.dataprocessing.transformers import Scaler
from darts.models import BlockRNNModel
from pytorch_lightning.callbacks import EarlyStopping

from bench.peer_table import PeerFit
from bench.section import QUICK_EPOCHS, Options
from bench.training import TARGETS, Trial, course_targets, our_specs, our_trial
from forecaster.config import Settings
from forecaster.course.experiment import COURSE_TRAIN_ROWS, load_course_bars
from forecaster.model.networks import build_model
from forecaster.model.spec import MODEL_KINDS, ModelKind, ModelSpec, TrainSpec
from forecaster.model.windows import train_val_split

DARTS_KIND = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}


def relative_mae(trial: Trial, bars: pd.DataFrame) -> float:
    targets = course_targets(bars, trial.target)
    return trial.scores.mae / targets.score(targets.last_close).mae


def run_trials(opts: Options, tf_threads: int, cores: int) -> list[PeerFit]:
    """Per repeat and kind: ours, darts at one thread and at one a core (and at TensorFlow's
    intra-op count, were it another; `cores` where TensorFlow reports 0, its default); who goes
    first rotates each repeat."""
    settings = Settings()
    bars = load_course_bars(settings)
    cap = QUICK_EPOCHS if opts.quick else None
    fits: list[PeerFit] = []
    for repeat in range(opts.repeats):
        for kind in MODEL_KINDS:
            runs: list[Callable[[], PeerFit]] = [partial(ours_trial, kind, settings, bars, tf_threads, cap)]
            torch_threads = sorted({1, cores, tf_threads or cores})
            runs += [partial(darts_trial, kind, settings, bars, n, cap) for n in torch_threads]
            shift = repeat % len(runs)
            for run in runs[shift:] + runs[:shift]:
                fits.append(run())
                f, t = fits[-1], fits[-1].trial
                print(f"  {t.who} {kind} ({f.threads} threads): fit {t.fit_s:.1f} s, {t.epochs} epochs, "
                      f"{t.samples_per_s:,.0f} samples/s, MAE / naive {f.rel_mae:.3f}", flush=True)  # fmt: skip
    return fits


def ours_trial(
    kind: ModelKind, settings: Settings, bars: pd.DataFrame, tf_threads: int, max_epochs: int | None
) -> PeerFit:
    keras.backend.clear_session()  # each fit from a clean Keras state, as bench/training.py does
    trial = our_trial(kind, settings, max_epochs)
    spec, _ = our_specs(settings, kind, max_epochs)
    network = build_model(kind, window=spec.window, n_features=len(spec.features), units=spec.units,
                          outputs=spec.horizon, quantiles=spec.head == "quantile", seed=0)  # fmt: skip
    return PeerFit(trial, int(network.count_params()), tf_threads, relative_mae(trial, bars))


def hidden_dim(spec: ModelSpec) -> int:
    """darts stacks `n_rnn_layers` of one width; ours are 80 then 100. Their mean, 90, in two
    layers gives about our parameter count for each kind (torch keeps two bias vectors a gate)."""
    return round(sum(spec.units) / len(spec.units))


def build(kind: ModelKind, spec: ModelSpec, train: TrainSpec, work_dir: Path) -> BlockRNNModel:
    """Our sizes and training settings in darts' terms; the best epoch on the validation slice
    is checkpointed, as ours keeps its best weights."""
    stop = EarlyStopping(monitor="val_loss", patience=train.patience, mode="min")
    return BlockRNNModel(
        input_chunk_length=spec.window,
        output_chunk_length=spec.horizon,
        model=DARTS_KIND[kind],
        hidden_dim=hidden_dim(spec),
        n_rnn_layers=len(spec.units),
        dropout=spec.dropout,
        batch_size=train.batch_size,
        n_epochs=train.max_epochs,
        optimizer_kwargs={"lr": train.learning_rate},
        random_state=train.seed,
        save_checkpoints=True,
        work_dir=str(work_dir),
        model_name=f"blockrnn_{kind}",
        force_reset=True,
        pl_trainer_kwargs={
            "accelerator": "cpu",
            "callbacks": [stop],
            "enable_progress_bar": False,
            "enable_model_summary": False,
            "logger": False,
        },
    )


def darts_trial(
    kind: ModelKind, settings: Settings, bars: pd.DataFrame, threads: int, max_epochs: int | None
) -> PeerFit:
    """Fit on the training rows, forecast each test target from the data up to its previous
    day (historical_forecasts, retrain=False), score as bench/training.py scores ours."""
    spec, train = our_specs(settings, kind, max_epochs)
    torch.set_num_threads(threads)
    torch.manual_seed(train.seed)  # darts seeds its own draws from random_state; the rest from here
    values = bars[spec.target].to_numpy(dtype=np.float32)
    series = TimeSeries.from_values(values)  # a RangeIndex: trading days are not a regular frequency
    windows = COURSE_TRAIN_ROWS - spec.window - spec.horizon + 1
    first = np.arange(windows)  # one ticker: samples a day apart
    split = train_val_split(first, first + spec.horizon - 1, val_fraction=train.val_fraction)
    train_end, val_start = int(split.train[-1]) + 1, int(split.val[0])
    # Training windows end at row train_end + window - 1 (their last label); the validation
    # windows' inputs start at val_start and their labels stay inside the training rows.
    train_series = series[: train_end + spec.window + spec.horizon - 1]
    val_series = series[val_start:COURSE_TRAIN_ROWS]
    scaler = Scaler().fit(train_series)  # darts' default MinMax, fit on the training windows' rows only
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, quiet():
        model = build(kind, spec, train, Path(tmp))
        model.fit(scaler.transform(train_series), val_series=scaler.transform(val_series), verbose=False)
        fit_s = time.perf_counter() - started
        epochs = int(model.epochs_trained)
        best = BlockRNNModel.load_from_checkpoint(f"blockrnn_{kind}", work_dir=tmp, best=True)
    with quiet():
        forecast = best.historical_forecasts(
            scaler.transform(series),
            start=len(values) - TARGETS,  # the first test target; each forecast sees the rows before it
            start_format="position",
            forecast_horizon=1,
            stride=1,
            retrain=False,
            last_points_only=True,
            verbose=False,
        )
    yhat = scaler.inverse_transform(forecast).values()[:, 0].astype(np.float64)
    if len(yhat) != TARGETS:
        raise RuntimeError(f"darts gave {len(yhat)} test forecasts, expected {TARGETS}")
    scores = course_targets(bars, spec.target).score(yhat)
    params = sum(p.numel() for p in best.model.parameters())
    trial = Trial("darts", kind, fit_s, fit_s, epochs, train_end, spec.target, scores)
    return PeerFit(trial, params, threads, relative_mae(trial, bars))


@contextmanager
def quiet() -> Iterator[None]:
    """Lightning's start-up lines (no GPU, tips) and its CPU-only warnings, once per fit, are
    noise in a benchmark's output."""
    loggers = [logging.getLogger(name) for name in ("pytorch_lightning", "lightning.pytorch", "lightning")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # scoped to darts' fit and forecast
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)
