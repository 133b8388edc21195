"""The CSV layouts the offline source reads: which header means what, in which units.

Everything is converted to what the bars table stores (see `base.BAR_COLUMNS`): volume in lots of
100 shares and amount in thousand CNY, as tushare gives them.
"""

import codecs
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from forecaster.errors import ForecasterError, ValidationError
from forecaster.market.tickers import normalize_ticker, ticker_in_name

VolumeUnit = Literal["auto", "shares", "lots"]
_DATE_FORMATS = {"%Y-%m-%d": "YYYY-MM-DD", "%Y%m%d": "YYYYMMDD", "%Y/%m/%d": "YYYY/MM/DD"}
_NUMBERS = ("open", "high", "low", "close", "pre_close", "volume", "amount")


@dataclass(frozen=True)
class Layout:
    name: str
    columns: dict[str, str]  # bar column -> header, all required
    optional: dict[str, tuple[str, ...]]  # bar column -> headers it may have (the first present)
    codes: tuple[str, ...]  # headers of the code column (the first present); none: the file's name
    volume: Literal["shares", "lots"] | None  # None: the user says, or inferred from the amount
    amount_per_thousand: float  # file amount units in a thousand CNY
    dates: tuple[str, ...]  # date formats, tried in order
    one_ticker: bool = False


_OHLC = ("open", "high", "low", "close")
_CN_PRICES = {"open": "开盘价", "high": "最高价", "low": "最低价", "close": "收盘价"}
LAYOUTS = (
    # tushare's legacy `get_k_data` (the course file): `,date,open,close,high,low,volume,code`.
    Layout(
        name="course",
        columns={"trade_date": "date", **{c: c for c in _OHLC}, "volume": "volume"},
        optional={},
        codes=("code",),
        volume="lots",
        amount_per_thousand=1.0,
        dates=("%Y-%m-%d",),
        one_ticker=True,
    ),
    # A tushare Pro `daily` frame written with to_csv (with or without its index).
    Layout(
        name="tushare daily",
        columns={"trade_date": "trade_date", **{c: c for c in _OHLC}, "volume": "vol"},
        optional={"pre_close": ("pre_close",), "amount": ("amount",)},
        codes=("ts_code",),
        volume="lots",
        amount_per_thousand=1.0,
        dates=("%Y%m%d", "%Y-%m-%d"),
    ),
    # A banner line, then 股票代码,股票名称,交易日期,开盘价,...: volume in shares, amount in CNY.
    Layout(
        name="交易日期/开盘价 export",
        columns={"trade_date": "交易日期", **_CN_PRICES, "volume": "成交量"},
        optional={"pre_close": ("前收盘价",), "amount": ("成交额",)},
        codes=("股票代码",),
        volume="shares",
        amount_per_thousand=1000.0,
        dates=tuple(_DATE_FORMATS),
    ),
    # The common 日期/开盘/收盘/最高/最低/成交量/成交额 export; its volume unit varies by exporter.
    Layout(
        name="日期/开盘 export",
        columns={"trade_date": "日期", **{k: v[:2] for k, v in _CN_PRICES.items()}, "volume": "成交量"},
        optional={"pre_close": ("前收盘", "昨收", "昨收盘"), "amount": ("成交额",)},
        codes=("股票代码", "代码"),
        volume=None,
        amount_per_thousand=1000.0,
        dates=tuple(_DATE_FORMATS),
    ),
)


@dataclass
class Table:
    """One CSV file, decoded and split into text columns; `first_line` is the first data row's line."""

    path: Path
    layout: Layout
    raw: pd.DataFrame
    first_line: int

    def line(self, row: int) -> int:
        return self.first_line + row

    def codes(self) -> pd.Series | None:
        column = next((c for c in self.layout.codes if c in self.raw.columns), None)
        return None if column is None else self.raw[column]


def decode(data: bytes, path: Path) -> str:
    """UTF-8 (with or without a BOM), else GBK; one line saying so when neither fits."""
    bom = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return data[bom:].decode("utf-8")
    except UnicodeDecodeError as utf8:
        try:
            return data.decode("gbk")
        except UnicodeDecodeError:
            at = bom + utf8.start
            line = data.count(b"\n", 0, at) + 1
            raise ValidationError(
                f"CSV file {path} line {line} is neither UTF-8 nor GBK text (byte {data[at]:#04x} at offset {at})"
            ) from None


def read_table(path: Path) -> Table:
    try:
        text = decode(path.read_bytes(), path)
    except FileNotFoundError as exc:
        raise ValidationError(f"CSV file not found: {path}") from exc
    except IsADirectoryError as exc:
        raise ValidationError(f"not a CSV file but a directory: {path}") from exc
    # A banner line without a comma above the header (e.g. "数据由邢不行整理") is skipped.
    lines = text.split("\n", 2)
    banner = 1 if len(lines) > 1 and "," not in lines[0] and "," in lines[1] else 0
    try:
        raw = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, skipinitialspace=True, skiprows=banner)
    except pd.errors.EmptyDataError as exc:
        raise ValidationError(f"CSV file {path} is empty") from exc
    except pd.errors.ParserError as exc:
        first_line = str(exc).strip().splitlines()[0]
        raise ValidationError(f"CSV file {path} cannot be parsed: {first_line}") from exc
    raw.columns = [str(c).strip() for c in raw.columns]
    layout = _layout_of(set(raw.columns), path)
    if raw.empty:
        raise ValidationError(f"CSV file {path} has a header but no rows")
    return Table(path, layout, raw, banner + 2)


def _layout_of(columns: set[str], path: Path) -> Layout:
    for layout in LAYOUTS:
        if columns >= set(layout.columns.values()):
            return layout
    raise ValidationError(
        f"CSV file {path}: unknown layout (columns {sorted(columns)}); expected the course layout "
        "',date,open,close,high,low,volume,code', tushare's daily layout "
        "'ts_code,trade_date,open,high,low,close,pre_close,change,pct_chg,vol,amount', or a Chinese "
        "export with 日期,开盘,收盘,最高,最低,成交量 or 股票代码,交易日期,开盘价,最高价,最低价,收盘价,成交量"
    )


def table_tickers(table: Table) -> pd.Series:
    """Each row's ts_code: from the code column, else from the file's name."""
    named = ticker_in_name(table.path.name)
    codes = table.codes()
    if codes is None:
        if named is None:
            raise ValidationError(
                f"CSV file {table.path} has no code column and its name names no code; name it e.g. sh600519.csv"
            )
        return pd.Series(named, index=table.raw.index)
    return codes.map(_normalizer(table, named))


def _normalizer(table: Table, named: str | None) -> dict[str, str]:
    """Each distinct code of the file -> its ts_code. The file's name completes a bare code it
    spells (`sz000001.csv` holding `000001`), which would otherwise be ambiguous."""
    codes = table.codes()
    assert codes is not None
    mapping: dict[str, str] = {}
    for code in codes.unique():
        text = str(code).strip()
        hint = named[-2:] if named is not None and text.zfill(6) == named[:6] else None
        try:
            mapping[code] = normalize_ticker(text, hint)
        except ForecasterError as exc:
            row = int((codes == code).to_numpy().nonzero()[0][0])
            raise ValidationError(f"CSV file {table.path} line {table.line(row)}: {exc}") from exc
    return mapping


def bars_of(table: Table, mask: np.ndarray, volume_unit: VolumeUnit) -> tuple[pd.DataFrame, list[str]]:
    """The rows in `mask` as a BAR_COLUMNS frame in stored units, and what was converted."""
    layout, raw = table.layout, table.raw.loc[mask]
    names = dict(layout.columns)
    for column in ("pre_close", "amount"):
        names[column] = next((h for h in layout.optional.get(column, ()) if h in raw.columns), "")
    frame = pd.DataFrame(
        {column: _numbers(table, raw, header) for column, header in names.items() if column != "trade_date"}
    )
    frame.insert(0, "trade_date", _dates(table, raw[names["trade_date"]]))
    unit, why = _volume_unit(table, frame, volume_unit)
    notes = [f"volume in {unit} ({why})" if why else ""]
    if unit == "shares":
        frame["volume"] = frame["volume"] / 100
        notes[0] += ", stored in lots (/100)"
    if layout.amount_per_thousand != 1.0 and frame["amount"].notna().any():
        frame["amount"] = frame["amount"] / layout.amount_per_thousand
        notes.append("amount in CNY, stored in thousand CNY (/1000)")
    return frame[["trade_date", *_NUMBERS]].reset_index(drop=True), [n for n in notes if n]


def _numbers(table: Table, raw: pd.DataFrame, header: str) -> pd.Series:
    """A number column; an empty field is missing (validation decides), any other text an error."""
    if not header:
        return pd.Series(np.nan, index=raw.index)
    text = raw[header].str.strip()
    values = pd.to_numeric(text.replace("", None), errors="coerce")
    bad = values.isna() & (text != "")
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        where = table.line(int(raw.index[row]))
        raise ValidationError(
            f"CSV file {table.path} line {where}: {header} {text.iloc[row]!r} is not a number "
            f"({int(bad.sum())} such field(s))"
        )
    return values.astype("float64")


def _dates(table: Table, values: pd.Series) -> pd.Series:
    values = values.str.strip()
    fmt = max(table.layout.dates, key=lambda f: pd.to_datetime(values, format=f, errors="coerce").notna().sum())
    parsed = pd.to_datetime(values, format=fmt, errors="coerce")
    bad = parsed.isna()
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        raise ValidationError(
            f"CSV file {table.path}: {int(bad.sum())} unparsable date(s); first on line "
            f"{table.line(int(values.index[row]))}: {values.iloc[row]!r} (expected {_DATE_FORMATS[fmt]})"
        )
    return parsed.dt.normalize()


def _volume_unit(table: Table, frame: pd.DataFrame, said: VolumeUnit) -> tuple[str, str]:
    """Shares or lots, and why (empty: nothing to say): as the user said, as the layout is known
    to give, or told by the amount (CNY / (volume x close) is about 1 for shares, 100 for lots)."""
    if said != "auto":
        return said, "FORECASTER_CSV_VOLUME_UNIT"
    if table.layout.volume is not None:
        return table.layout.volume, "" if table.layout.volume == "lots" else "this layout's unit"
    traded = (frame["volume"] > 0) & (frame["close"] > 0)
    ratio = float((frame["amount"] / (frame["volume"] * frame["close"]))[traded].median())
    if np.isnan(ratio):
        return "lots", "assumed: no 成交额 to tell; FORECASTER_CSV_VOLUME_UNIT may say otherwise"
    if 0.3 <= ratio <= 3:
        return "shares", "inferred: 成交额/成交量 is about the price"
    if 30 <= ratio <= 300:
        return "lots", "inferred: 成交额/成交量 is about 100 x the price"
    raise ValidationError(
        f"CSV file {table.path}: cannot tell the volume unit (成交额 / (成交量 x 收盘) is about {ratio:.3g}, "
        "expected about 1 for shares or 100 for lots); set FORECASTER_CSV_VOLUME_UNIT to shares or lots"
    )


def factors_from_pre_close(bars: pd.DataFrame) -> pd.DataFrame | None:
    """tushare-style cumulative adjustment factors from the exchange's previous close, or None
    when the bars carry none.

    On an ex-date the exchange's previous close (the ex-rights reference price) is below the last
    close; the factor grows by last close / pre_close there, so `qfq = raw * f / f_last` maps the
    close before the ex-date onto the pre_close of the ex-date: a continuous series. The first
    row's factor is 1, so factors stay put as rows are appended to the file.
    """
    known = bars.dropna(subset=["trade_date"]).sort_values("trade_date", kind="stable")
    if known.empty or known["pre_close"].isna().all():
        return None
    last_close = known["close"].shift(1)
    ratio = last_close / known["pre_close"]
    usable = (last_close > 0) & (known["pre_close"] > 0) & np.isfinite(ratio)
    factors = ratio.where(usable, 1.0).cumprod()
    return pd.DataFrame({"trade_date": known["trade_date"], "adj_factor": factors}).reset_index(drop=True)


def ex_dates(factors: pd.DataFrame) -> int:
    """How many days the factor changes on."""
    return int((factors["adj_factor"].diff().fillna(0) != 0).sum())
