"""Bars from CSV: one file (one ticker or several) or a directory of them, in the layouts of
`csvlayouts` (the course file, tushare's `daily`, Chinese-header exports)."""

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from forecaster.errors import ValidationError
from forecaster.ingest.sources.base import Fetched
from forecaster.ingest.sources.csvlayouts import (
    Table,
    VolumeUnit,
    bars_of,
    ex_dates,
    factors_from_pre_close,
    read_table,
    table_tickers,
)
from forecaster.market.calendar import TradingCalendar
from forecaster.market.tickers import ticker_in_name

# A file read is kept while the file is unchanged (size, mtime): a file of many tickers is read
# once per ingest, not once per ticker.
_Stamp = tuple[int, int]


@dataclass
class _Read:
    stamp: _Stamp
    table: Table
    tickers: pd.Series


class CsvSource:
    name = "csv"

    def __init__(self, path: Path, volume_unit: VolumeUnit = "auto") -> None:
        self.path = path
        self.volume_unit = volume_unit
        self.description = f"CSV {'directory ' if path.is_dir() else ''}{path}"
        self._reads: dict[Path, _Read] = {}

    def fetch(self, ticker: str, start: date | None, end: date, calendar: TradingCalendar | None = None) -> Fetched:
        # The whole file is returned: validation must see every row (a duplicate outside the
        # asked range is still a broken file), and the ingest step trims.
        read = self._read(self._file_of(ticker))
        bars, notes = _bars_for(read, ticker, self.volume_unit)
        factors = factors_from_pre_close(bars)
        if factors is not None:
            notes.append(f"adj factors from the previous close ({ex_dates(factors)} ex-date(s))")
        return Fetched(ticker=ticker, source=self.name, bars=bars, factors=factors, notes=notes)

    def _read(self, path: Path) -> _Read:
        try:
            stat = path.stat()
        except FileNotFoundError as exc:
            raise ValidationError(f"CSV file not found: {path}") from exc
        stamp = (stat.st_size, stat.st_mtime_ns)
        kept = self._reads.get(path)
        if kept is None or kept.stamp != stamp:
            table = read_table(path)
            kept = self._reads[path] = _Read(stamp, table, table_tickers(table))
        return kept

    def _file_of(self, ticker: str) -> Path:
        """The file holding `ticker`: the path itself, or in a directory the file whose name
        spells the code, else the files whose code column holds it."""
        if not self.path.is_dir():
            return self.path
        files = sorted(p for p in self.path.iterdir() if p.is_file() and p.suffix.lower() == ".csv")
        named = [p for p in files if ticker_in_name(p.name) == ticker]
        if not named:
            unnamed = [p for p in files if ticker_in_name(p.name) is None]
            named = [p for p in unnamed if ticker in set(self._read(p).tickers)]
        if len(named) > 1:
            raise ValidationError(f"CSV directory {self.path}: {ticker} is in several files: {_names(named)}")
        if not named:
            raise ValidationError(
                f"CSV directory {self.path} has no file for {ticker} (by name, e.g. "
                f"{ticker[-2:].lower()}{ticker[:6]}.csv or {ticker}.csv, or by a code column)"
            )
        return named[0]


def _names(paths: list[Path]) -> str:
    return ", ".join(p.name for p in paths)


def _bars_for(read: _Read, ticker: str, volume_unit: VolumeUnit) -> tuple[pd.DataFrame, list[str]]:
    table, tickers = read.table, read.tickers
    held = ", ".join(sorted(set(tickers)))
    if table.layout.one_ticker and tickers.nunique() > 1:
        # get_k_data writes one ticker per file: several codes mean a damaged or merged file.
        raise ValidationError(f"CSV file {table.path} holds {held}: the course layout has one ticker per file")
    mask = (tickers == ticker).to_numpy()
    if not np.any(mask):
        raise ValidationError(f"CSV file {table.path} holds {held}, not {ticker}")
    return bars_of(table, mask, volume_unit)


def read_bar_csv(path: Path, ticker: str, volume_unit: VolumeUnit = "auto") -> pd.DataFrame:
    """The file's bars for `ticker` as a BAR_COLUMNS frame (unvalidated, file order)."""
    table = read_table(path)
    return _bars_for(_Read((0, 0), table, table_tickers(table)), ticker, volume_unit)[0]
