"""A large watch-list kept current by trade date: two calls a new day instead of two per ticker."""

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from forecaster.ingest.sources.tushare_pro import TushareSource
from forecaster.ingest.update import IngestResult, ingest_tickers
from forecaster.storage.bars import load_bars
from forecaster.storage.db import open_database, session_factory
from forecaster.storage.schema import AdjFactor
from tests.helpers import make_source
from tests.tushare_server import FakeTushare, Fault, serve

TICKERS = [f"{600000 + i:06d}.SH" for i in range(35)]
NEW = "000001.SZ"
D = date(2024, 6, 25)  # stored history current to here; 26, 27, 28 June are the new days
END = date(2024, 6, 28)
TODAY = date(2024, 6, 29)


@pytest.fixture
def fake() -> Iterator[FakeTushare]:
    with serve(FakeTushare()) as server:
        for i, ticker in enumerate([*TICKERS, NEW]):
            server.add_bars(ticker, date(2024, 5, 6), END, seed=i, price=10.0 + i)
        yield server


def ingest(factory: sessionmaker[Session], source: TushareSource, tickers: list[str], end: date) -> list[IngestResult]:
    return ingest_tickers(factory, source, tickers, today=TODAY, overlap_days=5, end=end)


def asked(fake: FakeTushare, api: str) -> list[dict[str, object]]:
    return [c["params"] for c in fake.calls if c["api"] == api]


def stored(factory: sessionmaker[Session], ticker: str) -> tuple[pd.DataFrame, list[tuple[date, float]]]:
    with factory() as s:
        factors = s.execute(
            select(AdjFactor.trade_date, AdjFactor.adj_factor)
            .where(AdjFactor.ticker == ticker)
            .order_by(AdjFactor.trade_date)
        )
        return load_bars(s, ticker), [(r[0], r[1]) for r in factors]


@pytest.mark.slow
def test_current_tickers_are_asked_by_trade_date_with_the_same_rows(fake, factory, tmp_path: Path):
    batched, _ = make_source(fake)
    batched.batch_from = 30
    assert all(r.ok for r in ingest(factory, batched, TICKERS, D))  # 35 new tickers: per ticker
    assert len(asked(fake, "daily")) == 35
    fake.calls.clear()
    batched.calls = batched.calls_by_date = 0

    results = ingest(factory, batched, [*TICKERS, NEW], END)
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    daily, factors = asked(fake, "daily"), asked(fake, "adj_factor")
    by_date = [p["trade_date"] for p in daily if "trade_date" in p]
    # The 3 new days and, as per ticker, the newest stored one and the 5 before it (revisions).
    overlap = ["20240618", "20240619", "20240620", "20240621", "20240624", "20240625"]
    assert by_date == [*overlap, "20240626", "20240627", "20240628"]
    assert [p["trade_date"] for p in factors if "trade_date" in p] == by_date
    # The new ticker is backfilled once, through the per-ticker path; nobody else is asked alone.
    assert [p["ts_code"] for p in daily if "ts_code" in p] == [NEW]
    assert [p["ts_code"] for p in factors if "ts_code" in p] == [NEW]
    # 9 days of daily and adj_factor, stk_limit refused once (then not asked); the new one's daily
    # and adj_factor, and namechange refused once (the bundled listings name it)
    assert (batched.calls, batched.calls_by_date) == (22, 19)
    assert {r.counts.new for r in results[:35]} == {3}

    # A second database, ingested per ticker all along, holds the very same rows.
    engine = open_database(f"sqlite:///{tmp_path / 'per_ticker.db'}")
    other = session_factory(engine)
    per_ticker, _ = make_source(fake)
    ingest(other, per_ticker, TICKERS, D)
    ingest(other, per_ticker, [*TICKERS, NEW], END)
    for ticker in [*TICKERS, NEW]:
        bars, factor_rows = stored(factory, ticker)
        want_bars, want_factors = stored(other, ticker)
        pd.testing.assert_frame_equal(bars, want_bars)
        assert factor_rows == want_factors and len(factor_rows) == len(bars)
    assert bars.index[-1].date() == END
    engine.dispose()


def test_an_empty_day_fails_every_batched_ticker_and_writes_nothing(fake, factory):
    source, _ = make_source(fake, total=0.3, wall_clock=False)
    source.batch_from = 30
    assert all(r.ok for r in ingest(factory, source, TICKERS, D))
    before = {t: len(stored(factory, t)[0]) for t in TICKERS}
    # HTTP errors come back from the client as empty frames: every retry of that day is one.
    fake.faults = [Fault("http", api="daily") for _ in range(50)]

    results = ingest(factory, source, TICKERS, END)
    assert not any(r.ok for r in results)
    for result in results:
        assert "by trade date" in (result.error or "") and "20240618" in (result.error or "")
        assert "gave up after" in (result.error or "")
    assert {t: len(stored(factory, t)[0]) for t in TICKERS} == before
    assert asked(fake, "adj_factor")[-1].get("ts_code")  # no factor was asked by date
