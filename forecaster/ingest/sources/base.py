"""What every source hands back: the bar frame's columns, `Fetched`, and the `BarSource` protocol."""

from dataclasses import dataclass, field
from datetime import date
from typing import Literal, Protocol

import pandas as pd

from forecaster.market.calendar import TradingCalendar

# Columns of a fetched bar frame: trade_date (datetime64, day precision), prices unadjusted,
# volume in lots, amount in thousand CNY (NaN where the source has none), pre_close may be NaN.
BAR_COLUMNS = ["trade_date", "open", "high", "low", "close", "pre_close", "volume", "amount"]
FACTOR_COLUMNS = ["trade_date", "adj_factor"]
LIMIT_COLUMNS = ["trade_date", "up_limit", "down_limit"]  # the exchange's limit prices of a day

SourceKind = Literal["auto", "tushare", "csv"]


@dataclass
class Fetched:
    """What a source returned for one ticker: at least the bars in the asked range, ascending."""

    ticker: str
    source: str
    bars: pd.DataFrame
    factors: pd.DataFrame | None = None
    warnings: list[str] = field(default_factory=list)
    # What the source converted or derived, for the ingest summary (e.g. volume units).
    notes: list[str] = field(default_factory=list)
    limits: pd.DataFrame | None = None  # LIMIT_COLUMNS, where the source has the exchange's


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
