"""The default-settings search: which model and training settings the product ships with.

    python -m bench.studies.search [--quick] [--lean] [--out CSV]

Walk-forward inside the course's training years only (see walkforward.py); writes every
(candidate, kind, fold) result to a CSV as it goes (re-running resumes) and a JSON summary with
the winner beside it. --lean: the point forecast's lean instead (lean.py). The results that
chose today's defaults are in git history (bench/results/search.csv, search.json, lean.csv,
lean.json).
"""

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from bench.studies.search.lean import run_lean
from bench.studies.search.walkforward import SearchOptions, run_search, write_summary
from forecaster.config import load_settings

RESULTS = Path(__file__).resolve().parents[2] / "results"  # bench/results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.studies.search", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, help="results CSV, resumed if present (default bench/results/search.csv)")
    parser.add_argument("--quick", action="store_true", help="one fold of 60 days, 2 epochs: a check that it runs")
    parser.add_argument("--lean", action="store_true", help="the point forecast's lean instead (default out lean.csv)")
    args = parser.parse_args(argv)
    out: Path = args.out or RESULTS / ("lean.csv" if args.lean else "search.csv")
    options = SearchOptions(out=out, folds=1, block=60, epochs=2) if args.quick else SearchOptions(out=out)
    search = run_lean if args.lean else run_search
    best, summary = search(load_settings(), options, report=lambda line: print(line, flush=True))
    write_summary(summary, best, out.with_suffix(".json"))
    print(f"winner: {best.name()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
