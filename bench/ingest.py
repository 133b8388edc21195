"""Bulk ingest of synthetic bars into a fresh SQLite database: prints rows/s.

    python -m bench.ingest [--tickers 400] [--days 2500]
    python -m bench --only ingest     (the same, inside the suite: repeated, median)

Bars are generated in memory first (not timed), then written the way `forecaster ingest` writes
them: validation and one transaction per ticker through `store.upsert_bars`.
"""

import argparse
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from statistics import median

import numpy as np
import pandas as pd

from bench.section import Options, Section
from forecaster import clock
from forecaster.ingest.validate import validate_bars
from forecaster.market.calendar import BUILTIN, trading_days
from forecaster.storage.bars import upsert_bars
from forecaster.storage.db import open_database, session_factory, transaction

FULL_SIZE = (400, 2500)  # tickers, trading days: 1,000,000 bars
QUICK_SIZE = (40, 2500)
GOAL_ROWS_PER_S = 100_000  # the ingest issue's goal


def synthetic_bars(days: pd.DatetimeIndex, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = len(days)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.015, n)))
    open_ = close * np.exp(rng.normal(0, 0.005, n))
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.005, n)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.005, n)))
    volume = rng.uniform(1e4, 1e5, n)
    return pd.DataFrame(
        {
            "trade_date": days,
            "open": open_.round(2),
            "high": high.round(2) + 0.01,
            "low": low.round(2) - 0.01,
            "close": close.round(2),
            "pre_close": np.r_[np.nan, close[:-1]].round(2),
            "volume": volume.round(2),
            "amount": (volume * close / 10).round(3),
        }
    )


@dataclass(frozen=True)
class IngestResult:
    rows: int
    seconds: float
    size_mb: float

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds


def measure(tickers: int, days: int) -> IngestResult:
    """Generate (not timed), then validate and write ticker by ticker into a fresh database."""
    all_days = trading_days(date(2005, 1, 4), date(2026, 12, 31))
    index = pd.DatetimeIndex(all_days[:days])
    codes = [f"{600000 + i:06d}.SH" for i in range(tickers)]
    batches = {t: synthetic_bars(index, seed=i) for i, t in enumerate(codes)}
    with tempfile.TemporaryDirectory() as tmp:
        factory = session_factory(open_database(f"sqlite:///{Path(tmp) / 'bench.db'}"))
        now = clock.now()
        today = date(2026, 12, 31)
        t0 = time.perf_counter()
        for ticker, bars in batches.items():
            validate_bars(bars, ticker, today, BUILTIN)
            with transaction(factory) as session:
                upsert_bars(session, ticker, bars, "bench", now)
        elapsed = time.perf_counter() - t0
        size_mb = (Path(tmp) / "bench.db").stat().st_size / 1e6
    return IngestResult(sum(len(b) for b in batches.values()), elapsed, size_mb)


def bench(opts: Options) -> list[Section]:
    tickers, days = QUICK_SIZE if opts.quick else FULL_SIZE
    results = [measure(tickers, days) for _ in range(opts.repeats)]
    rate = median(r.rows_per_s for r in results)
    notes = [
        f"{tickers} tickers × {days} trading days of synthetic bars into a fresh SQLite database; generation "
        "not timed; validation and one transaction per ticker timed, as `forecaster ingest` writes.",
        f"Median of {opts.repeats} run(s); goal ≥ {GOAL_ROWS_PER_S:,} rows/s.",
    ]
    if opts.quick:
        notes.insert(0, f"QUICK: {tickers * days:,} bars, not {FULL_SIZE[0] * FULL_SIZE[1]:,}.")
    return [
        Section(
            name="ingest",
            title="Ingest of synthetic bars",
            headers=["bars", "seconds", "rows/s", "database MB", "goal rows/s"],
            rows=[[results[0].rows, median(r.seconds for r in results), rate, results[0].size_mb, GOAL_ROWS_PER_S]],
            notes=notes,
            headline=[("ingest rows/s", rate)],
            raw={"runs": [asdict(r) for r in results]},
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickers", type=int, default=FULL_SIZE[0])
    parser.add_argument("--days", type=int, default=FULL_SIZE[1])
    args = parser.parse_args()
    result = measure(args.tickers, args.days)
    print(f"ingested {result.rows:,} bars ({args.tickers} tickers x {args.days} days) in {result.seconds:.1f} s")
    print(f"{result.rows_per_s:,.0f} rows/s; database {result.size_mb:.0f} MB")


if __name__ == "__main__":
    main()
