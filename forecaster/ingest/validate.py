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
    problems: list[str] = []
    dates = bars["trade_date"]
    if dates.isna().any():
        problems.append(f"{int(dates.isna().sum())} row(s) without a valid date")
    dup = dates[dates.duplicated(keep=False) & dates.notna()]
    if not dup.empty:
        problems.append(f"duplicate dates: {_list(dup.drop_duplicates())}")

    prices = bars[PRICES].to_numpy(dtype="float64")
    bad_price = ~np.isfinite(prices).all(axis=1) | (prices <= 0).any(axis=1)
    if bad_price.any():
        problems.append(f"non-positive or non-finite prices on {_list(dates[bad_price])}")
    ok = ~bad_price
    o, h, lo, c = (bars[p].to_numpy(dtype="float64") for p in PRICES)
    high_bad = ok & (h < np.maximum(o, c) - _EPS)
    if high_bad.any():
        problems.append(f"high below max(open, close) on {_list(dates[high_bad])}")
    low_bad = ok & (lo > np.minimum(o, c) + _EPS)
    if low_bad.any():
        problems.append(f"low above min(open, close) on {_list(dates[low_bad])}")

    volume = bars["volume"].to_numpy(dtype="float64")
    vol_bad = ~np.isfinite(volume) | (volume < 0)
    if vol_bad.any():
        problems.append(f"negative or missing volume on {_list(dates[vol_bad])}")
    for optional in ("pre_close", "amount"):
        values = bars[optional].to_numpy(dtype="float64")
        bad = ~np.isnan(values) & (~np.isfinite(values) | (values < 0))
        if bad.any():
            problems.append(f"bad {optional} on {_list(dates[bad])}")

    future = dates.notna() & (dates.dt.date > today)
    if future.any():
        problems.append(f"dates in the future (today is {today}): {_list(dates[future])}")

    if problems:
        raise ValidationError(f"{ticker}: refused {len(bars)} bar(s): " + "; ".join(problems))
    return [d for d in (ts.date() for ts in dates) if not calendar.is_open(d)]


def _list(dates: pd.Series, most: int = 3) -> str:
    shown = [ts.date().isoformat() if isinstance(ts, pd.Timestamp) else str(ts) for ts in dates[:most]]
    more = len(dates) - len(shown)
    return ", ".join(shown) + (f" (+{more} more)" if more > 0 else "")
