"""The course experiment, honestly scored, on the bundled file.

The course (PKU TensorFlow notes, class 6) trains on the first 2126 rows (to 2019-01-28) and
tests on the last 300 (240 one-day-ahead targets from 2019-05-06), predicting the next *open*
from 60 days of opens with a global MinMax scaler. Its script keeps the checkpoint with the
best loss on the test set; here the best epoch is chosen on an inner validation slice at the
end of the training rows, and the test rows are touched once, to score.

`--preset course` runs that with the course's settings; `--split course` runs the same split
with this product's current model settings, so improvements are measured on the same dates.

Beside the point scores, every model with quantiles gets the interval scores (coverage, width,
Winkler, pinball, and pinball relative to naive's on the same targets): the quantile networks,
`ensemble` (the average of their quantiles, seed by seed) and the baselines naive, ewma,
drift and garch of model/baselines, each target's quantiles from the bars up to its own as-of date.
"""

import time
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from forecaster.config import Settings, model_spec, train_spec
from forecaster.ingest.sources.csvfile import read_bar_csv
from forecaster.model import baselines
from forecaster.model.forecasting import window_forecasts
from forecaster.model.intervals import MEDIAN, average
from forecaster.model.spec import ModelKind, ModelSpec, TrainSpec
from forecaster.model.training import prepare, train_new
from forecaster.model.windows import FloatArray
from forecaster.scoring.intervals import bounds, interval_scores, misses, pinball_each
from forecaster.scoring.metrics import Scores, naive_scale, score
from forecaster.scoring.significance import diebold_mariano, kupiec

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
        head="point",  # the course's MSE regression: its networks give no quantiles
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
    quantiles: FloatArray | None = None  # (targets, levels) calibrated prices; None from a point network


def holdout(train_rows: pd.DataFrame, test_rows: pd.DataFrame, spec: ModelSpec, train: TrainSpec) -> Holdout:
    """Train once on `train_rows`, forecast every window inside `test_rows` (its first
    `spec.window` rows are history only)."""
    started = time.perf_counter()
    fitted = train_new(train_rows, spec, train, label=f"{spec.kind} seed {train.seed}")
    train_s = time.perf_counter() - started
    test = prepare(test_rows, spec)
    values, quantiles = window_forecasts(fitted.model, fitted.scaler, test.x, fitted.calibration)
    actual = test.y[:, 0]
    last_close = test_rows["close"].to_numpy()[spec.window - 1 : spec.window - 1 + len(actual)]
    bands = None if quantiles is None else quantiles[:, 0, :]
    return Holdout(values[:, 0], actual, last_close, fitted.stats.epochs_run, train_s, fitted.stats.seconds, bands)


def course_experiment(
    settings: Settings, *, kinds: tuple[ModelKind, ...], course_settings: bool, seeds: int, epochs: int | None = None
) -> list[dict[str, object]]:
    """Scores on the course's 240 test targets for each model (mean and spread over seeds),
    beside the ensemble and the baselines naive (the last close), ewma and drift. `epochs` caps
    training (for quick checks)."""
    bars = load_course_bars(settings)
    train_rows, test_rows = bars.iloc[:COURSE_TRAIN_ROWS], bars.iloc[COURSE_TRAIN_ROWS:]
    results: list[dict[str, object]] = []
    target = "open" if course_settings else settings.target
    scale = _scale(train_rows, target)
    runs: dict[str, list[Holdout]] = {}
    label, window = "-", 0
    for kind in kinds:
        spec = course_model_spec(kind) if course_settings else model_spec(settings, kind)
        spec = replace(spec, horizon=1, adjust="none")  # one day ahead; the file has no factors
        runs[kind] = [_run(settings, spec, train_rows, test_rows, course_settings, i, epochs) for i in range(seeds)]
        label, window = _seeds_label(settings.seed, seeds, spec.members), spec.window
        results.append(_scored(kind, target, runs[kind], scale, label))
    if not runs:
        return results
    last = runs[kinds[-1]][-1]
    ensemble = _ensemble(list(runs.values()))
    if ensemble:
        runs["ensemble"] = ensemble
        results.append(_scored("ensemble", target, ensemble, scale, label))
    train_close = train_rows["close"].to_numpy()
    step = (train_close[-1] - train_close[0]) / (len(train_close) - 1)
    points = {"naive": last.last_close, "ewma": last.last_close, "drift": last.last_close + step, "garch": None}
    for name, point in points.items():
        quantiles = _baseline_quantiles(bars, window, len(last.actual), name)
        yhat = quantiles[:, MEDIAN] if point is None else point  # garch's point is its median
        baseline = Holdout(np.asarray(yhat, dtype=np.float64), last.actual, last.last_close, 0, 0.0, 0.0, quantiles)
        runs[name] = [baseline]
        results.append(_scored(name, target, [baseline], scale, "-"))
    naive = next(row for row in results if row["model"] == "naive")
    naive_mae, naive_pinball = float(naive["mae"]), float(naive["pinball"])  # type: ignore[arg-type]
    for row in results:
        row["rel_mae"] = float(row["mae"]) / naive_mae  # type: ignore[arg-type]
        row["rel_mae_sd"] = float(row["mae_sd"]) / naive_mae  # type: ignore[arg-type]
        row["rel_pinball"] = float(row["pinball"]) / naive_pinball  # type: ignore[arg-type]
        row |= _significance(runs[str(row["model"])], runs)
    return results


def _significance(model: list[Holdout], runs: dict[str, list[Holdout]]) -> dict[str, float]:
    """DM p-values of the seed-mean per-target pinball loss against naive's and garch's, and the
    median over seeds of Kupiec's p-value (one seed: its own); NaN for a model without quantiles."""
    names = ("dm_naive", "dm_naive_p", "dm_garch", "dm_garch_p", "kupiec80_p", "kupiec95_p")
    out = dict.fromkeys(names, float("nan"))
    losses = _mean_losses(model)
    if losses is None:
        return out
    for name in ("naive", "garch"):
        base = _mean_losses(runs[name])
        if base is not None:
            stat = diebold_mariano(losses - base, 1)
            out |= {f"dm_{name}": stat.statistic, f"dm_{name}_p": stat.p_value}
    for level in (0.80, 0.95):
        p = [
            kupiec(misses(*bounds(h.quantiles, level), h.actual), level).p_value
            for h in model
            if h.quantiles is not None
        ]
        out[f"kupiec{round(level * 100)}_p"] = float(np.median(p))
    return out


def _mean_losses(runs: list[Holdout]) -> FloatArray | None:
    """Each target's pinball loss, averaged over the seeds; None unless every run has quantiles."""
    if any(h.quantiles is None for h in runs):
        return None
    each = [pinball_each(h.quantiles, h.actual) for h in runs if h.quantiles is not None]
    return np.asarray(np.mean(each, axis=0), dtype=np.float64)


def _run(
    settings: Settings,
    spec: ModelSpec,
    train_rows: pd.DataFrame,
    test_rows: pd.DataFrame,
    course_settings: bool,
    i: int,
    epochs: int | None,
) -> Holdout:
    # An averaged model of k members uses seeds seed .. seed + k - 1: space the runs k apart so
    # that no two runs share a member.
    seed = settings.seed + i * spec.members
    train = course_train_spec(seed) if course_settings else train_spec(settings, seed)
    if epochs is not None:
        train = replace(train, max_epochs=epochs, patience=min(train.patience, epochs))
    return holdout(train_rows, test_rows, spec, train)


def _ensemble(runs: list[list[Holdout]]) -> list[Holdout]:
    """Seed by seed, the average of the networks' quantiles (its median is its point); none
    unless there are several networks and all have quantiles."""
    if len(runs) < 2 or any(h.quantiles is None for seeds in runs for h in seeds):
        return []
    members = list(zip(*runs, strict=True))  # per seed: one holdout of each kind
    out = []
    for group in members:
        q = average([h.quantiles for h in group if h.quantiles is not None])
        first = group[0]
        seconds = sum(h.train_s for h in group)
        out.append(
            Holdout(q[:, MEDIAN], first.actual, first.last_close, sum(h.epochs for h in group), seconds, seconds, q)
        )
    return out


def _baseline_quantiles(bars: pd.DataFrame, window: int, targets: int, name: str) -> FloatArray:
    """(targets, levels) one-day quantiles of a baseline, each from the bars up to its target's
    as-of date (the row before the target) and nothing later."""
    make = {
        "naive": baselines.naive_quantiles,
        "ewma": baselines.ewma_quantiles,
        "drift": baselines.drift_quantiles,
        "garch": baselines.garch_quantiles,
    }
    first = COURSE_TRAIN_ROWS + window  # the first target's row
    return np.vstack([make[name](bars.iloc[: first + i], 1)[0] for i in range(targets)])


def _scored(model: str, target: str, runs: list[Holdout], scale: float, seeds: str) -> dict[str, object]:
    per_seed = [score(h.yhat, h.actual, h.last_close, scale) for h in runs]
    moves = [float(np.mean(np.abs(h.yhat - h.last_close))) for h in runs]
    row = _row(model, target, per_seed, seeds, moves)
    bands = [interval_scores(h.quantiles, h.actual) for h in runs if h.quantiles is not None]
    for name in INTERVAL_FIELDS:
        row[name] = float(np.mean([b[name] for b in bands])) if len(bands) == len(runs) else float("nan")
    return row


INTERVAL_FIELDS = ("coverage_80", "coverage_95", "width_80", "winkler_80", "pinball")


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
