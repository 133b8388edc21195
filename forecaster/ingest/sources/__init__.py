"""Where bars come from: a small `BarSource` protocol and the choice between sources."""

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Literal, Protocol

import pandas as pd

from forecaster.config import Settings
from forecaster.errors import ConfigError
from forecaster.market.calendar import TradingCalendar

# Columns of a fetched bar frame: trade_date (datetime64, day precision), prices unadjusted,
# volume in lots, amount in thousand CNY (NaN where the source has none), pre_close may be NaN.
BAR_COLUMNS = ["trade_date", "open", "high", "low", "close", "pre_close", "volume", "amount"]
FACTOR_COLUMNS = ["trade_date", "adj_factor"]

SourceKind = Literal["auto", "tushare", "csv"]


@dataclass
class Fetched:
    """What a source returned for one ticker: at least the bars in the asked range, ascending."""

    ticker: str
    source: str
    bars: pd.DataFrame
    factors: pd.DataFrame | None = None
    warnings: list[str] = field(default_factory=list)


class BarSource(Protocol):
    name: str
    # For people: where the bars come from, e.g. "CSV data/SH600519.csv".
    description: str

    def fetch(self, ticker: str, start: date | None, end: date, calendar: TradingCalendar | None = None) -> Fetched:
        """Bars of `ticker` from `start` (None: all the source has) to `end`, inclusive.

        May return more than asked (a CSV file returns all its rows for the ticker); the caller
        validates and trims. Raises `SourceError` when the source fails. `calendar` (None: the
        built-in one) says on which days a bar was due, for sources that check their answers.
        """
        ...


def make_source(kind: SourceKind, settings: Settings, csv_path: Path | None = None) -> BarSource:
    """The source to use; `auto` is tushare when a token is set, else the bundled CSV."""
    from forecaster.ingest.sources.csvfile import CsvSource
    from forecaster.ingest.sources.tushare_pro import TushareSource

    if kind == "csv" or (kind == "auto" and csv_path is not None):
        return CsvSource(csv_path or settings.bundled_csv)
    token = settings.token()
    if kind == "tushare":
        if token is None:
            raise ConfigError("no tushare token: set TUSHARE_TOKEN or FORECASTER_TUSHARE_TOKEN")
        return TushareSource.from_settings(settings)
    if token is not None:
        return TushareSource.from_settings(settings)
    source = CsvSource(settings.bundled_csv)
    source.description += " (no tushare token set)"
    return source
