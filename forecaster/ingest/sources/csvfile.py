"""Bars from a CSV file: the course's `get_k_data` layout or tushare Pro's `daily` layout."""

from datetime import date
from pathlib import Path

import pandas as pd

from forecaster.errors import ForecasterError, ValidationError
from forecaster.ingest.sources.base import BAR_COLUMNS, Fetched
from forecaster.market.calendar import TradingCalendar
from forecaster.market.tickers import normalize_ticker

# The course file: `,date,open,close,high,low,volume,code` (a pandas index first).
COURSE_COLUMNS = {"date", "open", "close", "high", "low", "volume", "code"}
# A tushare Pro `daily` frame written with to_csv (with or without its index).
PRO_COLUMNS = {"ts_code", "trade_date", "open", "high", "low", "close", "vol"}
_DATE_FORMATS = {"%Y-%m-%d": "YYYY-MM-DD", "%Y%m%d": "YYYYMMDD"}


class CsvSource:
    name = "csv"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.description = f"CSV {path}"

    def fetch(self, ticker: str, start: date | None, end: date, calendar: TradingCalendar | None = None) -> Fetched:
        # The whole file is returned: validation must see every row (a duplicate outside the
        # asked range is still a broken file), and the ingest step trims.
        return Fetched(ticker=ticker, source=self.name, bars=read_bar_csv(self.path, ticker))


def _read(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except FileNotFoundError as exc:
        raise ValidationError(f"CSV file not found: {path}") from exc
    except IsADirectoryError as exc:
        raise ValidationError(f"not a CSV file but a directory: {path}") from exc
    except pd.errors.EmptyDataError as exc:
        raise ValidationError(f"CSV file {path} is empty") from exc
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        first_line = str(exc).strip().splitlines()[0]
        raise ValidationError(f"CSV file {path} cannot be parsed: {first_line}") from exc


def read_bar_csv(path: Path, ticker: str) -> pd.DataFrame:
    """The file's bars for `ticker` as a BAR_COLUMNS frame (unvalidated, file order)."""
    raw = _read(path)
    raw.columns = [str(c).strip() for c in raw.columns]
    columns = set(raw.columns)
    if columns >= COURSE_COLUMNS:
        codes, dates, fmt = raw["code"], raw["date"], "%Y-%m-%d"
        frame = pd.DataFrame({"volume": raw["volume"], "pre_close": "", "amount": ""})
    elif columns >= PRO_COLUMNS:
        codes, dates, fmt = raw["ts_code"], raw["trade_date"], "%Y%m%d"
        frame = pd.DataFrame(
            {
                "volume": raw["vol"],
                "pre_close": raw.get("pre_close", ""),
                "amount": raw.get("amount", ""),
            }
        )
    else:
        raise ValidationError(
            f"CSV file {path}: unknown layout (columns {sorted(columns)}); expected the course "
            "layout ',date,open,close,high,low,volume,code' or tushare's daily layout "
            "'ts_code,trade_date,open,high,low,close,pre_close,change,pct_chg,vol,amount'"
        )
    for name in ("open", "high", "low", "close"):
        frame[name] = raw[name]
    if raw.empty:
        raise ValidationError(f"CSV file {path} has a header but no rows")

    file_tickers = _tickers_of(codes, path)
    if columns >= COURSE_COLUMNS and file_tickers.nunique() > 1:
        # get_k_data writes one ticker per file: several codes mean a damaged or merged file.
        held = ", ".join(sorted(set(file_tickers)))
        raise ValidationError(f"CSV file {path} holds {held}: the course layout has one ticker per file")
    if ticker not in set(file_tickers):
        held = ", ".join(sorted(set(file_tickers)))
        raise ValidationError(f"CSV file {path} holds {held}, not {ticker}")
    mask = (file_tickers == ticker).to_numpy()
    frame = frame.loc[mask].copy()
    frame["trade_date"] = _parse_dates(dates.loc[mask], fmt, path)
    for name in BAR_COLUMNS[1:]:
        # Unparsable numbers become NaN here and are refused by validation as non-finite.
        frame[name] = pd.to_numeric(frame[name].replace("", None), errors="coerce")
    return frame[BAR_COLUMNS].reset_index(drop=True)


def _tickers_of(codes: pd.Series, path: Path) -> pd.Series:
    try:
        return codes.map(lambda c: normalize_ticker(str(c).strip()))
    except ForecasterError as exc:
        raise ValidationError(f"CSV file {path}: {exc}") from exc


def _parse_dates(values: pd.Series, fmt: str, path: Path) -> pd.Series:
    parsed = pd.to_datetime(values.str.strip(), format=fmt, errors="coerce")
    bad = parsed.isna()
    if bad.any():
        first = int(bad.to_numpy().nonzero()[0][0])
        line = int(values.index[first]) + 2  # +1 for the header, +1 for 1-based lines
        raise ValidationError(
            f"CSV file {path}: {int(bad.sum())} unparsable date(s); first on line {line}: "
            f"{values.iloc[first]!r} (expected {_DATE_FORMATS[fmt]})"
        )
    return parsed.dt.normalize()
