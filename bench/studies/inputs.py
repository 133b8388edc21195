"""The pooled network's inputs and window, walk-forward in the development market's training years
(docs/models.md, "Inputs and window, in the training years").

    python -m bench.studies.inputs --market ../shared/data/market [--quick] [--out CSV] [--variants a,b]

One pooled gru (seed 7) per variant and fold over the market's tickers with history before its
last year, trained in this process by the product's `train_new` (early stop and CQR on the inner
validation slice), `FORECASTER_EPOCH_WINDOWS`=8192 and `FORECASTER_MAX_EPOCHS`=8 (the cost on 2
cores, not the product's defaults). Trained once per fold: no fine-tune, no online correction,
no price-limit clipping. Bars are read with the product's CSV reader, qfq from the exchange's
previous close, and cut at the last scored day before anything else is done with them; the
market's last year (from 2019-04-25) is never used.

- fold A trains on windows whose labels are <= 2017-12-29 and forecasts the targets
  2018-01-02..2018-06-29; fold B trains on labels <= 2018-06-29 and forecasts 2018-07-02..2018-12-28.
  Each target is forecast one day ahead from the window ending at the ticker's bar before it.
- variants, each one change from `base` (close, window 60, units 80,100: the product's defaults
  when this ran; its inputs are `ohlcv` since):
  `ohlcv` (open, high, low, close, volume), `window 20`, `window 120`; and inputs appended to the
  scaled prices per day, standardised by their mean and std on the training windows: `market`
  (the cross-section's mean close-to-close log return and mean log(high/low) that day, over the
  tickers with a bar that day), `sigma` (the ticker's RiskMetrics EWMA sigma, lambda 0.94, of its
  log returns up to that day), `embed` (a one-hot of the ticker, constant along the window, into
  the first recurrent layer: a learned linear embedding, not a Keras Embedding layer, left
  unstandardised); `base s8` is `base` with seed 8, the seed's own noise; `ohlcv s8` and
  `sigma s8` repeat the two that beat base on seed 8, and `ohlcv+sigma` takes both;
  `ohlcv every window` trains `ohlcv` on every training window each epoch instead of 8192 drawn.
- scores on each (ticker, target): the pinball loss over the product's quantile levels divided
  by the as-of close (scale-free), whether the 80 % / 95 % intervals held the close; naive's
  (the product's baseline quantiles) beside them. Ratios are on the pairs both have.

Every (variant, fold)'s pairs are appended to `--out` when known: a rerun resumes.
"""

import argparse
import os
import sys
import time
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pandas as pd

from bench.markdown import markdown_table
from bench.studies.inputs_data import LAST_READ, Appended, read_market, with_extras
from bench.studies.pooled import scored_set
from bench.studies.scored_pairs import append, compare, done, pairs
from forecaster.config import Settings, model_spec, train_spec
from forecaster.model.baselines import naive_quantiles
from forecaster.model.spec import ModelKind, ModelSpec, TrainSpec
from forecaster.model.training import Prepared, prepare, train_new
from forecaster.model.windows import make_windows

RESULTS = Path(__file__).resolve().parents[1] / "results"  # bench/results
EPOCH_WINDOWS, MAX_EPOCHS, SEED = 8192, 8, 7


@dataclass(frozen=True)
class Fold:
    name: str
    train_end: date  # the last label day trained on
    first: date  # the scored targets
    last: date


FOLDS = (
    Fold("A", date(2017, 12, 29), date(2018, 1, 2), date(2018, 6, 29)),
    Fold("B", date(2018, 6, 29), date(2018, 7, 2), date(2018, 12, 28)),
)


@dataclass(frozen=True)
class Variant:
    name: str
    model: tuple[tuple[str, Any], ...] = ()  # ModelSpec fields changed from the defaults
    extras: tuple[str, ...] = ()  # appended input columns (inputs_data.with_extras)
    seed: int = SEED
    epoch_windows: int = EPOCH_WINDOWS  # windows drawn per epoch; 0: every training window


OHLCV = (("features", ("open", "high", "low", "close", "volume")),)
VARIANTS = (
    Variant("base"),
    Variant("ohlcv", model=OHLCV),
    Variant("window 20", model=(("window", 20),)),
    Variant("window 120", model=(("window", 120),)),
    Variant("market", extras=("mkt_ret", "mkt_range")),
    Variant("sigma", extras=("sigma",)),
    Variant("embed", extras=("ticker",)),
    Variant("base s8", seed=8),
    # The two that beat base by more than seed 8 moved it, on seed 8; then both at once.
    Variant("ohlcv s8", model=OHLCV, seed=8),
    Variant("sigma s8", extras=("sigma",), seed=8),
    Variant("ohlcv+sigma", model=OHLCV, extras=("sigma",)),
    # What drawing windows per epoch costs: the adopted inputs on every training window, each epoch.
    Variant("ohlcv every window", model=OHLCV, epoch_windows=0),
)


def specs(variant: Variant, quick: bool, kind: ModelKind = "gru") -> tuple[ModelSpec, TrainSpec]:
    """The product's spec of `kind` and training spec with the study's sizes and the variant's change."""
    settings = Settings(epoch_windows=512 if quick else variant.epoch_windows, max_epochs=1 if quick else MAX_EPOCHS)
    # base is the close alone, whatever the product's default inputs are now (they became ohlcv here)
    spec = replace(model_spec(settings, kind), **{"features": ("close",), **dict(variant.model)})
    return spec, train_spec(settings, seed=variant.seed)


def windows(histories: dict[str, pd.DataFrame], spec: ModelSpec, extras: tuple[str, ...]) -> Prepared:
    """The product's windows of every history long enough for one, with the extra columns'
    windows appended to each day's inputs (same tickers, same order, same days)."""
    usable = {c: h for c, h in histories.items() if len(h) >= spec.window + spec.horizon}
    data = prepare(usable, spec)
    if not extras:
        return data
    parts = [
        make_windows(usable[c][list(extras)].to_numpy(float), usable[c][spec.target].to_numpy(float),
                     window=spec.window, horizon=spec.horizon)
        for c in sorted(usable)
    ]  # fmt: skip
    assert np.array_equal(np.concatenate([p[1] for p in parts]), data.y), "the extra windows must line up"
    return replace(data, x=np.concatenate([data.x, np.concatenate([p[0] for p in parts])], axis=-1))


def cut(histories: dict[str, pd.DataFrame], until: date) -> dict[str, pd.DataFrame]:
    return {c: h[h.index <= pd.Timestamp(until)] for c, h in histories.items()}


@dataclass(frozen=True)
class Forecasts:
    """One fit's one-day-ahead quantiles (pairs, levels) of a fold's scored targets, and what scores them."""

    tickers: Any
    targets: pd.DatetimeIndex
    quantiles: Any
    actual: Any
    last_close: Any
    epochs: int
    seconds: float


def fit_and_score(variant: Variant, fold: Fold, histories: dict[str, pd.DataFrame], quick: bool) -> pd.DataFrame:
    """One pooled fit on the fold's training labels, then every scored target's forecast."""
    f = fit_and_forecast(variant, fold, histories, quick)
    return pairs(variant.name, fold.name, f.tickers, f.targets, f.quantiles, f.actual, f.last_close).assign(
        epochs=f.epochs, seconds=round(f.seconds, 1)
    )


def fit_and_forecast(
    variant: Variant, fold: Fold, histories: dict[str, pd.DataFrame], quick: bool, kind: ModelKind = "gru"
) -> Forecasts:
    """One pooled network of `kind` fitted on the fold's training labels, and its quantiles of
    every scored target."""
    spec, train = specs(variant, quick, kind)
    data = windows(cut(histories, fold.train_end), spec, variant.extras)
    # Nothing of the scored period reaches the fit: no window sees, and no label is, a day after train_end.
    assert pd.Timestamp(data.last_label.max()) <= pd.Timestamp(fold.train_end) < pd.Timestamp(fold.first)
    scaler = Appended.for_extras(spec, variant.extras, codes=sorted(histories)) if variant.extras else None
    started = time.perf_counter()
    fitted = train_new(data, spec, train, label=f"{variant.name} {kind} {fold.name}", scaler=scaler)
    seconds = time.perf_counter() - started
    scored = windows(cut(histories, fold.last), spec, variant.extras)
    keep = (scored.label_dates >= pd.Timestamp(fold.first)) & (scored.label_dates <= pd.Timestamp(fold.last))
    from forecaster.model.forecasting import window_forecasts

    x, actual = scored.x[keep], scored.y[keep][:, 0]
    _, quantiles = window_forecasts(fitted.model, fitted.scaler, x, fitted.calibration)
    assert quantiles is not None
    last_close = x[:, -1, spec.features.index("close")]
    return Forecasts(
        scored.tickers[keep],
        scored.label_dates[keep],
        quantiles[:, 0],
        actual,
        last_close,
        fitted.stats.epochs_run,
        seconds,
    )


def naive_scores(fold: Fold, histories: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """naive's quantiles (the product's baseline) for every scored target of every ticker with a
    60-day window before it."""
    rows: list[tuple[str, pd.Timestamp, Any, float, float]] = []
    for code, bars in cut(histories, fold.last).items():
        days = bars.index
        for i in np.flatnonzero((days >= pd.Timestamp(fold.first)) & (np.arange(len(days)) >= 60)):
            past = bars.iloc[:i]  # up to the as-of day, the bar before the target
            rows.append(
                (code, days[int(i)], naive_quantiles(past, 1)[0], float(bars["close"].iloc[i]), past["close"].iloc[-1])
            )
    tickers, targets, q, actual, close = (list(col) for col in zip(*rows, strict=True))
    return pairs(
        "naive", fold.name, np.array(tickers), pd.DatetimeIndex(targets), np.array(q), np.array(actual), np.array(close)
    )


def run(market: Path, out: Path, variants: list[Variant], quick: bool) -> None:
    codes = scored_set(market)[:4] if quick else scored_set(market)
    histories = with_extras(read_market(market, codes))
    assert max(h.index.max() for h in histories.values()) <= pd.Timestamp(LAST_READ)
    for fold in FOLDS:
        if ("naive", fold.name) not in finished(out):
            append(out, naive_scores(fold, histories))
    for variant in variants:  # each variant's folds before the next variant: a cut run loses whole variants
        for fold in FOLDS:
            if (variant.name, fold.name) in finished(out):
                continue
            frame = fit_and_score(variant, fold, histories, quick)
            append(out, frame)
            print(f"{variant.name} {fold.name}: {len(frame)} pairs, {frame['epochs'].iloc[0]} epochs, "
                  f"{frame['seconds'].iloc[0]} s", file=sys.stderr, flush=True)  # fmt: skip


def finished(out: Path) -> set[tuple[str, str]]:
    return set(map(tuple, done(out)[["variant", "fold"]].to_numpy()))


def summary(frame: pd.DataFrame) -> tuple[list[str], list[list[Any]]]:
    """One row per variant: each fold's pinball over base's, their mean, and the folds' means of the rest."""
    headers = ["variant", "pinball (bp)", "/ base A", "/ base B", "/ base", "tickers < base", "/ naive"]
    headers += ["cov 80", "cov 95", "DM vs base A", "DM vs base B", "epochs A,B", "fit s"]
    folds = [f.name for f in FOLDS]
    table = []
    for name in [v for v in frame["variant"].unique() if v != "naive"] + ["naive"]:
        mine = frame[frame["variant"] == name]
        if set(mine["fold"]) != set(folds):
            continue  # a variant cut short: not comparable
        base = [compare(frame, name, "base", f) for f in folds]
        naive = [compare(frame, name, "naive", f)["ratio"] for f in folds]
        fits = mine.groupby("fold")[["epochs", "seconds"]].first()
        table.append([
            name, 1e4 * mine.groupby("fold")["loss"].mean().mean(), base[0]["ratio"], base[1]["ratio"],
            np.mean([b["ratio"] for b in base]), np.mean([b["share"] for b in base]), np.mean(naive),
            mine.groupby("fold")["in80"].mean().mean(), mine.groupby("fold")["in95"].mean().mean(),
            base[0]["dm"], base[1]["dm"], ",".join(str(int(e)) for e in fits["epochs"]), fits["seconds"].sum(),
        ])  # fmt: skip
    return headers, table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.studies.inputs", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--market", type=Path, required=True, help="The development market's CSV directory.")
    parser.add_argument("--out", type=Path, help="Results CSV, resumed if present (default bench/results/inputs.csv).")
    parser.add_argument("--quick", action="store_true", help="4 tickers, 1 epoch of 512 windows: a check that it runs.")
    parser.add_argument("--variants", help=f"Comma-separated (default all: {', '.join(v.name for v in VARIANTS)}).")
    parser.add_argument("--no-run", action="store_true", help="Only print the table of what --out holds.")
    args = parser.parse_args(argv)
    out: Path = args.out or (Path("/tmp/inputs-quick.csv") if args.quick else RESULTS / "inputs.csv")
    chosen = args.variants.split(",") if args.variants else [v.name for v in VARIANTS]
    unknown = set(chosen) - {v.name for v in VARIANTS}
    if unknown:
        parser.error(f"unknown variant(s): {', '.join(sorted(unknown))}")
    if not args.no_run:
        run(args.market, out, [v for v in VARIANTS if v.name in chosen], args.quick)
    headers, rows = summary(done(out))
    print(markdown_table(headers, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
