"""Checks on a batch of bars before anything is written. One bad row refuses the batch."""

from datetime import date

import numpy as np
import pandas as pd

from forecaster.errors import ValidationError
from forecaster.market.calendar import TradingCalendar

PRICES = ["open", "high", "low", "close"]
# Prices are given to 2-3 decimals; this only absorbs float noise in high/low checks.
_EPS = 1e-6


def validate_bars(bars: pd.DataFrame, ticker: str, today: date, calendar: TradingCalendar) -> list[date]:
    """Refuse the batch on the first kind of problem found; return dates on closed days.

    Bars on days the calendar says were closed are not refused (calendars have errors, and
    exchanges open on odd days), only reported, so the ingest log can flag them.
    """
    dates = bars["trade_date"]
    problems = _date_problems(dates)
    problems += [f"{what} on {_list(dates[mask])}" for mask, what in _row_checks(bars) if mask.any()]
    future = dates.notna() & (dates.dt.date > today)
    if future.any():
        problems.append(f"dates in the future (today is {today}): {_list(dates[future])}")
    if problems:
        raise ValidationError(f"{ticker}: refused {len(bars)} bar(s): " + "; ".join(problems))
    return [d for d in (ts.date() for ts in dates) if not calendar.is_open(d)]


def _date_problems(dates: pd.Series) -> list[str]:
    problems = []
    if dates.isna().any():
        problems.append(f"{int(dates.isna().sum())} row(s) without a valid date")
    dup = dates[dates.duplicated(keep=False) & dates.notna()]
    if not dup.empty:
        problems.append(f"duplicate dates: {_list(dup.drop_duplicates())}")
    return problems


def _row_checks(bars: pd.DataFrame) -> list[tuple[np.ndarray, str]]:
    """(rows that fail, what fails) for each per-row check, in the order they are reported."""
    prices = bars[PRICES].to_numpy(dtype="float64")
    bad_price = ~np.isfinite(prices).all(axis=1) | (prices <= 0).any(axis=1)
    ok = ~bad_price  # the OHLC relations are only checked on rows whose prices are valid
    o, h, lo, c = (bars[p].to_numpy(dtype="float64") for p in PRICES)
    volume = bars["volume"].to_numpy(dtype="float64")
    checks = [
        (bad_price, "non-positive or non-finite prices"),
        (ok & (h < np.maximum(o, c) - _EPS), "high below max(open, close)"),
        (ok & (lo > np.minimum(o, c) + _EPS), "low above min(open, close)"),
        (~np.isfinite(volume) | (volume < 0), "negative or missing volume"),
    ]
    for optional in ("pre_close", "amount"):
        values = bars[optional].to_numpy(dtype="float64")
        checks.append((~np.isnan(values) & (~np.isfinite(values) | (values < 0)), f"bad {optional}"))
    return checks


def _list(dates: pd.Series, most: int = 3) -> str:
    shown = [ts.date().isoformat() if isinstance(ts, pd.Timestamp) else str(ts) for ts in dates[:most]]
    more = len(dates) - len(shown)
    return ", ".join(shown) + (f" (+{more} more)" if more > 0 else "")
