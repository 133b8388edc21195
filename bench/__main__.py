"""The benchmark suite: every claim about speed and accuracy as a number anyone can reproduce.

    python -m bench [--quick] [--only NAME[,NAME]] [--repeats N] [--out PATH]

Runs the benchmarks in order, prints each table as it finishes, then writes the report as
BENCHMARKS.md-ready Markdown (--out, default bench/results/latest.md) and every raw number
beside it as JSON (same name, .json). --quick: small sizes and few epochs, labelled as such,
under 5 minutes on 2 cores. Benchmarks: course (training vs the course script, speed and
accuracy), routine (first and daily run, and the daily run's profile), backfill, ingest,
queries, smoke, scaling, distributed (local executor vs a 2-worker Dask cluster), memory
(RSS over a long backfill and daemon), and peers (darts' BlockRNNModel beside ours; an optional
extra, in the default list only where darts and torch are installed). Each guards a goal;
finished studies live in bench/studies/ and run by name, not here (bench/studies/README.md).
"""

import argparse
import importlib
import json
import os
import shlex
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import cast

from bench.machine import describe_machine
from bench.markdown import render_console, render_document
from bench.section import Options, Section

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "bench" / "results" / "latest.md"
# name -> module under bench/ whose `bench(Options)` runs it; imported only when chosen, so that
# `--only ingest` does not pay for TensorFlow.
BENCHMARKS = {
    "course": "training",
    "routine": "routine",
    "backfill": "backfill",
    "ingest": "ingest",
    "queries": "queries",
    "smoke": "smoke",
    "scaling": "scaling",
    "distributed": "distributed",
    "memory": "memory",
    "peers": "peers",
}
Bench = Callable[[Options], list[Section]]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="Small sizes, few epochs, one repeat (≤ 5 min).")
    parser.add_argument("--only", type=_names, default=default_names(), help="Comma-separated benchmark names.")
    parser.add_argument("--repeats", type=int, help="Repeats where a benchmark repeats (default 3; quick 1).")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="Markdown report path (JSON beside it).")
    args = parser.parse_args(argv)
    if args.repeats is not None and args.repeats < 1:
        parser.error("--repeats must be at least 1")
    return args


def default_names() -> list[str]:
    """Every benchmark, the optional peers only where what it needs is installed (asked
    without importing it): `--only peers` without them says how to install them."""
    from bench.peers import missing

    return [name for name in BENCHMARKS if name != "peers" or not missing()]


def _names(value: str) -> list[str]:
    names = [n.strip() for n in value.split(",") if n.strip()]
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown benchmark(s) {unknown}; choose from {', '.join(BENCHMARKS)}")
    return names


def run_one(name: str, opts: Options) -> list[Section]:
    """One benchmark; a failure becomes a section saying so, and the suite goes on."""
    module = importlib.import_module(f"bench.{BENCHMARKS[name]}")
    try:
        return cast(Bench, module.bench)(opts)
    except Exception as exc:  # noqa: BLE001  # the per-benchmark boundary: report it, run the rest
        traceback.print_exc()
        lines = (str(exc).strip() or type(exc).__name__).splitlines()
        summary = lines[0] if len(lines) == 1 else f"{lines[0]} … {lines[-1]}"  # a child's error ends its output
        return [Section(name, f"{name}: FAILED", ["error"], [[summary]], raw={"error": str(exc)})]


def command_line(argv: list[str]) -> str:
    """The command as typed from the repository root, for the report."""
    python = Path(sys.executable)
    shown = python.relative_to(REPO) if python.is_relative_to(REPO) else python
    return shlex.join([str(shown), "-m", "bench", *argv])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # children inherit it: TensorFlow's INFO lines are noise
    opts = Options(quick=args.quick, repeats=args.repeats or (1 if args.quick else 3))
    if "smoke" in args.only:  # in-process Keras: import it once, quietly
        from forecaster.cli.runtime import load_training_stack

        load_training_stack()
    machine = describe_machine()  # before the load we add: the load average shows the others' work
    started = time.perf_counter()
    sections = run_suite(args.only, opts)
    total = time.perf_counter() - started
    command = command_line(argv)
    raw = {
        "command": command,
        "quick": opts.quick,
        "repeats": opts.repeats,
        "suite_s": total,
        "machine": asdict(machine),
        "sections": [{"name": s.name, "title": s.title, **s.raw} for s in sections],
    }
    write_outputs(args.out, render_document(sections, machine, command, args.quick, total), raw)
    print(f"suite: {total:.0f} s; report {args.out} (+ .json)")
    return 1 if any(s.title.endswith("FAILED") for s in sections) else 0


def run_suite(names: list[str], opts: Options) -> list[Section]:
    """Each benchmark in turn, its tables printed as it finishes; the profile last."""
    sections: list[Section] = []
    for name in names:
        print(f"-- {name} ...", flush=True)
        begun = time.perf_counter()
        for section in run_one(name, opts):
            sections.append(section)
            print(render_console(section), flush=True)
        print(f"-- {name}: {time.perf_counter() - begun:.0f} s", flush=True)
    return sorted(sections, key=lambda s: s.name == "profile")  # "where the time goes" closes the report


def write_outputs(out: Path, markdown: str, raw: dict[str, object]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(markdown)
    out.with_suffix(".json").write_text(json.dumps(raw, indent=2, default=str))


if __name__ == "__main__":
    sys.exit(main())
