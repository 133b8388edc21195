"""CSV ingest: the bundled course file, the tushare daily layout, and every kind of bad input."""

from datetime import UTC, date
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from forecaster.config import BUNDLED_CSV
from forecaster.ingest.sources.csvfile import CsvSource
from forecaster.ingest.update import ingest_ticker
from forecaster.storage.bars import load_bars
from forecaster.storage.schema import Bar, IngestLog

# Storage tests: each runs on SQLite and on PostgreSQL (see conftest).
pytestmark = pytest.mark.both_databases

TICKER = "600519.SH"
TODAY = date(2026, 11, 27)
COURSE_HEADER = ",date,open,close,high,low,volume,code"


def snapshot(factory: sessionmaker[Session]) -> list[tuple[object, ...]]:
    with factory() as s:
        return [tuple(r) for r in s.execute(text("select * from bars order by ticker, trade_date")).all()]


def write_course_csv(path: Path, rows: list[str]) -> Path:
    path.write_text("\n".join([COURSE_HEADER, *rows]) + "\n")
    return path


GOOD_ROWS = [
    "0,2021-03-01,100.0,101.0,102.0,99.0,1000,600519",
    "1,2021-03-02,101.0,100.5,101.5,100.0,1100,600519",
    "2,2021-03-03,100.5,102.0,102.5,100.1,900,600519",
]


def test_bundled_file_ingests_exactly_and_only_once(factory):
    source = CsvSource(BUNDLED_CSV)
    first = ingest_ticker(factory, source, TICKER, today=TODAY)
    assert first.ok, first.error
    assert first.counts.new == 2426
    with factory() as s:
        count, lo, hi = s.execute(select(func.count(), func.min(Bar.trade_date), func.max(Bar.trade_date))).one()
        assert (count, lo, hi) == (2426, date(2010, 4, 26), date(2020, 4, 24))
        assert set(s.scalars(select(Bar.ticker).distinct())) == {TICKER}
        bars = load_bars(s, TICKER)
    # Values as in the file (first row: open 88.702, close 87.381, volume 107036.13 lots).
    assert tuple(bars.iloc[0][["open", "close", "high", "low", "volume"]]) == (
        88.702,
        87.381,
        89.072,
        87.362,
        107036.13,
    )
    assert bars["amount"].isna().all() and bars["pre_close"].isna().all()
    before = snapshot(factory)
    second = ingest_ticker(factory, source, TICKER, today=TODAY)
    assert second.ok and second.counts.new == 0 and second.counts.changed == 0
    # Incremental: only the overlap before the last stored bar was looked at.
    assert second.start == date(2020, 4, 17) and second.counts.unchanged == 5 + 1
    full = ingest_ticker(factory, source, TICKER, today=TODAY, start=date(2010, 1, 1))
    assert full.counts.new == 0 and full.counts.unchanged == 2426
    assert snapshot(factory) == before


def test_v_bars_view_gives_iso_dates(factory):
    assert ingest_ticker(factory, CsvSource(BUNDLED_CSV), TICKER, today=TODAY).ok
    with factory() as s:
        row = s.execute(text("select * from v_bars order by trade_date limit 1")).mappings().one()
    # SQLite stores ISO text; PostgreSQL a date, which the driver gives as `date` (printed ISO).
    assert {**row, "trade_date": str(row["trade_date"])} == {
        "ticker": TICKER,
        "trade_date": "2010-04-26",
        "open": 88.702,
        "high": 89.072,
        "low": 87.362,
        "close": 87.381,
        "volume": 107036.13,
        "amount": None,
        "source": "csv",
    }


BAD_CASES = {
    "unparsable date": ["0,2021-03-0x,100.0,101.0,102.0,99.0,1000,600519"],
    "duplicate date": ["0,2021-03-02,100.0,101.0,102.0,99.0,1000,600519"],
    "zero price": ["0,2021-03-04,0,101.0,102.0,99.0,1000,600519"],
    "negative price": ["0,2021-03-04,-5,101.0,102.0,-6,1000,600519"],
    "non-numeric price": ["0,2021-03-04,abc,101.0,102.0,99.0,1000,600519"],
    "infinite price": ["0,2021-03-04,inf,101.0,102.0,99.0,1000,600519"],
    "high below open": ["0,2021-03-04,103.0,101.0,102.0,99.0,1000,600519"],
    "low above close": ["0,2021-03-04,100.0,101.0,102.0,100.5,1000,600519"],
    "negative volume": ["0,2021-03-04,100.0,101.0,102.0,99.0,-1,600519"],
    "future date": ["0,2099-03-04,100.0,101.0,102.0,99.0,1000,600519"],
    "other ticker in the file": ["0,2021-03-04,100.0,101.0,102.0,99.0,1000,600000"],
    "ragged row": ["0,2021-03-04,100.0,101.0,102.0,99.0,1000,600519,extra,fields"],
}
EXPECTED_MESSAGE = {
    "unparsable date": "unparsable date",
    "duplicate date": "duplicate dates: 2021-03-02",
    "zero price": "non-positive or non-finite prices on 2021-03-04",
    "negative price": "non-positive",
    "non-numeric price": "bad.csv line 5: open 'abc' is not a number",
    "infinite price": "non-finite",
    "high below open": "high below max(open, close) on 2021-03-04",
    "low above close": "low above min(open, close) on 2021-03-04",
    "negative volume": "negative or missing volume",
    "future date": "dates in the future",
    "other ticker in the file": "holds 600000.SH, 600519.SH",
    "ragged row": "cannot be parsed",
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_input_is_refused_and_nothing_is_written(case, factory, tmp_path):
    good = write_course_csv(tmp_path / "good.csv", GOOD_ROWS)
    assert ingest_ticker(factory, CsvSource(good), TICKER, today=TODAY).ok
    before = snapshot(factory)
    bad = write_course_csv(tmp_path / "bad.csv", GOOD_ROWS + BAD_CASES[case])
    result = ingest_ticker(factory, CsvSource(bad), TICKER, today=TODAY, start=date(2021, 1, 1))
    assert not result.ok
    assert EXPECTED_MESSAGE[case] in (result.error or "")
    assert snapshot(factory) == before
    with factory() as s:
        entry = s.scalars(select(IngestLog).order_by(IngestLog.id.desc())).first()
        assert entry is not None and entry.status == "error" and entry.rows_new == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "is empty"),
        (COURSE_HEADER + "\n", "no rows"),
        ("a,b,c\n1,2,3\n", "unknown layout"),
        (b"\xff\xfe\x00garbage".decode("latin-1"), "unknown layout"),
    ],
)
def test_unreadable_files_are_refused(content, message, factory, tmp_path):
    path = tmp_path / "x.csv"
    path.write_text(content)
    result = ingest_ticker(factory, CsvSource(path), TICKER, today=TODAY)
    assert not result.ok and message in (result.error or "")
    assert snapshot(factory) == []


def test_missing_file_is_refused(factory, tmp_path):
    result = ingest_ticker(factory, CsvSource(tmp_path / "nope.csv"), TICKER, today=TODAY)
    assert not result.ok and "not found" in (result.error or "")


def test_ticker_mismatch_for_single_ticker_file(factory):
    result = ingest_ticker(factory, CsvSource(BUNDLED_CSV), "000001.SZ", today=TODAY)
    assert not result.ok and result.error == f"CSV file {BUNDLED_CSV} holds 600519.SH, not 000001.SZ"


def test_revised_bar_is_updated_not_duplicated(factory, tmp_path):
    assert ingest_ticker(factory, CsvSource(write_course_csv(tmp_path / "a.csv", GOOD_ROWS)), TICKER, today=TODAY).ok
    revised = [*GOOD_ROWS[:2], "2,2021-03-03,100.5,102.2,102.5,100.1,900,600519"]
    result = ingest_ticker(
        factory, CsvSource(write_course_csv(tmp_path / "b.csv", revised)), TICKER, today=TODAY, start=date(2021, 1, 1)
    )
    assert result.ok
    assert (result.counts.new, result.counts.changed, result.counts.unchanged) == (0, 1, 2)
    with factory() as s:
        bars = load_bars(s, TICKER)
    assert len(bars) == 3 and bars["close"].iloc[-1] == 102.2


def test_bar_on_a_closed_day_is_kept_and_flagged(factory, tmp_path):
    rows = [*GOOD_ROWS, "3,2021-03-06,102.0,102.0,102.5,101.0,500,600519"]  # a Saturday
    result = ingest_ticker(factory, CsvSource(write_course_csv(tmp_path / "a.csv", rows)), TICKER, today=TODAY)
    assert result.ok and result.counts.new == 4
    assert result.closed_days == [date(2021, 3, 6)]
    with factory() as s:
        entry = s.scalars(select(IngestLog)).one()
    assert entry.closed_day_bars == 1 and "2021-03-06" in (entry.warnings or "")


def test_tushare_daily_csv_layout(factory, tmp_path):
    frame = pd.DataFrame(
        {
            "ts_code": [TICKER, TICKER, "000001.SZ"],
            "trade_date": ["20210303", "20210302", "20210302"],  # newest first, as tushare writes
            "open": [100.5, 101.0, 10.0],
            "high": [102.5, 101.5, 10.5],
            "low": [100.1, 100.0, 9.9],
            "close": [102.0, 100.5, 10.2],
            "pre_close": [100.5, 101.0, 10.0],
            "change": [1.5, -0.5, 0.2],
            "pct_chg": [1.49, -0.5, 2.0],
            "vol": [900.0, 1100.0, 5.0],
            "amount": [9180.0, 11055.0, 5.1],
        }
    )
    path = tmp_path / "daily.csv"
    frame.to_csv(path)  # with pandas' index column, as people write it
    result = ingest_ticker(factory, CsvSource(path), TICKER, today=TODAY)
    assert result.ok, result.error
    assert result.counts.new == 2
    with factory() as s:
        bars = load_bars(s, TICKER)
    assert list(pd.DatetimeIndex(bars.index).date) == [date(2021, 3, 2), date(2021, 3, 3)]
    assert bars.loc["2021-03-03", "amount"] == 9180.0 and bars.loc["2021-03-02", "pre_close"] == 101.0
    other = ingest_ticker(factory, CsvSource(path), "000001.SZ", today=TODAY)
    assert other.ok and other.counts.new == 1


def test_bulk_written_rows_read_back_as_typed_values(factory, tmp_path):
    assert ingest_ticker(factory, CsvSource(write_course_csv(tmp_path / "a.csv", GOOD_ROWS)), TICKER, today=TODAY).ok
    with factory() as s:
        bar = s.scalars(select(Bar).order_by(Bar.trade_date)).first()
    assert bar is not None
    assert bar.trade_date == date(2021, 3, 1) and bar.open == 100.0 and bar.pre_close is None
    assert bar.ingested_at.year >= 2026 and bar.ingested_at.tzinfo is UTC  # aware, as every read moment
