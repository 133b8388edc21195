"""A-share daily price limits (pure): the percentage a board allows from the previous close,
rounded to 0.01 yuan half-up as the exchanges round them.

Each rule is a schedule of (first day, percentage) steps, so a change the exchanges announce is
one more step. docs/data.md states the rules and where each comes from.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from forecaster.market.dated import Schedule, rate_on

CHINEXT_20PCT_FROM = date(2020, 8, 24)  # ChiNext's registration reform widened its limit to 20 %
_ALWAYS = date(1990, 1, 1)
MAIN_BOARD: Schedule = ((_ALWAYS, 0.10),)
MAIN_BOARD_ST: Schedule = ((_ALWAYS, 0.05),)  # ST and *ST on the main board
CHINEXT: Schedule = ((_ALWAYS, 0.10), (CHINEXT_20PCT_FROM, 0.20))
STAR: Schedule = ((_ALWAYS, 0.20),)
BEIJING: Schedule = ((_ALWAYS, 0.30),)
# A new listing's first trading days without a limit. The main board had one (its first-day
# band, +44 %/-36 % of the IPO price, is not modelled: the IPO price is not stored) until the
# registration reform gave it the 5 days of the other boards, from 2023-04-10.
MAIN_BOARD_FREE_DAYS: Schedule = ((_ALWAYS, 1), (date(2023, 4, 10), 5))
OTHER_FREE_DAYS = 5


ST_PREFIXES = ("ST", "*ST", "S*ST", "SST")  # the name prefixes the exchanges give ST stocks


def is_st(name: str | None) -> bool:
    return bool(name) and str(name).upper().lstrip().startswith(ST_PREFIXES)


NameSpan = tuple[date, date | None, str]  # a name's first day, last day (None: still so), name


def st_on(day: date, spans: Sequence[NameSpan] | None, name: str | None) -> bool:
    """Was the stock ST on `day`: by the name it had then where its names over time are known
    (`spans`, tushare namechange), else by its current `name`."""
    if not spans:
        return is_st(name)
    return any(is_st(n) for start, end, n in spans if start <= day and (end is None or day <= end))


def board_of(ticker: str) -> str:
    """`main`, `chinext`, `star` or `beijing`, from the code (the boards' code ranges)."""
    code = ticker.split(".")[0]
    if ticker.endswith(".BJ"):
        return "beijing"
    if code.startswith(("688", "689")):
        return "star"
    if code.startswith(("300", "301")):
        return "chinext"
    return "main"


def limit_pct(ticker: str, day: date, st: bool = False) -> float:
    """The daily price limit of `ticker` on `day` after its first days; `st`: an ST or *ST
    stock, whose lower limit applies on the main board only (elsewhere the board's)."""
    board = board_of(ticker)
    if board == "main":
        return rate_on(MAIN_BOARD_ST if st else MAIN_BOARD, day)
    return rate_on({"chinext": CHINEXT, "star": STAR, "beijing": BEIJING}[board], day)


def free_days(ticker: str, day: date) -> int:
    """How many first trading days of a listing on `ticker`'s board trade without a limit."""
    return int(rate_on(MAIN_BOARD_FREE_DAYS, day)) if board_of(ticker) == "main" else OTHER_FREE_DAYS


def day_limit_pct(
    ticker: str, day: date, *, st: bool = False, index: bool = False, day_of_listing: int | None = None
) -> float | None:
    """The limit on `day`, None where there is none: an index, or a listing's first days
    (`day_of_listing` 1 is its first trading day; None: listed long before)."""
    if index or (day_of_listing is not None and day_of_listing <= free_days(ticker, day)):
        return None
    return limit_pct(ticker, day, st)


RATES = sorted({rate for rule in (MAIN_BOARD, MAIN_BOARD_ST, CHINEXT, STAR, BEIJING) for _, rate in rule})


def rate_of(prev_close: float, band: tuple[float, float]) -> float:
    """The limit rate the exchange applied on a day, from its (down, up) limit prices and the
    previous close: the nearest of the boards' rates (the prices are rounded to the cent, so at a
    low price the plain ratio is off by up to half a cent over the price)."""
    ratio = (band[1] - band[0]) / (2 * prev_close)
    return min(RATES, key=lambda rate: abs(rate - ratio))


def _cents(value: Decimal) -> float:
    return float(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def limit_prices(prev_close: float, pct: float) -> tuple[float, float]:
    """(limit-down, limit-up) from the previous close, rounded to 0.01 half-up."""
    prev, step = Decimal(str(prev_close)), Decimal(str(pct))
    return _cents(prev * (1 - step)), _cents(prev * (1 + step))


Band = tuple[float, float] | None  # (down, up) limit prices; None: no limit


@dataclass(frozen=True)
class PriceLimits:
    """The limits of the days a forecast targets: the last close and each target day's limit."""

    last_close: float
    pcts: tuple[float | None, ...]  # per horizon; None: no limit that day
    # The first target day's (down, up) limit prices as the exchange set them, where known
    # (tushare stk_limit); they replace that day's rule, and later days compound from them.
    first: tuple[float, float] | None = None

    def bands(self) -> list[Band]:
        """(down, up) per horizon: the day's limits for horizon 1; for h > 1 the limits compounded
        from the last close, (1 - p1)...(1 - ph) and (1 + p1)...(1 + ph), rounded to the cent —
        the furthest a price can go in h limit moves. None from the first day without a limit."""
        down = up = Decimal(str(self.last_close))
        bands: list[Band] = []
        for h, pct in enumerate(self.pcts):
            if h == 0 and self.first is not None:
                down, up = Decimal(str(self.first[0])), Decimal(str(self.first[1]))
            elif pct is None or (bands and bands[-1] is None):
                bands.append(None)
                continue
            else:
                down, up = down * (1 - Decimal(str(pct))), up * (1 + Decimal(str(pct)))
            bands.append((_cents(down), _cents(up)))
        return bands


def clip_to(values: Sequence[float], band: Band) -> list[float]:
    """`values` held inside `band`: a value beyond a limit sits at the limit."""
    return list(values) if band is None else [min(max(v, band[0]), band[1]) for v in values]
