"""The course experiment, honestly scored, on the bundled file.

The course (PKU TensorFlow notes, class 6) trains on the first 2126 rows (to 2019-01-28) and
tests on the last 300 (240 one-day-ahead targets from 2019-05-06), predicting the next *open*
from 60 days of opens with a global MinMax scaler. Its script keeps the checkpoint with the
best loss on the test set; here the best epoch is chosen on an inner validation slice at the
end of the training rows, and the test rows are touched once, to score.

`--preset course` runs that with the course's settings; `--split course` runs the same split
with this product's current model settings, so improvements are measured on the same dates.
"""

import time
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from forecaster.config import Settings, model_spec, train_spec
from forecaster.ingest.sources.csvfile import read_bar_csv
from forecaster.model.kinds import ModelKind
from forecaster.model.spec import ModelSpec, TrainSpec
from forecaster.model.training import prepare, train_new
from forecaster.model.windows import FloatArray
from forecaster.scoring.metrics import Scores, naive_scale, score

COURSE_TICKER = "600519.SH"
COURSE_TRAIN_ROWS = 2126  # iloc[0:2426 - 300]: 2010-04-26 .. 2019-01-28
COURSE_EPOCHS = 50
COURSE_BATCH = 64


def course_model_spec(kind: ModelKind) -> ModelSpec:
    return ModelSpec(
        kind=kind,
        window=60,
        horizon=1,
        target="open",
        features=("open",),
        scaling="minmax",
        units=(80, 100),
        dropout=0.2,
        adjust="none",
    )


def course_train_spec(seed: int) -> TrainSpec:
    # 50 epochs as the course; patience = epochs means no early stop, but the best epoch on the
    # inner validation slice is the one kept (the course kept the best on its test set).
    return TrainSpec(
        max_epochs=COURSE_EPOCHS,
        batch_size=COURSE_BATCH,
        learning_rate=1e-3,
        patience=COURSE_EPOCHS,
        val_fraction=0.1,
        seed=seed,
    )


def load_course_bars(settings: Settings) -> pd.DataFrame:
    bars = read_bar_csv(settings.bundled_csv, COURSE_TICKER).set_index("trade_date").sort_index()
    return bars.astype("float64")


@dataclass(frozen=True)
class Holdout:
    """One-day-ahead forecasts over a held-out block, with what they are scored against."""

    yhat: FloatArray  # (targets,)
    actual: FloatArray  # (targets,)
    last_close: FloatArray  # (targets,) the close before each target: naive, and the direction pivot
    epochs: int
    train_s: float  # wall seconds of the training (the network built, fit, the best weights kept)
    fit_s: float  # of which in Keras' fit


def holdout(train_rows: pd.DataFrame, test_rows: pd.DataFrame, spec: ModelSpec, train: TrainSpec) -> Holdout:
    """Train once on `train_rows`, forecast every window inside `test_rows` (its first
    `spec.window` rows are history only)."""
    started = time.perf_counter()
    fitted = train_new(train_rows, spec, train, label=f"{spec.kind} seed {train.seed}")
    train_s = time.perf_counter() - started
    test = prepare(test_rows, spec)
    scaled = np.asarray(fitted.model(fitted.scaler.transform_x(test.x), training=False), dtype="float64")
    actual = test.y[:, 0]
    last_close = test_rows["close"].to_numpy()[spec.window - 1 : spec.window - 1 + len(actual)]
    yhat = fitted.scaler.inverse_y(test.x, scaled)[:, 0]
    return Holdout(yhat, actual, last_close, fitted.epochs_run, train_s, fitted.seconds)


def course_experiment(
    settings: Settings, *, kinds: tuple[ModelKind, ...], course_settings: bool, seeds: int, epochs: int | None = None
) -> list[dict[str, object]]:
    """Scores on the course's 240 test targets for each model (mean and spread over seeds),
    beside naive (the last close) and drift. `epochs` caps training (for quick checks)."""
    bars = load_course_bars(settings)
    train_rows, test_rows = bars.iloc[:COURSE_TRAIN_ROWS], bars.iloc[COURSE_TRAIN_ROWS:]
    results: list[dict[str, object]] = []
    target = "open" if course_settings else settings.target
    scale = _scale(train_rows, target)
    last: Holdout | None = None
    for kind in kinds:
        per_seed: list[Scores] = []
        moves: list[float] = []
        for i in range(seeds):
            spec = course_model_spec(kind) if course_settings else model_spec(settings, kind)
            spec = replace(spec, horizon=1, adjust="none")  # one day ahead; the file has no factors
            # An averaged model of k members uses seeds seed .. seed + k - 1: space the runs k apart
            # so that no two runs share a member.
            seed = settings.seed + i * spec.members
            train = course_train_spec(seed) if course_settings else train_spec(settings, seed)
            if epochs is not None:
                train = replace(train, max_epochs=epochs, patience=min(train.patience, epochs))
            last = holdout(train_rows, test_rows, spec, train)
            per_seed.append(score(last.yhat, last.actual, last.last_close, scale))
            moves.append(float(np.mean(np.abs(last.yhat - last.last_close))))
        results.append(_row(kind, target, per_seed, _seeds_label(settings.seed, seeds, spec.members), moves))
    if last is None:
        return results
    train_close = train_rows["close"].to_numpy()
    step = (train_close[-1] - train_close[0]) / (len(train_close) - 1)
    naive = score(last.last_close, last.actual, last.last_close, scale)
    drift = score(last.last_close + step, last.actual, last.last_close, scale)
    results += [_row("naive", target, [naive], "-", [0.0]), _row("drift", target, [drift], "-", [abs(step)])]
    for row in results:
        row["rel_mae"] = float(row["mae"]) / naive.mae  # type: ignore[arg-type]
        row["rel_mae_sd"] = float(row["mae_sd"]) / naive.mae  # type: ignore[arg-type]
    return results


def _seeds_label(first: int, runs: int, members: int) -> str:
    """'7..9' for three single networks; '7..9, 10..12' for two runs of three averaged members."""
    if members == 1:
        return f"{first}..{first + runs - 1}"
    return ", ".join(f"{first + i * members}..{first + (i + 1) * members - 1}" for i in range(runs))


def _scale(train_rows: pd.DataFrame, target: str) -> float:
    return naive_scale(train_rows[target].to_numpy()[1:], train_rows["close"].to_numpy()[:-1])


def _row(model: str, target: str, runs: list[Scores], seeds: str, moves: list[float]) -> dict[str, object]:
    """Mean (and spread, over seeds) of each score. `move` is how far the forecasts stray from
    the last close on average: naive's MAE is how far the price actually moved, so a model whose
    `move` is a small fraction of it has learnt to stay near the last value."""

    def mean(name: str) -> float:
        return float(np.mean([getattr(r, name) for r in runs]))

    def spread(name: str) -> float:
        return float(np.std([getattr(r, name) for r in runs])) if len(runs) > 1 else 0.0

    return {
        "model": model,
        "target": target,
        "seeds": seeds,
        "n": runs[0].n,
        "mse": mean("mse"),
        "rmse": mean("rmse"),
        "mae": mean("mae"),
        "mae_sd": spread("mae"),
        "mape": mean("mape"),
        "mase": mean("mase"),
        "rel_mae": float("nan"),
        "hit_rate": mean("hit_rate"),
        "hit_rate_sd": spread("hit_rate"),
        "move": float(np.mean(moves)),
    }
