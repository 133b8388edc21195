"""Read-side query speed on 1,000,000 synthetic forecasts: prints the median ms of each query.

    python -m bench.queries [--tickers 200] [--days 1000] [--repeats 20]

Rows (tickers x 5 models x days as-of dates, horizon 1; actuals on all but the newest day) are
written straight to a fresh database migrated to head (not timed), like `store._bulk_insert`.
Timed, each on a warm connection: the library call behind `forecaster forecasts --ticker T
--latest`, and `v_latest_forecasts` for one ticker and as a whole.
"""

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import text

from forecaster.calendar import trading_days
from forecaster.db import open_database, session_factory, transaction
from forecaster.queries import forecasts

MODELS = ("rnn", "lstm", "gru", "naive", "drift")
COLUMNS = "ticker, model, as_of, target_date, horizon, target, yhat, last_close, actual, created_at"


def synthetic_rows(tickers: list[str], days: list[date]) -> Iterator[tuple[Any, ...]]:
    """One forecast per (ticker, model, as_of) for the next day; dates as ISO text."""
    iso = [d.isoformat() for d in days]
    rng = np.random.default_rng(0)
    for ticker in tickers:
        close = 50 * np.exp(np.cumsum(rng.normal(0, 0.015, len(days))))
        for model in MODELS:
            noise = rng.normal(0, 0.5, len(days))
            for i in range(len(days) - 1):
                yield (ticker, model, iso[i], iso[i + 1], 1, "close", close[i] + noise[i], close[i], close[i + 1],
                       "2026-11-27 00:00:00.000000")  # fmt: skip
            yield (ticker, model, iso[-1], "2099-01-01", 1, "close", close[-1], close[-1], None,
                   "2026-11-27 00:00:00.000000")  # fmt: skip


def median_ms(call: Callable[[], object], repeats: int) -> tuple[float, object]:
    result = call()  # warm the page cache and the statement cache
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = call()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickers", type=int, default=200)
    parser.add_argument("--days", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()

    days = trading_days(date(2020, 1, 2), date(2026, 12, 31))[: args.days]
    tickers = [f"{600000 + i:06d}.SH" for i in range(args.tickers)]
    with tempfile.TemporaryDirectory() as tmp:
        factory = session_factory(open_database(f"sqlite:///{Path(tmp) / 'bench.db'}"))
        t0 = time.perf_counter()
        with transaction(factory) as session:
            sql = f"INSERT INTO forecasts ({COLUMNS}) VALUES ({', '.join('?' * 10)})"
            session.connection().exec_driver_sql(sql, list(synthetic_rows(tickers, days)))
        with factory() as session:
            total = session.execute(text("select count(*) from forecasts")).scalar_one()
        print(f"wrote {total:,} forecasts ({len(tickers)} tickers x {len(MODELS)} models x {len(days)} days) "
              f"in {time.perf_counter() - t0:.1f} s")  # fmt: skip

        ticker = tickers[len(tickers) // 2]
        with factory() as session:
            ms, frame = median_ms(lambda: forecasts(session, tickers=[ticker], latest=True), args.repeats)
            print(f"forecasts(ticker, latest=True)      {ms:8.2f} ms  ({len(frame)} rows)")  # type: ignore[arg-type]
            one = text("select * from v_latest_forecasts where ticker = :t")
            ms, rows = median_ms(lambda: session.execute(one, {"t": ticker}).all(), args.repeats)
            print(f"v_latest_forecasts, one ticker      {ms:8.2f} ms  ({len(rows)} rows)")  # type: ignore[arg-type]
            whole = text("select * from v_latest_forecasts")
            ms, rows = median_ms(lambda: session.execute(whole).all(), max(3, args.repeats // 4))
            print(f"v_latest_forecasts, whole view      {ms:8.2f} ms  ({len(rows)} rows)")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
