"""Read-side query speed on 1,000,000 synthetic forecasts: prints the median ms of each query.

    python -m bench.queries [--tickers 200] [--days 1000] [--repeats 20]
    python -m bench --only queries     (the same, inside the suite)

Rows (tickers x 5 models x days as-of dates, horizon 1; actuals on all but the newest day) are
written straight to a fresh database migrated to head (not timed), like `store._bulk_insert`.
Timed, each on a warm connection: the library call behind `forecaster forecasts --ticker T
--latest`, and `v_latest_forecasts` for one ticker and as a whole.
"""

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sized
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import text

from bench.section import Options, Section
from forecaster.market.calendar import trading_days
from forecaster.storage.db import open_database, session_factory, transaction
from forecaster.storage.queries import forecasts

MODELS = ("rnn", "lstm", "gru", "naive", "drift")
FULL_SIZE = (200, 1000)  # tickers, as-of days: x 5 models = 1,000,000 forecasts
QUICK_SIZE = (20, 1000)
CALLS = 20  # timed calls per query (a quarter of them for the whole view)
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


def median_ms(call: Callable[[], Sized], repeats: int) -> tuple[float, Sized]:
    """(median ms of `repeats` calls after a warm-up call, the last result)."""
    result = call()  # warm the page cache and the statement cache
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = call()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), result


@dataclass(frozen=True)
class QueryResult:
    rows: int  # forecasts in the table
    write_s: float  # writing them (not a query; the triggers' price)
    latest_ms: float  # forecasts(session, tickers=[T], latest=True)
    view_one_ms: float  # v_latest_forecasts for one ticker
    view_all_ms: float  # the whole view
    latest_rows: int
    view_one_rows: int
    view_all_rows: int


def measure(tickers: int, days: int, repeats: int) -> QueryResult:
    """Write the synthetic forecasts (timed apart), then the median ms of each query."""
    all_days = trading_days(date(2020, 1, 2), date(2026, 12, 31))[:days]
    codes = [f"{600000 + i:06d}.SH" for i in range(tickers)]
    with tempfile.TemporaryDirectory() as tmp:
        factory = session_factory(open_database(f"sqlite:///{Path(tmp) / 'bench.db'}"))
        t0 = time.perf_counter()
        with transaction(factory) as session:
            sql = f"INSERT INTO forecasts ({COLUMNS}) VALUES ({', '.join('?' * 10)})"
            session.connection().exec_driver_sql(sql, list(synthetic_rows(codes, all_days)))
        write_s = time.perf_counter() - t0
        ticker = codes[len(codes) // 2]
        with factory() as session:
            total = session.execute(text("select count(*) from forecasts")).scalar_one()
            latest, frame = median_ms(lambda: forecasts(session, tickers=[ticker], latest=True), repeats)
            one = text("select * from v_latest_forecasts where ticker = :t")
            view_one, one_rows = median_ms(lambda: session.execute(one, {"t": ticker}).all(), repeats)
            whole = text("select * from v_latest_forecasts")
            view_all, all_rows = median_ms(lambda: session.execute(whole).all(), max(3, repeats // 4))
    return QueryResult(total, write_s, latest, view_one, view_all, len(frame), len(one_rows), len(all_rows))


def bench(opts: Options) -> list[Section]:
    tickers, days = QUICK_SIZE if opts.quick else FULL_SIZE
    r = measure(tickers, days, CALLS)
    notes = [
        f"{r.rows:,} synthetic forecasts ({tickers} tickers × {len(MODELS)} models × {days} as-of days); "
        f"median of {CALLS} calls on a warm connection. Writing them took {r.write_s:.1f} s (triggers included).",
        "`forecasts(latest=True)` is what `forecaster forecasts --ticker T --latest` runs.",
    ]
    if opts.quick:
        notes.insert(0, f"QUICK: {r.rows:,} rows, not {FULL_SIZE[0] * FULL_SIZE[1] * len(MODELS):,}.")
    return [
        Section(
            name="queries",
            title="Latest-forecast query latency",
            headers=["query", "rows returned", "median ms", "goal ms"],
            rows=[
                ["forecasts(session, tickers=[T], latest=True)", r.latest_rows, r.latest_ms, 50.0],
                ["v_latest_forecasts, one ticker", r.view_one_rows, r.view_one_ms, None],
                ["v_latest_forecasts, whole view", r.view_all_rows, r.view_all_ms, 10.0],
            ],
            notes=notes,
            headline=[(f"latest forecasts of one ticker at {r.rows:,} rows, ms", r.latest_ms)],
            raw=asdict(r),
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickers", type=int, default=FULL_SIZE[0])
    parser.add_argument("--days", type=int, default=FULL_SIZE[1])
    parser.add_argument("--repeats", type=int, default=CALLS)
    args = parser.parse_args()
    r = measure(args.tickers, args.days, args.repeats)
    print(f"wrote {r.rows:,} forecasts ({args.tickers} tickers x {len(MODELS)} models x {args.days} days) "
          f"in {r.write_s:.1f} s")  # fmt: skip
    print(f"forecasts(ticker, latest=True)      {r.latest_ms:8.2f} ms  ({r.latest_rows} rows)")
    print(f"v_latest_forecasts, one ticker      {r.view_one_ms:8.2f} ms  ({r.view_one_rows} rows)")
    print(f"v_latest_forecasts, whole view      {r.view_all_ms:8.2f} ms  ({r.view_all_rows} rows)")


if __name__ == "__main__":
    main()
