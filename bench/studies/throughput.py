"""Training throughput: what each Keras/TensorFlow execution knob does to our fit's samples per second.

    python -m bench.studies.throughput [--quick] [--repeats N]

It chose the product's FitOptions (model/trainers.py: Keras' defaults, no XLA, no unrolling) and
its threads (forecaster/__init__.py).

Our fit exactly as the product runs it (`forecaster.model.training.train_new`: the settings'
network, the course's 2126 training rows, the inner validation slice evaluated every epoch),
for a fixed number of epochs (early stopping's patience set past them, so every variant runs
the same epochs), once per variant and kind, the variants' order rotating from one repeat to the
next so that the machine's load falls on all alike; medians. Each variant is fitted twice in a
row: the first fit traces (and with XLA compiles) its train function, as a process's first fit
of a shape does; the second reuses the cached trainer (model/trainers.py), as every later fit
of that shape in the process does. Thread settings must be made before TensorFlow runs
anything, so each thread setting is measured in a child process of its own.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, replace
from statistics import median

import keras
import pandas as pd

from bench.section import Cell, Options, Section
from bench.training import our_specs, train_samples
from forecaster.config import Settings
from forecaster.course.experiment import COURSE_TRAIN_ROWS, load_course_bars
from forecaster.model.spec import MODEL_KINDS, ModelKind
from forecaster.model.trainers import DEFAULT_FIT, FitOptions, forget_trainers
from forecaster.model.training import train_new


@dataclass(frozen=True)
class Variant:
    name: str
    options: FitOptions
    batch_size: int = 128


BASE = Variant("base (Keras defaults)", FitOptions())
VARIANTS = [
    BASE,
    Variant("jit_compile", FitOptions(jit_compile=True)),
    Variant("unroll", FitOptions(unroll=True)),
    Variant("jit_compile + unroll", FitOptions(jit_compile=True, unroll=True)),
    Variant("batch 64", FitOptions(), batch_size=64),
    Variant("batch 256", FitOptions(), batch_size=256),
]
# (intra-op, inter-op) threads; 0 is TensorFlow's own choice (the machine's cores). (1, 0) is the
# project's default (forecaster/__init__.py).
THREADS = [(0, 0), (1, 0), (1, 1), (2, 1), (1, 2)]
EPOCHS, QUICK_EPOCHS_ = 6, 2
MODULE = "bench.studies.throughput"  # run as a child per thread setting
HEADERS = ["variant", "model", "batch", "cold fit s", "warm fit s", "cold samples/s", "warm samples/s",
           "warm × base", "best val loss"]  # fmt: skip


@dataclass(frozen=True)
class Measured:
    variant: str
    kind: str
    batch_size: int
    cold_s: float  # first fit of the shape in the process: tracing (and XLA compiling) included
    warm_s: float  # the same fit again on the cached trainer
    samples: int  # training windows per epoch x epochs
    val_loss: float  # best epoch's, on the inner validation slice (cold fit; the warm one is identical)

    @property
    def cold_rate(self) -> float:
        return self.samples / self.cold_s

    @property
    def warm_rate(self) -> float:
        return self.samples / self.warm_s


def measure(kind: ModelKind, variant: Variant, epochs: int, bars: pd.DataFrame) -> Measured:
    """Two fits of `kind` under `variant`, same seed and data: cold then warm."""
    spec, train = our_specs(Settings(), kind, None)
    train = replace(train, max_epochs=epochs, patience=epochs + 1, batch_size=variant.batch_size)
    rows = bars.iloc[:COURSE_TRAIN_ROWS]
    forget_trainers()  # a cold first fit, whatever ran before
    first = train_new(rows, spec, train, options=variant.options)
    second = train_new(rows, spec, train, options=variant.options)
    samples = train_samples(rows, spec, train) * first.stats.epochs_run
    return Measured(variant.name, kind, variant.batch_size, first.stats.seconds, second.stats.seconds,
                    samples, first.stats.val_loss)  # fmt: skip


def run_in_process(opts: Options, epochs: int) -> list[Measured]:
    bars = load_course_bars(Settings())
    out: list[Measured] = []
    for repeat in range(opts.repeats):
        shift = repeat % len(VARIANTS)
        for variant in VARIANTS[shift:] + VARIANTS[:shift]:  # rotate who goes first
            for kind in MODEL_KINDS:
                keras.backend.clear_session()
                out.append(measure(kind, variant, epochs, bars))
                m = out[-1]
                print(f"  {variant.name} {kind}: {m.cold_s:.1f} s cold, {m.warm_s:.1f} s warm", flush=True)
    return out


def run_threads(opts: Options, epochs: int) -> list[Measured]:
    """Base knobs under each thread setting, one child process per (setting, repeat)."""
    out: list[Measured] = []
    for repeat in range(opts.repeats):
        shift = repeat % len(THREADS)
        for intra, inter in THREADS[shift:] + THREADS[:shift]:
            args = [sys.executable, "-m", MODULE, "--threads", f"{intra},{inter}", "--epochs", str(epochs)]
            # Through the environment too: with 0 in tf.config, TensorFlow falls back to the
            # variable, which the project sets to 1 on import unless it is set already.
            env = {**os.environ, "TF_NUM_INTRAOP_THREADS": str(intra)}
            done = subprocess.run(args, env=env, check=True, capture_output=True, text=True)
            for line in done.stdout.splitlines():
                if line.startswith("{"):
                    out.append(Measured(**json.loads(line)))
            print(f"  threads intra={intra} inter={inter}: done", flush=True)
    return out


def bench(opts: Options) -> list[Section]:
    epochs = QUICK_EPOCHS_ if opts.quick else EPOCHS
    knobs = run_in_process(opts, epochs)
    threads = run_threads(opts, epochs)
    return [knob_section(knobs, opts, epochs), knob_section(threads, opts, epochs, threads=True)]


def _median_of(ms: list[Measured], variant: str, kind: str) -> Measured:
    mine = [m for m in ms if m.variant == variant and m.kind == kind]
    return replace(mine[0], cold_s=median(m.cold_s for m in mine), warm_s=median(m.warm_s for m in mine),
                   val_loss=median(m.val_loss for m in mine))  # fmt: skip


def _default_variant() -> Variant:
    """The listed variant the product trains with (its FitOptions and the settings' batch)."""
    batch = Settings().batch_size
    return next(v for v in VARIANTS if v.options == DEFAULT_FIT and v.batch_size == batch)


def knob_section(ms: list[Measured], opts: Options, epochs: int, *, threads: bool = False) -> Section:
    names = list(dict.fromkeys(m.variant for m in ms))
    rows: list[list[Cell]] = []
    headline: list[tuple[str, Cell]] = []
    for kind in MODEL_KINDS:
        base = _median_of(ms, names[0], kind)
        for name in names:
            m = _median_of(ms, name, kind)
            rows.append([name, kind, m.batch_size, m.cold_s, m.warm_s, m.cold_rate, m.warm_rate,
                         m.warm_rate / base.warm_rate, m.val_loss])  # fmt: skip
        if not threads:
            default = _median_of(ms, _default_variant().name, kind)
            headline.append((f"{kind}: product default / Keras defaults, warm samples/s",
                             f"{default.warm_rate / base.warm_rate:.2f}×"))  # fmt: skip
    notes = [
        f"Median of {opts.repeats} repeat(s); {epochs} epochs per fit, same seed and data for every variant; "
        "samples/s = training windows × epochs / seconds in the fit (validation every epoch included).",
        "Cold: the process's first fit of that shape and variant (tracing, and with jit_compile XLA compiling, "
        "included); warm: the same fit again on the cached trainer. × base: warm samples/s against the first row.",
        f"Product default: {_default_variant().name} (FitOptions{asdict(DEFAULT_FIT)}), batch {Settings().batch_size}.",
    ]
    if threads:
        notes.insert(0, "One child process per thread setting and repeat (tf.config.threading before TensorFlow "
                     "runs anything); base knobs. intra/inter 0: TensorFlow's own choice.")  # fmt: skip
    if opts.quick:
        notes.insert(0, f"QUICK: {epochs} epochs, one repeat: the ratios are rough.")
    title = "Training throughput: thread settings" if threads else "Training throughput: execution knobs"
    raw = {"measured": [asdict(m) for m in ms], "epochs": epochs}
    return Section("throughput", title, HEADERS, rows, notes=notes, headline=headline, raw=raw)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=f"python -m {MODULE}", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_EPOCHS_} epochs per fit, one repeat.")
    parser.add_argument("--repeats", type=int, default=3, help="Repeats, the variants' order rotating (default 3).")
    parser.add_argument("--threads", metavar="INTRA,INTER", help="Internal: one child's measurement, as JSON lines.")
    parser.add_argument("--epochs", type=int, default=EPOCHS, help="Epochs per fit (with --threads).")
    args = parser.parse_args(argv)
    if args.threads:
        _child(args.threads, args.epochs)
        return 0
    from bench.studies import print_sections
    from forecaster.cli.runtime import load_training_stack

    load_training_stack()  # in-process Keras: import it once, quietly
    print_sections(bench(Options(quick=args.quick, repeats=1 if args.quick else args.repeats)))
    return 0


def _child(threads: str, epochs: int) -> None:
    """The base knobs under the thread setting INTRA,INTER, one JSON line per kind."""
    intra, inter = (int(v) for v in threads.split(","))
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(intra)
    tf.config.threading.set_inter_op_parallelism_threads(inter)
    bars = load_course_bars(Settings())
    for kind in MODEL_KINDS:
        started = time.perf_counter()
        m = replace(measure(kind, BASE, epochs, bars), variant=f"intra={intra} inter={inter}")
        print(json.dumps(asdict(m)), flush=True)
        print(f"{kind}: {time.perf_counter() - started:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
