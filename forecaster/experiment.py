"""The course experiment, honestly scored, on the bundled file.

The course (PKU TensorFlow notes, class 6) trains on the first 2126 rows (to 2019-01-28) and
tests on the last 300 (240 one-day-ahead targets from 2019-05-06), predicting the next *open*
from 60 days of opens with a global MinMax scaler. Its script keeps the checkpoint with the
best loss on the test set; here the best epoch is chosen on an inner validation slice at the
end of the training rows, and the test rows are touched once, to score.

`--preset course` runs that with the course's settings; `--split course` runs the same split
with this product's current model settings, so improvements are measured on the same dates.
"""

from dataclasses import replace

import numpy as np
import pandas as pd

from forecaster.config import Settings
from forecaster.metrics import Scores, naive_scale, score
from forecaster.sources.csvfile import read_bar_csv
from forecaster.spec import ModelSpec, TrainSpec, model_spec, train_spec
from forecaster.training import prepare, train_new
from forecaster.windows import FloatArray

COURSE_TICKER = "600519.SH"
COURSE_TRAIN_ROWS = 2126  # iloc[0:2426 - 300]: 2010-04-26 .. 2019-01-28
COURSE_EPOCHS = 50
COURSE_BATCH = 64


def course_model_spec(kind: str) -> ModelSpec:
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


def course_experiment(
    settings: Settings, *, kinds: tuple[str, ...], course_settings: bool, seeds: int, epochs: int | None = None
) -> list[dict[str, object]]:
    """Scores on the course's 240 test targets for each model (mean and spread over seeds),
    beside naive (the last close) and drift. `epochs` caps training (for quick checks)."""
    bars = load_course_bars(settings)
    train_rows, test_rows = bars.iloc[:COURSE_TRAIN_ROWS], bars.iloc[COURSE_TRAIN_ROWS:]
    results: list[dict[str, object]] = []
    target = "open" if course_settings else settings.target
    last_close: FloatArray | None = None
    actual: FloatArray | None = None
    for kind in kinds:
        per_seed: list[Scores] = []
        for i in range(seeds):
            seed = settings.seed + i
            spec = course_model_spec(kind) if course_settings else model_spec(settings, kind)
            spec = replace(spec, horizon=1, adjust="none")  # one day ahead; the file has no factors
            train = course_train_spec(seed) if course_settings else train_spec(settings, seed)
            if epochs is not None:
                train = replace(train, max_epochs=epochs, patience=min(train.patience, epochs))
            fitted = train_new(train_rows, spec, train, label=f"course {kind} seed {seed}")
            test = prepare(test_rows, spec)  # windows inside the 300 test rows: 240 targets
            scaled = np.asarray(fitted.model(fitted.scaler.transform_x(test.x), training=False), dtype="float64")
            yhat = fitted.scaler.inverse_y(test.x, scaled)[:, 0]
            actual = test.y[:, 0]
            # The close on the day before each target: the naive forecast, and the direction pivot.
            last_close = test_rows["close"].to_numpy()[spec.window - 1 : spec.window - 1 + len(actual)]
            per_seed.append(score(yhat, actual, last_close, _scale(train_rows, target)))
        results.append(_row(kind, target, per_seed, settings.seed))
    if actual is None or last_close is None:
        return results
    scale = _scale(train_rows, target)
    train_close = train_rows["close"].to_numpy()
    step = (train_close[-1] - train_close[0]) / (len(train_close) - 1)
    naive = score(last_close, actual, last_close, scale)
    drift = score(last_close + step, actual, last_close, scale)
    results += [_row("naive", target, [naive], None), _row("drift", target, [drift], None)]
    for row in results:
        row["rel_mae"] = float(row["mae"]) / naive.mae  # type: ignore[arg-type]
    return results


def _scale(train_rows: pd.DataFrame, target: str) -> float:
    return naive_scale(train_rows[target].to_numpy()[1:], train_rows["close"].to_numpy()[:-1])


def _row(model: str, target: str, runs: list[Scores], first_seed: int | None) -> dict[str, object]:
    def mean(name: str) -> float:
        return float(np.mean([getattr(r, name) for r in runs]))

    def spread(name: str) -> float:
        return float(np.std([getattr(r, name) for r in runs])) if len(runs) > 1 else 0.0

    return {
        "model": model,
        "target": target,
        "seeds": "-" if first_seed is None else f"{first_seed}..{first_seed + len(runs) - 1}",
        "n": runs[0].n,
        "mse": mean("mse"),
        "rmse": mean("rmse"),
        "mae": mean("mae"),
        "mae_sd": spread("mae"),
        "mape": mean("mape"),
        "mase": mean("mase"),
        "rel_mae": float("nan"),
        "hit_rate": mean("hit_rate"),
    }
