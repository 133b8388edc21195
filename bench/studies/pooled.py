"""Pooled networks against per-ticker ones, and every network against `garch`, walk-forward on the
development market (docs/models.md, "Pooled vs per-ticker, and against garch").

    python -m bench.studies.pooled --market ../shared/data/market [--work DIR] [--seed 7]
        [--twins 600519.SH,...] [--no-run]

1. Pooled, as the routine trains: one fresh data dir, the watch-list = every ticker of the market
   directory with a bar on or before the first as-of day (the scored set), `ingest`, then
   `backfill --retrain-every 60 --between predict` over the range, rnn, lstm and gru, then
   `evaluate --format json`.
2. Per-ticker twins: each of `--twins` in a data dir of its own with `FORECASTER_TICKERS=<code>`
   (a training universe of one ticker: the per-ticker network), gru only, same range and settings.
3. The tables: per model, the mean over tickers of its pinball over `garch`'s and over `naive`'s on
   the (as_of, target) pairs both have (`garch` needs 250 returns: a young ticker has it only on
   its later days), the share of tickers at or below `garch`, the mean coverage of the 80 % and
   95 % intervals, the share of tickers whose Kupiec test is not rejected at 5 %,
   and the pooled Diebold-Mariano statistic against `garch` (evaluate's ticker "all" rows); then
   the twins' gru against the pooled gru on the same tickers.

Every window is drawn from `FORECASTER_EPOCH_WINDOWS` per epoch and at most `FORECASTER_MAX_EPOCHS`
epochs run (the sizes below): the cost on 2 cores, not the product's defaults. `--no-run` only
reads the data dirs a previous run left under `--work`.
"""

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from bench.section import Cell, Section

START, END = "2019-04-25", "2020-04-23"  # as-of days: the development market's last year
RETRAIN_EVERY = 60
EPOCH_WINDOWS = 16384
MAX_EPOCHS = 8
TWINS = "600519.SH,601398.SH,600030.SH,000001.SZ,000858.SZ,002415.SZ,300059.SZ,300015.SZ"
NETWORKS = ("rnn", "lstm", "gru", "ensemble")
ALPHA = 0.05


def scored_set(market: Path) -> list[str]:
    """The market directory's tickers with a bar on or before START (history as of the first day)."""
    from forecaster.market.tickers import ticker_in_name

    codes: list[str] = []
    for path in sorted(market.glob("*.csv")):
        code = ticker_in_name(path.name)
        first = pd.read_csv(path, skiprows=1, nrows=1).iloc[0, 2]  # line 1 is a banner; column 3 the date
        if code and str(first) <= START:
            codes.append(code)
    return codes


def forecaster(args: Sequence[str], env: dict[str, str], out: Path | None = None) -> None:
    """One `forecaster` command with these settings; its stdout to `out` if given."""
    command = [sys.executable, "-m", "forecaster.cli", *args]
    print("$", " ".join(command), file=sys.stderr, flush=True)
    with open(out, "w") if out else open(os.devnull, "w") as sink:
        subprocess.run(command, env={**os.environ, **env}, check=True, stdout=sink)


def walk(data_dir: Path, env: dict[str, str], models: str) -> None:
    """Ingest, backfill and evaluate into a fresh `data_dir` (evaluate.json beside the database)."""
    env = {**env, "FORECASTER_DATA_DIR": str(data_dir)}
    data_dir.mkdir(parents=True, exist_ok=True)
    forecaster(["ingest"], env)
    backfill = ["backfill", "--start", START, "--end", END, "--retrain-every", str(RETRAIN_EVERY)]
    forecaster([*backfill, "--between", "predict", "--no-ingest", "--models", models], env)
    forecaster(["evaluate", "--format", "json"], env, out=data_dir / "evaluate.json")


def paired_ratios(data_dir: Path, baseline: str) -> pd.DataFrame:
    """Per (ticker, model): mean pinball over `baseline`'s on the pairs both have (one-day horizon)."""
    from forecaster.scoring.comparison import paired_losses, with_losses
    from forecaster.scoring.evaluation import matured_forecasts
    from forecaster.storage.db import open_readonly, session_factory

    with session_factory(open_readonly(f"sqlite:///{data_dir / 'forecaster.db'}"))() as session:
        frame = matured_forecasts(session)
    frame = with_losses(frame[frame["horizon"] == 1])
    out = []
    for ticker, group in frame.groupby("ticker"):
        base = paired_losses(group[group["model"] == baseline])
        for model, rows in group.groupby("model"):
            losses = paired_losses(rows)
            common = losses.index.intersection(base.index)  # the pairs both have
            ratio = losses.loc[common].mean() / base.loc[common].mean() if len(common) else float("nan")
            out.append({"ticker": ticker, "model": model, "ratio": float(ratio)})
    return pd.DataFrame(out)


def rows_of(data_dir: Path) -> pd.DataFrame:
    """evaluate's JSON rows at the one-day horizon."""
    rows = pd.DataFrame(json.loads((data_dir / "evaluate.json").read_text()))
    return rows[rows["horizon"] == 1]


def goal_table(data_dir: Path) -> Section:
    """The goal's figures per network, from one data dir."""
    rows = rows_of(data_dir)
    per_ticker, pooled = rows[rows["ticker"] != "all"], rows[rows["ticker"] == "all"].set_index("model")
    garch, naive = paired_ratios(data_dir, "garch"), paired_ratios(data_dir, "naive")
    table: list[list[Cell]] = []
    for model in (*NETWORKS, "naive", "ewma", "garch"):
        mine = per_ticker[per_ticker["model"] == model]
        vs_garch = garch[garch["model"] == model]["ratio"].dropna()  # garch needs 250 returns of history
        if mine.empty:
            continue
        table.append([
            model,
            len(mine),
            len(vs_garch),
            float(vs_garch.mean()),
            float(naive[naive["model"] == model]["ratio"].mean()),
            float((vs_garch <= 1.0).mean()),
            float(mine["coverage_80"].mean()),
            float(mine["coverage_95"].mean()),
            float((mine["kupiec80_p"] >= ALPHA).mean()),
            float((mine["kupiec95_p"] >= ALPHA).mean()),
            _pooled(pooled, model, "dm_garch"),
            _pooled(pooled, model, "dm_garch_p"),
        ])  # fmt: skip
    headers = [
        "model",
        "tickers",
        "with garch",
        "pinball / garch",
        "pinball / naive",
        "share <= garch",
        "cov 80",
        "cov 95",
    ]
    headers += ["Kupiec80 ok", "Kupiec95 ok", "DM vs garch", "DM p"]
    return Section(name="pooled", title=f"Walk-forward {START}..{END}: {data_dir.name}", headers=headers, rows=table)


def _pooled(pooled: pd.DataFrame, model: str, column: str) -> Cell:
    return float(pooled[column].get(model, float("nan")))


def twin_table(pooled_dir: Path, twins: list[str], work: Path) -> Section:
    """Per twin ticker: the pooled gru's and the per-ticker gru's pinball over garch's."""
    pooled = paired_ratios(pooled_dir, "garch").set_index(["ticker", "model"])["ratio"]
    ratios: dict[str, tuple[float, float, float]] = {}
    for code in twins:
        twin = paired_ratios(work / f"twin-{code}", "garch").set_index(["ticker", "model"])["ratio"]
        mine, theirs = float(pooled.get((code, "gru"), float("nan"))), float(twin.get((code, "gru"), float("nan")))
        ratios[code] = (mine, theirs, theirs / mine)
    table: list[list[Cell]] = [[code, *values] for code, values in ratios.items()]
    table.append(["mean", *pd.DataFrame(list(ratios.values())).mean().tolist()])
    headers = ["ticker", "pooled gru / garch", "per-ticker gru / garch", "per-ticker / pooled"]
    return Section(name="twins", title="Pooled vs per-ticker gru (pinball over garch's)", headers=headers, rows=table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.studies.pooled", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--market", type=Path, required=True, help="The development market's CSV directory.")
    parser.add_argument("--work", type=Path, default=Path("/tmp/pooled-study"), help="Where the data dirs go.")
    parser.add_argument("--seed", type=int, default=7, help="Training seed (default 7).")
    parser.add_argument("--twins", default=TWINS, help=f"Per-ticker twins, comma-separated (default {TWINS}).")
    parser.add_argument("--no-run", action="store_true", help="Only print the tables of the data dirs in --work.")
    args = parser.parse_args(argv)
    twins = args.twins.split(",") if args.twins else []
    env = {
        "FORECASTER_CSV_PATH": str(args.market.resolve()),
        "FORECASTER_EPOCH_WINDOWS": str(EPOCH_WINDOWS),
        "FORECASTER_MAX_EPOCHS": str(MAX_EPOCHS),
        "FORECASTER_SEED": str(args.seed),
    }
    if not args.no_run:
        run(args.market, args.work, env, twins)
    from bench.studies import print_sections

    sections = [goal_table(args.work / "pooled")] + (
        [twin_table(args.work / "pooled", twins, args.work)] if twins else []
    )
    print_sections(sections)
    return 0


def run(market: Path, work: Path, env: dict[str, str], twins: list[str]) -> None:
    """The pooled walk over the scored set, then each twin's."""
    work.mkdir(parents=True, exist_ok=True)
    watch = work / "scored.txt"
    watch.write_text("\n".join(scored_set(market)) + "\n")
    walk(work / "pooled", {**env, "FORECASTER_TICKERS_FILE": str(watch)}, "rnn,lstm,gru")
    for code in twins:
        walk(work / f"twin-{code}", {**env, "FORECASTER_TICKERS": code}, "gru")


if __name__ == "__main__":
    sys.exit(main())
