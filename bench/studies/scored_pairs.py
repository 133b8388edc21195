"""The studies' scored (ticker, target) pairs: one row each with the pinball loss over the as-of
close and whether the 80 % / 95 % intervals held the close, kept in a CSV a rerun resumes from, and
two models compared on the pairs both have."""

import csv
from pathlib import Path
from typing import Any

import pandas as pd

from forecaster.scoring.intervals import bounds, misses, pinball_each
from forecaster.scoring.significance import diebold_mariano

FIELDS = ["variant", "fold", "ticker", "target", "loss", "in80", "in95", "epochs", "seconds"]


def pairs(
    name: str, fold: str, tickers: Any, targets: pd.DatetimeIndex, quantiles: Any, actual: Any, last_close: Any
) -> pd.DataFrame:
    """One row per (ticker, target): the pinball loss per as-of close, and the intervals' hits."""
    held = {f"in{round(level * 100)}": 1 - misses(*bounds(quantiles, level), actual) for level in (0.80, 0.95)}
    loss = pinball_each(quantiles, actual) / last_close
    frame = pd.DataFrame({"variant": name, "fold": fold, "ticker": tickers, "target": targets.date, "loss": loss})
    return frame.assign(**held, epochs=0, seconds=0.0)


def done(out: Path) -> pd.DataFrame:
    return pd.read_csv(out, dtype={"ticker": str, "fold": str}) if out.exists() else pd.DataFrame(columns=FIELDS)


def append(out: Path, frame: pd.DataFrame) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    new = not out.exists()
    frame[FIELDS].to_csv(out, mode="a", header=new, index=False, float_format="%.6g", quoting=csv.QUOTE_MINIMAL)


def compare(frame: pd.DataFrame, variant: str, other: str, fold: str) -> dict[str, float]:
    """`variant` against `other` on the (ticker, target) pairs of `fold` both have: the ratio of
    mean losses, the share of tickers where `variant`'s is lower, and Diebold-Mariano on the
    daily mean over tickers of the loss differential (the tickers' co-movement in its variance)."""
    rows = frame[frame["fold"] == fold]
    mine, theirs = (rows[rows["variant"] == v].set_index(["ticker", "target"])["loss"] for v in (variant, other))
    both = pd.concat([mine.rename("mine"), theirs.rename("theirs")], axis=1, join="inner")
    per_ticker = both.groupby(level="ticker").mean()
    daily = (both["mine"] - both["theirs"]).groupby(level="target").mean().sort_index()
    return {
        "ratio": float(both["mine"].mean() / both["theirs"].mean()),
        "share": float((per_ticker["mine"] < per_ticker["theirs"]).mean()) if variant != other else float("nan"),
        "dm": diebold_mariano(daily.to_numpy(float), 1).statistic,
    }
