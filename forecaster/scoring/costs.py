"""What a trade costs on an A-share exchange on a given day (pure).

The rates change by date, so each is a schedule of (first day, rate) steps; docs/models.md
cites where each rate comes from. The day's price limits are in forecaster/market/limits.py.
"""

from dataclasses import dataclass
from datetime import date

from forecaster.market.dated import Schedule, rate_on

# Transfer fee (CSDC), a share of the value, each side: 0.02 per mille since the fee was unified
# by value on 2015-08-01 (applied to older days too: before it Shanghai charged by share count
# and Shenzhen nothing), halved to 0.01 per mille from 2022-04-29.
TRANSFER_FEE: Schedule = ((date(1990, 1, 1), 0.00002), (date(2022, 4, 29), 0.00001))
# Stamp duty, sells only (since 2008-09-19): 0.1 %, halved to 0.05 % from 2023-08-28.
STAMP_DUTY: Schedule = ((date(1990, 1, 1), 0.001), (date(2023, 8, 28), 0.0005))


@dataclass(frozen=True)
class Costs:
    """A side's costs: commission (a share of the value, at least `commission_min` yuan), the
    transfer fee by date, stamp duty by date on sells, and slippage in basis points."""

    commission: float = 0.00025
    commission_min: float = 5.0
    slippage_bps: float = 0.0
    transfer_fee: Schedule = TRANSFER_FEE
    stamp_duty: Schedule = STAMP_DUTY

    def buy(self, value: float, day: date) -> float:
        """Yuan paid on top of a buy of `value` yuan on `day`."""
        commission = max(self.commission * value, self.commission_min)
        return commission + (rate_on(self.transfer_fee, day) + self.slippage_bps / 10_000) * value

    def sell(self, value: float, day: date) -> float:
        """Yuan taken from the proceeds of a sell of `value` yuan on `day`."""
        return self.buy(value, day) + rate_on(self.stamp_duty, day) * value

    def round_trip(self, value: float, day: date) -> float:
        """A buy and a sell of `value` on `day`'s rates, as a share of `value`."""
        return (self.buy(value, day) + self.sell(value, day)) / value

    def rates_on(self, day: date) -> dict[str, float]:
        """The rates in force on `day`, for the run to say which applied."""
        return {
            "commission": self.commission,
            "commission_min": self.commission_min,
            "transfer_fee": rate_on(self.transfer_fee, day),
            "stamp_duty": rate_on(self.stamp_duty, day),
            "slippage_bps": self.slippage_bps,
        }

    def periods(self, first: date, last: date) -> list[tuple[date, dict[str, float]]]:
        """The rates in force from `first` and from each change of rate up to `last`."""
        changes = {start for start, _ in (*self.transfer_fee, *self.stamp_duty) if first < start <= last}
        return [(day, self.rates_on(day)) for day in sorted({first, *changes})]
