"""Fine-tuning with a fresh Adam each day against Adam's state carried over from the previous
day's fit (what the product does since this study: `fine_tune(..., adam=...)`).

    python -m bench.studies.optimizer [--quick] [--kinds rnn,lstm,gru]

In one process, for rnn, lstm and gru with the product's model settings: a network trained on
the bundled file up to the day before a range of trading days inside the course's test period
(its first target is the course's first), then a walk over the range: each day both variants
fine-tune (`fine_tune`, the settings' finetune epochs and learning rate) on the bars up to that
day and forecast the next close. Same seeds, same data, same starting weights; the two variants
alternate day by day, so the machine's load hits both alike.

- fresh: `fine_tune` without a state: a fresh Adam every fit;
- carried: `fine_tune` given the Adam state the same variant's previous fit ended with (the
  first fine-tune gets the initial training's); the learning rate is the fine-tune's.

Reported per kind and variant: MAE / naive's and pinball / naive's over the forecasts, and the
`.keras` file size with and without the Adam state.
"""

import argparse
import sys
import time
from dataclasses import dataclass, field, replace
from typing import Any, cast

import numpy as np
import pandas as pd

from bench.section import QUICK_EPOCHS, QUICK_MODELS, QUICK_NOTE, Options, Section
from forecaster.model.spec import MODEL_KINDS, ModelKind
from forecaster.model.trainers import AdamState

VARIANTS = ("fresh", "carried")
DAYS = 60
QUICK_DAYS = 10


@dataclass
class Walk:
    """One variant's forecasts over the range: (days,) points and (days, levels) quantiles."""

    yhat: list[float] = field(default_factory=list)
    quantiles: list[np.ndarray] = field(default_factory=list)
    fit_s: float = 0.0
    adam: AdamState | None = None  # the Adam state its last fit ended with (carried only)


def kind_walk(kind: ModelKind, bars: pd.DataFrame, days: int, quick: bool) -> dict[str, Any]:
    """Both variants over `days` as-of days for one model kind."""
    from forecaster.config import Settings, model_spec, train_spec
    from forecaster.course.experiment import COURSE_TRAIN_ROWS
    from forecaster.model.files import model_bytes
    from forecaster.model.forecasting import model_quantiles
    from forecaster.model.resident import network_for
    from forecaster.model.training import fine_tune, train_new

    settings = Settings()
    spec = replace(model_spec(settings, kind), horizon=1, adjust="none")  # the file has no factors
    train = train_spec(settings)
    if quick:
        train = replace(train, max_epochs=QUICK_EPOCHS, patience=min(train.patience, QUICK_EPOCHS))
    first = COURSE_TRAIN_ROWS + spec.window - 1  # the as-of row of the course's first test target
    fitted = train_new(bars.iloc[:first], spec, train, label=f"{kind} initial")
    models = {v: network_for(spec) for v in VARIANTS}
    walks = {v: Walk() for v in VARIANTS}
    walks["carried"].adam = fitted.adam
    for m in models.values():
        m.set_weights(fitted.model.get_weights())
    sizes: dict[str, int] = {}
    for day in range(days):
        history = bars.iloc[: first + day + 1]  # up to and including the as-of day
        for variant in VARIANTS:  # alternating: the machine's load hits both alike
            walk = walks[variant]
            started = time.perf_counter()
            tuned = fine_tune(
                models[variant], fitted.scaler, history, spec, train, label=f"{kind} {variant}", adam=walk.adam
            )
            walk.fit_s += time.perf_counter() - started
            if variant == "carried":
                walk.adam = tuned.adam
            if not sizes:  # the version's file with its Adam state (what is saved) and without
                sizes = {"with": len(model_bytes(tuned.model, tuned.adam)), "without": len(model_bytes(tuned.model))}
            values, quantiles = model_quantiles(tuned.model, tuned.scaler, history, spec, tuned.calibration)
            walk.yhat.append(float(values[0]))
            walk.quantiles.append(np.zeros(0) if quantiles is None else quantiles[0])
        print(f"{kind} day {day + 1}/{days}", file=sys.stderr, flush=True)
    return {"walks": walks, "sizes": sizes, "first": first}


def scores(bars: pd.DataFrame, first: int, walk: Walk) -> dict[str, float]:
    """MAE and pinball of a walk, and both relative to naive's on the same targets."""
    from forecaster.model.baselines import naive_quantiles
    from forecaster.scoring.intervals import pinball

    n = len(walk.yhat)
    close = bars["close"].to_numpy()
    actual = close[first + 1 : first + 1 + n]  # the next close after each as-of day
    last = close[first : first + n]
    mae = float(np.mean(np.abs(np.asarray(walk.yhat) - actual)))
    naive_mae = float(np.mean(np.abs(last - actual)))
    out = {"mae": mae, "rel_mae": mae / naive_mae, "pinball": float("nan"), "rel_pinball": float("nan")}
    if all(q.size for q in walk.quantiles):
        naive_q = np.vstack([naive_quantiles(bars.iloc[: first + i + 1], 1)[0] for i in range(n)])
        out["pinball"] = pinball(np.vstack(walk.quantiles), actual)
        out["rel_pinball"] = out["pinball"] / pinball(naive_q, actual)
    return out


def bench(opts: Options, only: tuple[ModelKind, ...] | None = None) -> list[Section]:
    from forecaster.cli.runtime import load_training_stack
    from forecaster.config import Settings
    from forecaster.course.experiment import load_course_bars

    load_training_stack()
    kinds: tuple[ModelKind, ...] = (cast(ModelKind, QUICK_MODELS),) if opts.quick else MODEL_KINDS
    kinds = only or kinds
    days = QUICK_DAYS if opts.quick else DAYS
    bars = load_course_bars(Settings())
    rows: list[list[Any]] = []
    raw: dict[str, Any] = {}
    for kind in kinds:
        done = kind_walk(kind, bars, days, opts.quick)
        for variant in VARIANTS:
            walk: Walk = done["walks"][variant]
            s = scores(bars, done["first"], walk)
            size = done["sizes"]["without" if variant == "fresh" else "with"]
            rows.append([kind, variant, s["mae"], s["rel_mae"], s["pinball"], s["rel_pinball"], size / 1024])
            raw[f"{kind}/{variant}"] = {**s, "file_bytes": size, "fit_s": walk.fit_s, "yhat": walk.yhat}
            print(f"{kind} {variant}: {s} file {size} B, fit {walk.fit_s:.0f} s", file=sys.stderr, flush=True)
    dates = bars.index[done["first"] : done["first"] + days]
    notes = [
        f"As-of days {dates[0].date()} .. {dates[-1].date()} ({days}), one fine-tune a day; the product's "
        "model settings (horizon 1, no adjustment: the file is qfq already); same seeds and data per variant.",
        "fresh: a fresh Adam every fit; carried: the previous fit's Adam moments and step count "
        "continued (the product). File KiB: the `.keras` file without the Adam state (fresh) and with "
        "it (carried: what the product saves).",
    ]
    if opts.quick:
        notes.append(f"{QUICK_NOTE}; {days} days.")
    return [
        Section(
            name="optimizer",
            title="Fine-tuning with a fresh Adam vs the carried-over Adam state",
            headers=["model", "optimizer", "MAE", "MAE / naive", "pinball", "pinball / naive", "file KiB"],
            rows=rows,
            notes=notes,
            headline=[(f"{r[0]} {r[1]} MAE / naive", r[3]) for r in rows],
            raw=raw,
        )
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.studies.optimizer", description=__doc__)
    parser.add_argument("--quick", action="store_true", help=f"rnn only, {QUICK_DAYS} days, short training.")
    parser.add_argument("--kinds", help="Comma-separated model kinds (default: rnn, lstm, gru).")
    args = parser.parse_args(argv)
    from bench.studies import print_sections
    from forecaster.model.spec import model_kinds

    only = model_kinds(args.kinds.split(",")) if args.kinds else None
    print_sections(bench(Options(quick=args.quick), only))
    return 0


if __name__ == "__main__":
    sys.exit(main())
