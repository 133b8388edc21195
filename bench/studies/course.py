"""The course test period replayed as production runs it, pooled, from the offline default
(docs/models.md, "The course test period, pooled, as production runs it").

    python -m bench.studies.course [--work DIR] [--seeds 7,8,9] [--retrain-every 20]
        [--between predict|finetune] [--no-run] [--markdown]

Per seed, a fresh data dir with no tushare token, no FORECASTER_CSV_PATH and no other FORECASTER_*
setting (the offline default: the networks train over 600519.SH and the bundled universe of
data/universe.txt, bars from data/market/): `ingest`, then `backfill --start 2019-04-30
--end 2020-04-23 --retrain-every N [--between B] --no-ingest --seed S` (each as-of day
forecasts the next trading day: the targets 2019-05-06..2020-04-24), then `evaluate --ticker
600519.SH --since 2019-05-06 --until 2020-04-24 --format json` into the data dir. Without
`--between`, the days between retrains do what the product's default does (predict).

The table: per model, its pinball over naive's and over garch's on the (as_of, target) pairs both
have, per seed and their mean; coverage of the 80 % and 95 % intervals (min..max over seeds); the
Diebold-Mariano statistic against naive and garch with its p-value, and Kupiec's p-values, per
seed. Run it from the repository root (the bundled data/ must be there). `--no-run` only reads
the data dirs a previous run left under `--work`.
"""

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

from bench.section import Cell, Section
from bench.studies.pooled import forecaster, paired_ratios
from forecaster.model.spec import BETWEEN

START, END = "2019-04-30", "2020-04-23"  # as-of days; the targets are the next trading days
FIRST_TARGET, LAST_TARGET = "2019-05-06", "2020-04-24"
TICKER = "600519.SH"
MODELS = ("rnn", "lstm", "gru", "ensemble", "naive", "ewma", "drift", "garch")
GOAL_VS_NAIVE = 0.985  # the ensemble's pinball at most this times naive's


def offline_environment() -> None:
    """Drop every FORECASTER_* setting and the token from this process (its children inherit it)."""
    for key in [k for k in os.environ if k.startswith("FORECASTER_") or k == "TUSHARE_TOKEN"]:
        del os.environ[key]


def walk(data_dir: Path, seed: int, retrain_every: int, between: str | None = None) -> None:
    """Ingest, backfill and evaluate into a fresh `data_dir`; between retrains as `between` says
    (None: the product's default, the `between_retrains` setting)."""
    env = {"FORECASTER_DATA_DIR": str(data_dir)}
    data_dir.mkdir(parents=True, exist_ok=True)
    forecaster(["ingest"], env)
    backfill = ["backfill", "--start", START, "--end", END, "--retrain-every", str(retrain_every)]
    backfill += ["--between", between] if between else []
    forecaster([*backfill, "--no-ingest", "--seed", str(seed)], env)
    evaluate = ["evaluate", "--ticker", TICKER, "--since", FIRST_TARGET, "--until", LAST_TARGET]
    forecaster([*evaluate, "--format", "json"], env, out=data_dir / "evaluate.json")


Scores = dict[str, dict[str, float]]  # model -> evaluate's column (or vs_naive, vs_garch) -> value


def seed_scores(data_dir: Path) -> Scores:
    """evaluate's one-day numbers of the ticker by model, with the paired ratios to naive and garch;
    an undefined statistic (null in the JSON) is NaN."""
    rows = json.loads((data_dir / "evaluate.json").read_text())
    scores = {
        row["model"]: {k: float(v) if isinstance(v, int | float) else float("nan") for k, v in row.items()}
        for row in rows
        if row["horizon"] == 1 and row["ticker"] == TICKER
    }
    for base in ("naive", "garch"):
        ratios = paired_ratios(data_dir, base)
        for model, ratio in zip(ratios["model"], ratios["ratio"].where(ratios["ticker"] == TICKER), strict=True):
            if model in scores and ratio == ratio:
                scores[model][f"vs_{base}"] = float(ratio)
    return scores


def _ratio(values: list[float], digits: int = 4) -> str:
    return " / ".join(f"{v:.{digits}f}" for v in values)


def _mean(values: list[float]) -> str:
    if len(values) < 2:
        return f"{values[0]:.4f}" if values else "-"
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}"


def _span(values: list[float]) -> str:
    low, high = min(values), max(values)
    return f"{low:.3f}" if round(low, 3) == round(high, 3) else f"{low:.3f}–{high:.3f}"


def _test(stat: list[float], p: list[float]) -> str:
    pairs = [(s, q) for s, q in zip(stat, p, strict=True) if s == s]  # NaN != NaN: undefined
    return " / ".join(f"{s:+.2f} ({q:.3f})" for s, q in pairs) or "-"


def model_row(model: str, seeds: list[Scores]) -> list[Cell] | None:
    """One model's cells over the seeds that scored it."""
    mine = [scores[model] for scores in seeds if model in scores]
    if not mine:
        return None

    def column(name: str) -> list[float]:
        return [row.get(name, float("nan")) for row in mine]

    return [
        model,
        int(mine[0]["n"]),
        _ratio(column("vs_naive")),
        _mean(column("vs_naive")),
        _ratio(column("vs_garch")),
        _mean(column("vs_garch")),
        _span(column("coverage_80")),
        _span(column("coverage_95")),
        _test(column("dm_naive"), column("dm_naive_p")),
        _test(column("dm_garch"), column("dm_garch_p")),
        _ratio(column("kupiec80_p"), 2),
        _ratio(column("kupiec95_p"), 2),
    ]


def goal_notes(seeds: list[Scores]) -> list[str]:
    """Whether the goal is met: every network at or below garch, the ensemble <= 0.985 x naive."""
    notes = []
    for model in ("rnn", "lstm", "gru", "ensemble"):
        garch = [scores[model]["vs_garch"] for scores in seeds if model in scores]
        if garch:
            notes.append(f"{model} <= garch: {sum(g <= 1.0 for g in garch)} of {len(garch)} seeds")
    ensemble = [scores["ensemble"]["vs_naive"] for scores in seeds if "ensemble" in scores]
    met = sum(e <= GOAL_VS_NAIVE for e in ensemble)
    notes.append(f"ensemble <= {GOAL_VS_NAIVE} x naive: {met} of {len(ensemble)} seeds")
    return notes


def course_table(work: Path, seeds: list[int]) -> Section:
    """The table over the seeds' data dirs under `work`."""
    frames = [seed_scores(work / f"seed-{seed}") for seed in seeds]
    rows = [row for model in MODELS if (row := model_row(model, frames)) is not None]
    per_seed = "seeds " + " / ".join(str(s) for s in seeds)
    headers = ["model", "n", f"pinball / naive, {per_seed}", "mean", "pinball / garch", "mean"]
    headers += ["cov 80", "cov 95", "DM vs naive (p)", "DM vs garch (p)", "Kupiec80 p", "Kupiec95 p"]
    title = f"Course test period {FIRST_TARGET}..{LAST_TARGET}, {TICKER}, pooled, offline default"
    return Section(name="course", title=title, headers=headers, rows=rows, notes=goal_notes(frames))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.studies.course", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--work", type=Path, default=Path("/tmp/course-study"), help="Where the data dirs go.")
    parser.add_argument("--seeds", default="7,8,9", help="Training seeds, comma-separated (default 7,8,9).")
    parser.add_argument("--retrain-every", type=int, default=20, help="backfill --retrain-every (default 20).")
    parser.add_argument("--between", choices=BETWEEN, help="backfill --between (default: the product's, predict).")
    parser.add_argument("--no-run", action="store_true", help="Only print the table of the data dirs in --work.")
    parser.add_argument("--markdown", action="store_true", help="Print the table as Markdown (for docs/).")
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    if not args.no_run:
        offline_environment()
        for seed in seeds:
            walk(args.work / f"seed-{seed}", seed, args.retrain_every, args.between)
    section = course_table(args.work, seeds)
    from bench.markdown import render_section
    from bench.studies import print_sections

    if args.markdown:
        print(render_section(section))
    else:
        print_sections([section])
    return 0


if __name__ == "__main__":
    sys.exit(main())
