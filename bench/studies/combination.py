"""The ensemble with and without `garch` as a member, walk-forward in the development market's
training years (docs/models.md, "The ensemble and garch, in the training years").

    python -m bench.studies.combination --market ../shared/data/market [--quick] [--out CSV] [--seed 7]

The inputs study's folds, tickers and bars (bench/studies/inputs.py; the market's last year is
never read), the product's three networks with its inputs (open, high, low, close, volume), each
pooled and trained once per fold as that study trains them; and `garch`, the product's baseline
(model/garch.py: refit every 5 returns, the variance filtered to the as-of day) on the same qfq
closes. Each scored target is forecast one day ahead; the combinations are the product's
`average` of quantiles, level by level:

- `ensemble`: rnn, lstm and gru (the product's ensemble);
- `ensemble+garch`: rnn, lstm, gru and garch, a quarter each;
- `half garch`: the ensemble and garch, half each.

Where a ticker is too young for garch (250 returns) the combinations are the ensemble, as the
product's would be. Scores: the pinball loss over the as-of close per (ticker, target), each fold's
ratio to garch's and to the ensemble's on the pairs both have, the share of tickers at or below
garch, Diebold-Mariano against the ensemble on the daily mean over tickers of the differential,
and the intervals' coverage.
"""

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.markdown import markdown_table
from bench.studies.inputs import FOLDS, OHLCV, Fold, Forecasts, Variant, fit_and_forecast
from bench.studies.inputs_data import read_market
from bench.studies.pooled import scored_set
from bench.studies.scored_pairs import append, compare, done, pairs
from forecaster.model import garch
from forecaster.model.intervals import average
from forecaster.model.spec import MODEL_KINDS

COMBINATIONS = {  # name -> members; "ensemble" is itself a member of "half garch"
    "ensemble": MODEL_KINDS,
    "ensemble+garch": (*MODEL_KINDS, "garch"),
    "half garch": ("ensemble", "garch"),
}


def garch_quantiles(histories: dict[str, pd.DataFrame], f: Forecasts) -> np.ndarray:
    """garch's one-day quantiles of each pair from the ticker's closes up to the bar before the
    target (NaN rows where the ticker has fewer than garch needs)."""
    out = np.full_like(np.asarray(f.quantiles, dtype=np.float64), np.nan)
    for i, (code, target) in enumerate(zip(f.tickers, f.targets, strict=True)):
        close = histories[code]["close"]
        past = close[close.index < target].to_numpy(float)
        if len(past) - 1 >= garch.MIN_RETURNS:
            out[i] = garch.garch_quantiles(past, 1)[0]
    return out


def fold_frame(fold: Fold, histories: dict[str, pd.DataFrame], quick: bool, seed: int) -> pd.DataFrame:
    """Every model's and combination's scored pairs of one fold."""
    variant = Variant("ohlcv", model=OHLCV, seed=seed)
    nets = {kind: fit_and_forecast(variant, fold, histories, quick, kind) for kind in MODEL_KINDS}
    first = nets[MODEL_KINDS[0]]
    for f in nets.values():  # one spec but the kind: the same windows, in the same order
        assert list(f.tickers) == list(first.tickers) and f.targets.equals(first.targets)
    q: dict[str, Any] = {kind: f.quantiles for kind, f in nets.items()}
    q["garch"] = garch_quantiles(histories, first)
    has_garch = ~np.isnan(q["garch"]).any(axis=1)
    for name, members in COMBINATIONS.items():
        with_garch = average([q[m] for m in members])
        without = average([q[m] for m in members if m != "garch" and m in q]) if "garch" in members else with_garch
        q[name] = np.where(has_garch[:, None], with_garch, without)
    frames = []
    for name, quantiles in q.items():
        keep = ~np.isnan(quantiles).any(axis=1)
        frame = pairs(
            name, fold.name, first.tickers[keep], first.targets[keep], quantiles[keep], first.actual[keep],
            first.last_close[keep],
        )  # fmt: skip
        fit = nets.get(name)  # type: ignore[call-overload]  # a network's fit, None for the rest
        frames.append(frame.assign(epochs=fit.epochs if fit else 0, seconds=round(fit.seconds, 1) if fit else 0.0))
    return pd.concat(frames, ignore_index=True)


def summary(frame: pd.DataFrame) -> tuple[list[str], list[list[Any]]]:
    """One row per model: each fold's pinball over garch's and over the ensemble's, and the rest."""
    headers = ["model", "/ garch A", "/ garch B", "/ garch", "tickers <= garch", "/ ensemble A", "/ ensemble B"]
    headers += ["DM vs ensemble A", "DM vs ensemble B", "cov 80", "cov 95"]
    folds = [f.name for f in FOLDS]
    table = []
    for name in frame["variant"].unique():
        mine = frame[frame["variant"] == name]
        g = [compare(frame, name, "garch", f) for f in folds]
        e = [compare(frame, name, "ensemble", f) for f in folds]
        table.append([
            name, g[0]["ratio"], g[1]["ratio"], np.mean([x["ratio"] for x in g]),
            np.mean([x["share"] for x in g]) if name != "garch" else float("nan"), e[0]["ratio"], e[1]["ratio"],
            e[0]["dm"], e[1]["dm"], *(mine.groupby("fold")[c].mean().mean() for c in ("in80", "in95")),
        ])  # fmt: skip
    return headers, table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.studies.combination",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--market", type=Path, required=True, help="The development market's CSV directory.")
    parser.add_argument("--out", type=Path, help="Results CSV, resumed if present (default /tmp/combination.csv).")
    parser.add_argument("--seed", type=int, default=7, help="The networks' training seed (default 7).")
    parser.add_argument("--quick", action="store_true", help="4 tickers, 1 epoch of 512 windows: a check that it runs.")
    parser.add_argument("--no-run", action="store_true", help="Only print the table of what --out holds.")
    args = parser.parse_args(argv)
    out: Path = args.out or Path("/tmp/combination.csv")
    if not args.no_run:
        codes = scored_set(args.market)[:4] if args.quick else scored_set(args.market)
        histories = read_market(args.market, codes)
        finished = set(done(out)["fold"])
        for fold in FOLDS:
            if fold.name not in finished:  # a fold's rows are written together: a rerun resumes
                append(out, fold_frame(fold, histories, args.quick, args.seed))
                print(f"fold {fold.name} done", file=sys.stderr, flush=True)
    headers, rows = summary(done(out))
    print(markdown_table(headers, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
