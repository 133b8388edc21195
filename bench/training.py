"""Training vs the course: the course's script (bench.course) and our training of the same
network kind, on the same file and split, alternating, repeated; medians.

Each trial runs in a child process of its own (`python -m bench.training --trial WHO KIND`),
because TensorFlow's thread pools are the process's: the course's script runs under
TensorFlow's defaults (one intra-op thread a core), as it does for a student, and ours under
the project's (forecaster/__init__.py: one intra-op thread), as it does for a user. In one
process both would run under whichever setting the process started with.

Ours is `forecaster evaluate --split course`'s path: the product's model and training settings
as `Settings()` gives them at run time (whatever the defaults are today), trained by
`forecaster.model.training.train_new` on the course's 2126 training rows (early stopping on the
newest 10 % of those), then scored on the course's 240 test targets. Both are scored with
forecaster.scoring.metrics against the naive forecast (the last close) on the same targets.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from statistics import median

import pandas as pd

from bench.course import EPOCHS as COURSE_EPOCHS
from bench.course import TEST_ROWS, WINDOW, run_course
from bench.section import QUICK_EPOCHS, Cell, Options, Section
from forecaster.config import Settings, model_spec, train_spec
from forecaster.course.experiment import COURSE_TRAIN_ROWS, holdout, load_course_bars
from forecaster.model.spec import MODEL_KINDS, ModelKind, ModelSpec, TrainSpec, model_kinds
from forecaster.model.training import prepare, split_of
from forecaster.model.windows import FloatArray
from forecaster.scoring.metrics import Scores, naive_scale, score

# The course's child runs under TensorFlow's own thread choice ("0"), not the project's default.
COURSE_ENV = {"TF_NUM_INTRAOP_THREADS": "0"}

SPEED_HEADERS = [
    "model",
    "course s",
    "ours s",
    "ours / course",
    "course samples/s",
    "ours samples/s",
    "ours / course samples/s",
    "course epochs",
    "ours epochs",
]
TARGETS = TEST_ROWS - WINDOW  # 240 one-day-ahead targets: the file's last 240 rows


@dataclass(frozen=True)
class Trial:
    who: str  # course | ours
    kind: ModelKind
    wall_s: float  # CSV to trained model
    fit_s: float  # the fit calls alone
    epochs: int  # epochs run (summed over an averaged model's members)
    samples: int  # training windows per epoch
    target: str
    scores: Scores

    @property
    def samples_per_s(self) -> float:
        return self.samples * self.epochs / self.fit_s


@dataclass(frozen=True)
class Targets:
    """The course's test targets for one target column, and what they are scored against."""

    actual: FloatArray  # (240,)
    last_close: FloatArray  # (240,) the close the day before each target: the naive forecast
    scale: float  # MASE scale: in-sample MAE of one-step naive over the training rows

    def score(self, yhat: FloatArray) -> Scores:
        return score(yhat, self.actual, self.last_close, self.scale)


def course_targets(bars: pd.DataFrame, target: str) -> Targets:
    train = bars.iloc[:COURSE_TRAIN_ROWS]
    close = bars["close"].to_numpy()
    return Targets(
        actual=bars[target].to_numpy()[-TARGETS:],
        last_close=close[-TARGETS - 1 : -1],
        scale=naive_scale(train[target].to_numpy()[1:], train["close"].to_numpy()[:-1]),
    )


def course_trial(kind: ModelKind, settings: Settings, epochs: int) -> Trial:
    with tempfile.TemporaryDirectory() as tmp:  # the course's checkpoint file goes here
        run = run_course(kind, settings.bundled_csv, Path(tmp), epochs=epochs)
    targets = course_targets(load_course_bars(settings), "open")
    scores = targets.score(run.predicted)
    return Trial("course", kind, run.wall_s, run.fit_s, run.epochs, run.train_samples, "open", scores)


def our_specs(settings: Settings, kind: ModelKind, max_epochs: int | None) -> tuple[ModelSpec, TrainSpec]:
    """The product's specs for `kind`, one day ahead on the file's prices (it has no factors)."""
    spec = replace(model_spec(settings, kind), horizon=1, adjust="none")
    train = train_spec(settings)
    if max_epochs is not None:
        train = replace(train, max_epochs=max_epochs, patience=min(train.patience, max_epochs))
    return spec, train


def our_trial(kind: ModelKind, settings: Settings, max_epochs: int | None) -> Trial:
    spec, train = our_specs(settings, kind, max_epochs)
    started = time.perf_counter()
    bars = load_course_bars(settings)
    read_s = time.perf_counter() - started
    # The course's targets whatever our window: each one's window is the rows just before it.
    result = holdout(bars.iloc[:COURSE_TRAIN_ROWS], bars.iloc[-(TARGETS + spec.window) :], spec, train)
    samples = train_samples(bars.iloc[:COURSE_TRAIN_ROWS], spec, train)
    targets = course_targets(bars, spec.target)
    scores = targets.score(result.yhat)
    return Trial("ours", kind, read_s + result.train_s, result.fit_s, result.epochs, samples, spec.target, scores)


def train_samples(rows: pd.DataFrame, spec: ModelSpec, train: TrainSpec) -> int:
    """Training windows per epoch in a fit on `rows` (the inner validation slice left out)."""
    return len(split_of(prepare(rows, spec), train).train)


def run_trials(opts: Options) -> list[Trial]:
    """Course and ours per kind, alternating which goes first from one repeat to the next; each
    trial in a fresh child process, which reads its settings from the environment as this one does."""
    course_epochs = QUICK_EPOCHS if opts.quick else COURSE_EPOCHS
    ours_cap = QUICK_EPOCHS if opts.quick else None
    trials: list[Trial] = []
    for repeat in range(opts.repeats):
        for kind in MODEL_KINDS:
            pair = [("course", course_epochs), ("ours", ours_cap)]
            for who, epochs in pair if repeat % 2 == 0 else reversed(pair):
                trials.append(child_trial(who, kind, epochs))
                print(f"  {who} {kind}: {trials[-1].wall_s:.1f} s", flush=True)
    return trials


def child_trial(who: str, kind: ModelKind, epochs: int | None) -> Trial:
    """One trial in a child process: the course's under TensorFlow's thread defaults, ours under
    the project's."""
    args = [sys.executable, "-m", "bench.training", "--trial", who, kind]
    args += [] if epochs is None else ["--epochs", str(epochs)]
    env = {**os.environ, **(COURSE_ENV if who == "course" else {})}
    done = subprocess.run(args, env=env, check=True, capture_output=True, text=True)
    line = next(line for line in reversed(done.stdout.splitlines()) if line.startswith("{"))
    raw = json.loads(line)
    raw.pop("samples_per_s")
    return Trial(**{**raw, "scores": Scores(**raw["scores"])})


def bench(opts: Options) -> list[Section]:
    settings = Settings()
    trials = run_trials(opts)
    naive = {t: course_targets(load_course_bars(settings), t) for t in {tr.target for tr in trials}}
    return [speed_section(trials, settings, opts), accuracy_section(trials, naive, opts)]


def _med(trials: list[Trial], who: str, kind: str, value: Callable[[Trial], float]) -> float:
    return median(value(t) for t in trials if t.who == who and t.kind == kind)


def speed_section(trials: list[Trial], settings: Settings, opts: Options) -> Section:
    rows: list[list[Cell]] = []
    headline: list[tuple[str, Cell]] = []
    for kind in MODEL_KINDS:
        wall = {w: _med(trials, w, kind, lambda t: t.wall_s) for w in ("course", "ours")}
        rate = {w: _med(trials, w, kind, lambda t: t.samples_per_s) for w in ("course", "ours")}
        epochs = {w: _med(trials, w, kind, lambda t: t.epochs) for w in ("course", "ours")}
        ratio = wall["ours"] / wall["course"]
        rows.append([kind, wall["course"], wall["ours"], ratio, rate["course"], rate["ours"],
                     rate["ours"] / rate["course"], epochs["course"], epochs["ours"]])  # fmt: skip
        headline.append((f"{kind}: training wall time, ours / course", f"{ratio:.2f}×"))
        headline.append((f"{kind}: samples/s, ours / course (goal ≥ 1.5)", f"{rate['ours'] / rate['course']:.2f}×"))
    spec, train = our_specs(settings, "rnn", QUICK_EPOCHS if opts.quick else None)
    described = {k: v for k, v in {**asdict(spec), **asdict(train)}.items() if k != "kind"}
    notes = [
        f"Median of {opts.repeats} repeat(s); course and ours alternate (who goes first swaps each repeat).",
        "Each trial a fresh child process: the course under TensorFlow's thread defaults (one intra-op thread a "
        "core), as the course's script runs; ours under the project's (TF_NUM_INTRAOP_THREADS=1, "
        "forecaster/__init__.py).",
        "Wall: CSV read to trained model. Samples/s: training windows × epochs run / seconds in fit "
        "(the course validates on its 300 test rows every epoch; ours on its inner validation slice).",
        f"Course: bench/course.py, {QUICK_EPOCHS if opts.quick else COURSE_EPOCHS} epochs, batch 64, seed 7.",
        "Ours: Settings() at run time: " + ", ".join(f"{k}={v}" for k, v in described.items()) + ".",
    ]
    if opts.quick:
        notes.insert(0, f"QUICK: course {QUICK_EPOCHS} epochs (not 50), ours at most {QUICK_EPOCHS}; throughput only.")
    return Section(
        name="course",
        title="Training vs the course: speed",
        headers=SPEED_HEADERS,
        rows=rows,
        notes=notes,
        headline=headline,
        raw={"trials": [_trial_json(t) for t in trials], "ours_settings": described},
    )


def accuracy_section(trials: list[Trial], naive: dict[str, Targets], opts: Options) -> Section:
    rows: list[list[Cell]] = []
    naive_mae = {target: t.score(t.last_close).mae for target, t in naive.items()}
    for who in ("course", "ours"):
        for kind in MODEL_KINDS:
            mine = [t for t in trials if t.who == who and t.kind == kind]
            mae = median(t.scores.mae for t in mine)
            rows.append([f"{who} {kind}", mine[0].target, mine[0].scores.n, median(t.scores.rmse for t in mine),
                         mae, median(t.scores.mase for t in mine), mae / naive_mae[mine[0].target]])  # fmt: skip
    for target, t in sorted(naive.items()):
        s = t.score(t.last_close)
        rows.append([f"naive (last close) for {target}", target, s.n, s.rmse, s.mae, s.mase, 1.0])
    rel = {row[0]: row[-1] for row in rows}
    headline: list[tuple[str, Cell]] = [
        (f"{kind}: test MAE / naive, course → ours", f"{rel[f'course {kind}']:.2f} → {rel[f'ours {kind}']:.3f}")
        for kind in MODEL_KINDS
    ]
    notes = [
        f"The course's {TARGETS} test targets (2019-05-06..2020-04-24); medians over the repeats. MASE: MAE / "
        "in-sample MAE of the one-step naive forecast (last close) over the 2126 training rows. "
        "MAE / naive: against the last close on the same targets — below 1 beats naive.",
        "The course forecasts the next open, ours the settings' target; each is compared with its own naive row.",
    ]
    if opts.quick:
        notes.insert(0, f"QUICK: {QUICK_EPOCHS} epochs each: these accuracies say nothing about the real models.")
    return Section(
        name="course",
        title="Training vs the course: test accuracy",
        headers=["model", "target", "n", "RMSE", "MAE", "MASE", "MAE / naive"],
        rows=rows,
        notes=notes,
        headline=headline,
        raw={"naive": {k: asdict(v.score(v.last_close)) for k, v in naive.items()}},
    )


def _trial_json(t: Trial) -> dict[str, object]:
    return {
        "who": t.who,
        "kind": t.kind,
        "wall_s": t.wall_s,
        "fit_s": t.fit_s,
        "epochs": t.epochs,
        "samples": t.samples,
        "samples_per_s": t.samples_per_s,
        "target": t.target,
        "scores": asdict(t.scores),
    }


def _child(argv: list[str]) -> None:
    """`--trial WHO KIND [--epochs N]`: one trial, printed as one JSON line."""
    parser = argparse.ArgumentParser(prog="python -m bench.training")
    parser.add_argument("--trial", nargs=2, required=True, metavar=("WHO", "KIND"))
    parser.add_argument("--epochs", type=int, default=None)
    args = parser.parse_args(argv)
    who, kind = args.trial[0], model_kinds([args.trial[1]])[0]
    settings = Settings()
    if who == "course":
        trial = course_trial(kind, settings, COURSE_EPOCHS if args.epochs is None else args.epochs)
    else:
        trial = our_trial(kind, settings, args.epochs)
    print(json.dumps(_trial_json(trial)), flush=True)


if __name__ == "__main__":
    _child(sys.argv[1:])
