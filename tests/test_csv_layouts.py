"""CSV sources beyond one course file: Chinese-header exports, encodings, code spellings, a
directory of files, volume units, and adjustment factors from the exchange's previous close."""

import re
import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import text

from forecaster.errors import ValidationError
from forecaster.ingest.sources.csvfile import CsvSource
from forecaster.ingest.update import ingest_ticker
from forecaster.storage.bars import load_bars

TODAY = date(2026, 11, 27)
MARKET = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "market"
MARKET_HEADER = "股票代码,股票名称,交易日期,开盘价,最高价,最低价,收盘价,前收盘价,成交量,成交额,流通市值,总市值"
# Three days of 600519 around its 2019 dividend (14.54 CNY a share, ex-date 2019-06-28): the
# exchange's previous close on the ex-date is 981.81, not the last close 996.35.
MARKET_ROWS = [
    "sh600519,贵州茅台,2019-06-26,985.0,992.0,980.0,990.0,985.0,3000000.0,2970000000.0,1,1",
    "sh600519,贵州茅台,2019-06-27,990.0,1001.0,989.0,996.35,990.0,4000000.0,3990000000.0,1,1",
    "sh600519,XD贵州茅,2019-06-28,985.99,988.88,971.33,987.0,981.81,2000000.0,1960000000.0,1,1",
]


def market_file(path: Path, rows: list[str] = MARKET_ROWS, encoding: str = "utf-8") -> Path:
    path.write_bytes("\n".join(["数据由邢不行整理", MARKET_HEADER, *rows, ""]).encode(encoding))
    return path


def common_file(path: Path, code: str | None, volumes: tuple[float, float], amount: bool = True) -> Path:
    """The 日期/开盘/收盘/最高/最低/成交量/成交额 layout: two days at prices about 10."""
    header = ["日期", "开盘", "收盘", "最高", "最低", "成交量", *(["成交额"] if amount else [])]
    rows = [["2024-03-01", "10.0", "10.2", "10.3", "9.9", str(volumes[0])], ["2024-03-04", "10.2", "10.0"]]
    rows[1] += ["10.25", "9.95", str(volumes[1])]
    if amount:
        rows[0].append("1010000.0")  # 100,000 shares at about 10.1 CNY
        rows[1].append("2020000.0")
    if code is not None:
        header.insert(0, "股票代码")
        rows = [[code, *r] for r in rows]
    path.write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n", encoding="utf-8")
    return path


def stored_bars(factory) -> list[tuple[object, ...]]:
    with factory() as s:
        return [tuple(r) for r in s.execute(text("select * from bars order by ticker, trade_date")).all()]


@pytest.mark.both_databases
def test_market_layout_converts_units_and_adjusts_over_a_dividend(factory, tmp_path):
    result = ingest_ticker(factory, CsvSource(market_file(tmp_path / "sh600519.csv")), "600519.SH", today=TODAY)
    assert result.ok, result.error
    assert (result.counts.new, result.factors) == (3, 3)
    summary = result.summary()
    assert "volume in shares (this layout's unit), stored in lots (/100)" in summary
    assert "amount in CNY, stored in thousand CNY (/1000)" in summary
    assert "adj factors from the previous close (1 ex-date(s))" in summary
    with factory() as s:
        raw = load_bars(s, "600519.SH")
        qfq = load_bars(s, "600519.SH", adjust="qfq")
    # Stored as tushare keeps them: 3,000,000 shares = 30,000 lots; 2.97e9 CNY = 2.97e6 thousand.
    assert list(raw["volume"]) == [30000.0, 40000.0, 20000.0]
    assert list(raw["amount"]) == [2970000.0, 3990000.0, 1960000.0]
    # By hand: the days before the ex-date scale by 981.81 / 996.35; the ex-date stays raw.
    scale = 981.81 / 996.35
    assert list(qfq["close"]) == pytest.approx([990.0 * scale, 981.81, 987.0])
    assert list(qfq["pre_close"]) == pytest.approx([985.0 * scale, 990.0 * scale, 981.81])
    # Continuous: each day's previous close is the last day's close, also across the ex-date.
    assert list(qfq["pre_close"].iloc[1:]) == pytest.approx(list(qfq["close"].iloc[:-1]))
    assert raw["close"].iloc[1] == 996.35  # the raw series keeps the jump


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gbk"])
def test_bom_and_gbk_give_the_same_bars(encoding, tmp_path):
    expected = CsvSource(market_file(tmp_path / "sh600519.csv")).fetch("600519.SH", None, TODAY).bars
    other = CsvSource(market_file(tmp_path / "SH600519.other.csv", encoding=encoding))
    pd.testing.assert_frame_equal(other.fetch("600519.SH", None, TODAY).bars, expected)
    assert expected["close"].tolist() == [990.0, 996.35, 987.0]


def test_neither_utf8_nor_gbk_is_one_clear_line(factory, tmp_path):
    path = tmp_path / "sh600519.csv"
    data = b"\xef\xbb\xbf" + MARKET_HEADER.encode() + b"\n\xff\xff\n"
    path.write_bytes(data)
    result = ingest_ticker(factory, CsvSource(path), "600519.SH", today=TODAY)
    offset = data.index(b"\xff")
    assert result.error == f"CSV file {path} line 2 is neither UTF-8 nor GBK text (byte 0xff at offset {offset})"
    assert stored_bars(factory) == []


def test_a_bad_field_names_file_and_line_and_writes_nothing(factory, tmp_path):
    rows = [*MARKET_ROWS[:2], MARKET_ROWS[2].replace("985.99", "9x5.99")]
    path = market_file(tmp_path / "sh600519.csv", rows)
    result = ingest_ticker(factory, CsvSource(path), "600519.SH", today=TODAY)
    # Line 1 is the banner, line 2 the header: the third row is line 5.
    assert result.error == f"CSV file {path} line 5: 开盘价 '9x5.99' is not a number (1 such field(s))"
    assert stored_bars(factory) == []


@pytest.mark.parametrize(
    ("volumes", "said", "stored", "note"),
    [
        ((100000, 200000), "auto", 1000.0, "volume in shares (inferred: 成交额/成交量 is about the price)"),
        ((1000, 2000), "auto", 1000.0, "volume in lots (inferred: 成交额/成交量 is about 100 x the price)"),
        ((100000, 200000), "shares", 1000.0, "volume in shares (FORECASTER_CSV_VOLUME_UNIT), stored in lots"),
        ((1000, 2000), "lots", 1000.0, "volume in lots (FORECASTER_CSV_VOLUME_UNIT)"),
    ],
)
def test_common_layout_volume_unit_said_or_inferred(volumes, said, stored, note, factory, tmp_path):
    path = common_file(tmp_path / "600036.SH.csv", None, volumes)
    result = ingest_ticker(factory, CsvSource(path, said), "600036.SH", today=TODAY)
    assert result.ok, result.error
    assert note in result.summary() and result.factors == 0  # no previous close in this layout
    with factory() as s:
        bars = load_bars(s, "600036.SH")
    assert bars["volume"].iloc[0] == stored and bars["amount"].iloc[0] == 1010.0


def test_common_layout_without_amount_assumes_lots_and_says_so(tmp_path):
    fetched = CsvSource(common_file(tmp_path / "sz000001.csv", None, (1000, 2000), amount=False)).fetch(
        "000001.SZ", None, TODAY
    )
    assert fetched.bars["volume"].tolist() == [1000.0, 2000.0] and fetched.bars["amount"].isna().all()
    assert fetched.notes == [
        "volume in lots (assumed: no 成交额 to tell; FORECASTER_CSV_VOLUME_UNIT may say otherwise)"
    ]


def test_volume_unit_that_fits_neither_is_refused(tmp_path):
    path = common_file(tmp_path / "sz000001.csv", None, (10, 20))  # amount / (volume x price) = 10^4
    with pytest.raises(ValidationError, match=r"cannot tell the volume unit .* about 1e\+04"):
        CsvSource(path).fetch("000001.SZ", None, TODAY)


@pytest.mark.parametrize("code", ["sh600519", "sh.600519", "SH600519", "600519.SS", "600519.SH", "600519"])
def test_code_column_spellings(code, tmp_path):
    fetched = CsvSource(common_file(tmp_path / "prices.csv", code, (1000, 2000))).fetch("600519.SH", None, TODAY)
    assert len(fetched.bars) == 2


def test_ambiguous_bare_code_is_refused_unless_the_name_says_the_exchange(tmp_path):
    unnamed = common_file(tmp_path / "prices.csv", "000001", (1000, 2000))
    with pytest.raises(ValidationError, match=re.escape("prices.csv line 2: code '000001' is ambiguous: 000001.SZ")):
        CsvSource(unnamed).fetch("000001.SZ", None, TODAY)
    named = common_file(tmp_path / "sz000001.csv", "000001", (1000, 2000))
    assert len(CsvSource(named).fetch("000001.SZ", None, TODAY).bars) == 2


def test_a_file_without_code_column_or_code_in_its_name_is_refused(tmp_path):
    path = common_file(tmp_path / "prices.csv", None, (1000, 2000))
    with pytest.raises(ValidationError, match="no code column and its name names no code"):
        CsvSource(path).fetch("600519.SH", None, TODAY)


def test_a_directory_of_tickers(factory, tmp_path):
    folder = tmp_path / "market"
    folder.mkdir()
    market_file(folder / "sh600519.csv")
    common_file(folder / "600036.SH.csv", None, (1000, 2000))
    # A file whose name names no code is found by its code column (here: two tickers in one file).
    common_file(folder / "more.csv", "sz000001", (1000, 2000))
    (folder / "notes.txt").write_text("not a CSV")
    source = CsvSource(folder)
    assert source.description == f"CSV directory {folder}"
    counts = {}
    for ticker in ("600519.SH", "600036.SH", "000001.SZ"):
        result = ingest_ticker(factory, source, ticker, today=TODAY)
        assert result.ok, result.error
        counts[ticker] = result.counts.new
    assert counts == {"600519.SH": 3, "600036.SH": 2, "000001.SZ": 2}
    missing = ingest_ticker(factory, source, "300750.SZ", today=TODAY)
    assert missing.error == (
        f"CSV directory {folder} has no file for 300750.SZ (by name, e.g. sz300750.csv or 300750.SZ.csv, "
        "or by a code column)"
    )
    common_file(folder / "SH600519.dup.csv", None, (1000, 2000))
    twice = ingest_ticker(factory, source, "600519.SH", today=TODAY)
    assert twice.error == f"CSV directory {folder}: 600519.SH is in several files: SH600519.dup.csv, sh600519.csv"


def test_tushare_layout_pre_close_gives_factors(tmp_path):
    header = "ts_code,trade_date,open,high,low,close,pre_close,vol,amount"
    rows = [
        "600519.SH,20190628,985.99,988.88,971.33,990.0,981.81,20000,1960000",
        "600519.SH,20190627,990,1001,989,996.35,990,40000,3990000",
    ]
    path = tmp_path / "daily.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    fetched = CsvSource(path).fetch("600519.SH", None, TODAY)
    assert fetched.factors is not None
    assert fetched.factors["adj_factor"].tolist() == pytest.approx([1.0, 996.35 / 981.81])
    assert fetched.notes == ["adj factors from the previous close (1 ex-date(s))"]  # volume already in lots


@pytest.mark.skipif(
    not MARKET.is_dir(), reason=f"the development market {MARKET} is not here (../shared next to the clone)"
)
def test_real_market_files(factory, tmp_path):
    folder = tmp_path / "market"
    folder.mkdir()
    for name in ("sh600519.csv", "sz000001.csv"):
        shutil.copy(MARKET / name, folder / name)
    source = CsvSource(folder)
    # Row counts as SOURCES.md lists them.
    assert len(source.fetch("000001.SZ", None, TODAY).bars) == 6933
    result = ingest_ticker(factory, source, "600519.SH", today=TODAY, start=date(2019, 1, 1))
    assert result.ok and "(20 ex-date(s))" in result.summary()
    with factory() as s:
        qfq = load_bars(s, "600519.SH", since=date(2019, 6, 27), until=date(2019, 6, 28), adjust="qfq")
    # 2019-06-27 closed at 996.35; the exchange's previous close on the 28th was 981.81.
    assert qfq["close"].iloc[0] == pytest.approx(981.81) and qfq["pre_close"].iloc[1] == pytest.approx(981.81)
