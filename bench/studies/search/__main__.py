"""The default-settings search (issue 6): `python -m bench.search [--quick]`.

Walk-forward inside the course's training years only (see forecaster.scoring.search); writes every
(candidate, kind, fold) result to a CSV as it goes (re-running resumes) and a JSON summary with
the winner. The committed results are in bench/results/search.csv and search.json.
"""

import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from forecaster.config import load_settings
from forecaster.scoring.lean import run_lean
from forecaster.scoring.search import SearchOptions, run_search, write_summary

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=RESULTS / "search.csv", help="results CSV (resumed if present)")
    parser.add_argument("--quick", action="store_true", help="one fold of 60 days, 2 epochs: a check that it runs")
    parser.add_argument(
        "--lean", action="store_true", help="the point forecast's lean (issue 17) instead; default out lean.csv"
    )
    args = parser.parse_args()
    if args.lean and args.out == RESULTS / "search.csv":
        args.out = RESULTS / "lean.csv"
    options = SearchOptions(out=args.out)
    if args.quick:
        options = SearchOptions(out=args.out, folds=1, block=60, epochs=2)
    search = run_lean if args.lean else run_search
    best, summary = search(load_settings(), options, report=lambda line: print(line, flush=True))
    write_summary(summary, best, args.out.with_suffix(".json"))
    print(f"winner: {best.name()}")


if __name__ == "__main__":
    main()
