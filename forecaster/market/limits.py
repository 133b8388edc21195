"""A-share daily price limits (pure): the board's percentage of the previous close,
rounded to 0.01 yuan half-up as the exchanges round them; ST stocks (±5 %) are not known here.
"""

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

CHINEXT_20PCT_FROM = date(2020, 8, 24)  # ChiNext's registration reform widened its limit to 20 %


def limit_pct(ticker: str, day: date) -> float:
    """The daily price limit of `ticker`'s board on `day` (ST status unknown: not applied)."""
    code = ticker.split(".")[0]
    if ticker.endswith(".BJ"):
        return 0.30
    if code.startswith("688"):
        return 0.20
    if code.startswith(("300", "301")) and day >= CHINEXT_20PCT_FROM:
        return 0.20
    return 0.10


def limit_prices(prev_close: float, pct: float) -> tuple[float, float]:
    """(limit-down, limit-up) from the previous close, rounded to 0.01 half-up."""

    def cents(value: Decimal) -> float:
        return float(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))

    prev, step = Decimal(str(prev_close)), Decimal(str(pct))
    return cents(prev * (1 - step)), cents(prev * (1 + step))
