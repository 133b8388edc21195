"""The tushare path: the real tushare client against a local server on 127.0.0.1."""

import logging
from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from forecaster.errors import AuthError, EmptyAnswerError, SourceError
from forecaster.ingest.update import ingest_ticker
from forecaster.storage.bars import load_bars
from forecaster.storage.schema import AdjFactor, Bar, IngestLog
from tests.helpers import make_source
from tests.tushare_server import RATE_LIMIT_MSG, FakeTushare, Fault, serve

TICKER = "600519.SH"
TODAY = date(2024, 6, 28)


@pytest.fixture
def fake() -> Iterator[FakeTushare]:
    with serve(FakeTushare()) as server:
        yield server


def bar_count(factory: sessionmaker[Session]) -> int:
    with factory() as s:
        return int(s.scalar(select(func.count()).select_from(Bar)) or 0)


@pytest.mark.both_databases  # bars and factors bulk-written, revised, read adjusted
def test_normal_answer_is_stored_in_time_order_with_factors(fake, factory):
    rows = fake.add_bars(TICKER, date(2024, 1, 2), date(2024, 6, 27))
    source, _ = make_source(fake)
    result = ingest_ticker(factory, source, TICKER, today=TODAY, end=date(2024, 6, 27))
    assert result.ok, result.error
    assert result.counts.new == len(rows) and result.factors == len(rows)
    with factory() as s:
        bars = load_bars(s, TICKER)
        # Raw prices exactly as served, oldest first although the server answers newest first.
        assert bars.index.is_monotonic_increasing
        assert bars["close"].iloc[0] == rows[0][5] and bars["close"].iloc[-1] == rows[-1][5]
        assert bars["volume"].iloc[-1] == rows[-1][9] and bars["amount"].iloc[-1] == rows[-1][10]
        assert s.scalar(select(func.count()).select_from(AdjFactor)) == len(rows)
        # qfq is anchored on the newest factor (1.25): early bars scaled by 1/1.25.
        qfq = load_bars(s, TICKER, adjust="qfq")
        assert qfq["close"].iloc[0] == pytest.approx(rows[0][5] / 1.25)
        assert qfq["close"].iloc[-1] == pytest.approx(rows[-1][5])
        hfq = load_bars(s, TICKER, adjust="hfq")
        assert hfq["close"].iloc[-1] == pytest.approx(rows[-1][5] * 1.25)
    assert {c["api"] for c in fake.calls} == {"daily", "adj_factor", "stk_limit"}  # stk_limit refused, then not asked


@pytest.mark.slow
def test_more_than_the_row_limit_is_paged_by_date(fake, factory):
    fake.row_limit = 100  # the real limit is 6000 (tested below); a small one makes many pages
    rows = fake.add_bars(TICKER, date(2023, 1, 3), date(2024, 6, 27))
    assert len(rows) > 250
    source, _ = make_source(fake, history_start=date(2023, 1, 1))
    result = ingest_ticker(factory, source, TICKER, today=TODAY, end=date(2024, 6, 27))
    assert result.ok, result.error
    assert result.counts.new == len(rows)
    daily_calls = [c for c in fake.calls if c["api"] == "daily"]
    assert len(daily_calls) == len(rows) // 100 + 1
    assert bar_count(factory) == len(rows)


def test_more_than_6000_rows_with_the_real_limit(fake, factory):
    rows = fake.add_bars(TICKER, date(1999, 1, 4), date(2024, 6, 27))
    assert len(rows) > 6000
    source, _ = make_source(fake, history_start=date(1999, 1, 1))
    result = ingest_ticker(factory, source, TICKER, today=TODAY, end=date(2024, 6, 27))
    assert result.ok, result.error
    assert bar_count(factory) == len(rows)
    assert len([c for c in fake.calls if c["api"] == "daily"]) == 2


def test_http_500_is_an_error_not_no_data(fake, factory):
    fake.add_bars(TICKER, date(2024, 1, 2), date(2024, 6, 27))
    fake.faults = [Fault("http", api="daily", status=500) for _ in range(50)]
    source, sleeps = make_source(fake, total=0.05)
    result = ingest_ticker(factory, source, TICKER, today=TODAY, end=date(2024, 6, 27))
    assert not result.ok
    assert "returned nothing" in (result.error or "")
    assert sleeps, "an empty answer is retried before it is reported"
    assert bar_count(factory) == 0
    with factory() as s:
        entry = s.scalars(select(IngestLog)).one()
        assert entry.status == "error" and entry.rows_new == 0


def test_http_500_once_then_success(fake, factory):
    rows = fake.add_bars(TICKER, date(2024, 1, 2), date(2024, 6, 27))
    fake.faults = [Fault("http", api="daily", status=502)]
    source, sleeps = make_source(fake)
    result = ingest_ticker(factory, source, TICKER, today=TODAY, end=date(2024, 6, 27))
    assert result.ok, result.error
    assert len(sleeps) == 1 and bar_count(factory) == len(rows)


def test_rate_limit_then_success_backs_off(fake, factory):
    rows = fake.add_bars(TICKER, date(2024, 1, 2), date(2024, 6, 27))
    fake.faults = [Fault("code", api="daily", code=40203, msg=RATE_LIMIT_MSG) for _ in range(3)]
    source, sleeps = make_source(fake)
    result = ingest_ticker(factory, source, TICKER, today=TODAY, end=date(2024, 6, 27))
    assert result.ok, result.error
    assert sleeps == [0.01, 0.02, 0.04]  # exponential backoff
    assert bar_count(factory) == len(rows)


def test_rate_limit_that_never_ends_gives_up_within_the_bound(fake):
    fake.add_bars(TICKER, date(2024, 1, 2), date(2024, 6, 27))
    fake.faults = [Fault("code", api="daily", code=40203, msg=RATE_LIMIT_MSG) for _ in range(100)]
    # The backoff's own clock: on a loaded machine one local request can take longer than 0.1 s.
    source, sleeps = make_source(fake, total=0.1, wall_clock=False)
    with pytest.raises(SourceError, match="rate limit"):
        source.fetch(TICKER, date(2024, 1, 1), date(2024, 6, 27))
    assert sleeps == [0.01, 0.02, 0.04]  # the next (0.08) would pass the bound


def test_bad_token_fails_at_once_and_never_shows_the_token(fake, factory, caplog):
    fake.add_bars(TICKER, date(2024, 1, 2), date(2024, 6, 27))
    wrong = "wrong-token-ZZZ-9876"
    source, sleeps = make_source(fake, token=wrong)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(AuthError) as info:
        source.fetch(TICKER, date(2024, 1, 1), date(2024, 6, 27))
    assert "token" in str(info.value) and wrong not in str(info.value)
    assert sleeps == [] and len(fake.calls) == 1
    result = ingest_ticker(factory, source, TICKER, today=TODAY, end=date(2024, 6, 27))
    assert not result.ok
    assert wrong not in caplog.text
    with factory() as s:
        dump = "\n".join(str(r) for r in s.execute(text("select * from ingest_log")).all())
    assert wrong not in dump and "token" in dump


def test_timeout_is_retried_then_reported(fake):
    fake.add_bars(TICKER, date(2024, 1, 2), date(2024, 6, 27))
    fake.faults = [Fault("sleep", api="daily", seconds=1.0) for _ in range(5)]
    source, sleeps = make_source(fake, timeout=0.2, total=0.5)
    with pytest.raises(SourceError, match="Timeout"):
        source.fetch(TICKER, date(2024, 1, 1), date(2024, 6, 27))
    assert len(sleeps) == 2  # tries at ~0.2 s and ~0.4 s; a third would end past 0.5 s


def test_timeout_once_then_success(fake):
    rows = fake.add_bars(TICKER, date(2024, 1, 2), date(2024, 6, 27))
    fake.faults = [Fault("sleep", api="daily", seconds=1.0)]
    source, sleeps = make_source(fake, timeout=0.3)
    fetched = source.fetch(TICKER, date(2024, 1, 1), date(2024, 6, 27))
    assert len(fetched.bars) == len(rows) and len(sleeps) == 1


def test_dropped_connection_is_retried(fake):
    rows = fake.add_bars(TICKER, date(2024, 1, 2), date(2024, 6, 27))
    fake.faults = [Fault("drop", api="daily")]
    source, sleeps = make_source(fake)
    fetched = source.fetch(TICKER, date(2024, 1, 1), date(2024, 6, 27))
    assert len(fetched.bars) == len(rows) and len(sleeps) == 1


def test_adj_factor_refused_continues_unadjusted(fake, factory):
    rows = fake.add_bars(TICKER, date(2024, 1, 2), date(2024, 6, 27))
    fake.refused = {"adj_factor"}
    source, _ = make_source(fake)
    result = ingest_ticker(factory, source, TICKER, today=TODAY, end=date(2024, 6, 27))
    assert result.ok, result.error
    assert result.counts.new == len(rows) and result.factors == 0
    assert any("adj_factor unavailable" in w for w in result.warnings)
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(AdjFactor)) == 0
        entry = s.scalars(select(IngestLog)).one()
        assert "adj_factor unavailable" in (entry.warnings or "")
        # qfq without factors is the raw series.
        assert load_bars(s, TICKER, adjust="qfq")["close"].iloc[0] == rows[0][5]


def test_unknown_ticker_is_an_error(fake, factory):
    fake.add_bars(TICKER, date(2024, 1, 2), date(2024, 6, 27))
    source, _ = make_source(fake, total=0.0)
    result = ingest_ticker(factory, source, "000002.SZ", today=TODAY, end=date(2024, 6, 27))
    assert not result.ok and "returned nothing" in (result.error or "")


@pytest.mark.both_databases  # bars and factors bulk-written, revised, read adjusted
def test_incremental_ingest_asks_only_for_recent_days_and_catches_revisions(fake, factory):
    rows = fake.add_bars(TICKER, date(2024, 1, 2), date(2024, 6, 27))
    source, _ = make_source(fake)
    assert ingest_ticker(factory, source, TICKER, today=TODAY, end=date(2024, 6, 20)).ok
    # The exchange revises a recent bar; a new day arrives.
    revised = next(r for r in fake.daily[TICKER] if r[1] == "20240619")
    revised[5] = round(revised[5] * 1.001, 2)
    revised[3] = max(revised[3], revised[5])
    fake.calls.clear()
    result = ingest_ticker(factory, source, TICKER, today=TODAY, end=date(2024, 6, 27), overlap_days=5)
    assert result.ok, result.error
    first_call = fake.calls[0]["params"]
    assert first_call["start_date"] == "20240613"  # 5 trading days before 2024-06-20
    assert result.counts.changed == 1
    assert result.counts.new == sum(1 for r in rows if "20240620" < r[1] <= "20240627")
    assert bar_count(factory) == len(rows)
    # Idempotent: the same ingest again changes nothing.
    again = ingest_ticker(factory, source, TICKER, today=TODAY, end=date(2024, 6, 27))
    assert again.counts.new == 0 and again.counts.changed == 0


def test_empty_answer_for_today_only_is_not_an_error(fake):
    # The day's bar lands after 15:00; asking for today alone before then is "nothing new".
    fake.add_bars(TICKER, date(2024, 1, 2), date(2024, 6, 27))
    source, sleeps = make_source(fake, total=0.0)
    fetched = source.fetch(TICKER, date(2099, 1, 5), date(2099, 1, 5))
    assert fetched.bars.empty and sleeps == []


def test_empty_answer_error_type(fake):
    source, _ = make_source(fake, total=0.0)
    with pytest.raises(EmptyAnswerError):
        source.fetch(TICKER, date(2024, 1, 1), date(2024, 1, 31))
