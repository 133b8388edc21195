"""Bulk ingest of synthetic bars into a fresh SQLite database: prints rows/s.

    python -m bench.ingest [--tickers 400] [--days 2500]

Bars are generated in memory first (not timed), then written the way `forecaster ingest` writes
them: validation and one transaction per ticker through `store.upsert_bars`.
"""

import argparse
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from forecaster.calendar import trading_days
from forecaster.db import open_database, session_factory, transaction
from forecaster.store import upsert_bars
from forecaster.validate import validate_bars


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickers", type=int, default=400)
    parser.add_argument("--days", type=int, default=2500)
    args = parser.parse_args()

    all_days = trading_days(date(2005, 1, 4), date(2026, 12, 31))
    days = pd.DatetimeIndex(all_days[: args.days])
    tickers = [f"{600000 + i:06d}.SH" for i in range(args.tickers)]
    batches = {t: synthetic_bars(days, seed=i) for i, t in enumerate(tickers)}
    total = sum(len(b) for b in batches.values())

    with tempfile.TemporaryDirectory() as tmp:
        factory = session_factory(open_database(f"sqlite:///{Path(tmp) / 'bench.db'}"))
        now = datetime.now(UTC).replace(tzinfo=None)
        today = date(2026, 12, 31)
        t0 = time.perf_counter()
        for ticker, bars in batches.items():
            validate_bars(bars, ticker, today)
            with transaction(factory) as session:
                upsert_bars(session, ticker, bars, "bench", now)
        elapsed = time.perf_counter() - t0
        size_mb = (Path(tmp) / "bench.db").stat().st_size / 1e6
    print(f"ingested {total:,} bars ({args.tickers} tickers x {len(days)} days) in {elapsed:.1f} s")
    print(f"{total / elapsed:,.0f} rows/s; database {size_mb:.0f} MB")


if __name__ == "__main__":
    main()
