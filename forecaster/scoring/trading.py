"""A long/flat account traded on A-share rules, day by day (pure: arrays in, an equity curve out).

Orders say "be long" or "be flat" from a day on; each is filled at that day's fill price (the
open or the close) unless a rule forbids it, and then retried at each later fill until it goes
through or another order replaces it: no buy at or above the limit-up price, no sell at or below
the limit-down price, and T+1 (shares bought on a day cannot be sold that day). The whole account
goes in or out (fractional shares: board lots are not modelled). The account is marked at each
day's close; nothing is sold at the end.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np

from forecaster.model.windows import FloatArray
from forecaster.scoring.costs import Costs


@dataclass(frozen=True)
class Market:
    """One ticker's trading days: the price each fill gets, the close, and the limit prices."""

    days: Sequence[date]
    fill: FloatArray
    close: FloatArray
    down: FloatArray
    up: FloatArray


@dataclass
class Account:
    cash: float
    shares: float = 0.0
    bought_on: int = -1  # index of the day of the last buy (T+1)
    costs: float = 0.0  # yuan paid in costs so far
    round_trips: int = 0  # sells completed
    equity: list[float] = field(default_factory=list)
    long: list[bool] = field(default_factory=list)

    def reconcile(self, want_long: bool, i: int, market: Market, costs: Costs) -> None:
        """Trade towards `want_long` at day i's fill price, where the rules allow it."""
        price, day = float(market.fill[i]), market.days[i]
        if want_long and self.shares == 0 and price < market.up[i]:
            fee = costs.buy(self.cash, day)  # commission on the whole cash: a hair high, on the safe side
            self.shares, self.cash, self.bought_on = (self.cash - fee) / price, 0.0, i
            self.costs += fee
        elif not want_long and self.shares > 0 and self.bought_on != i and price > market.down[i]:
            value = self.shares * price
            fee = costs.sell(value, day)
            self.cash, self.shares = value - fee, 0.0
            self.costs += fee
            self.round_trips += 1

    def mark(self, close: float) -> None:
        self.equity.append(self.cash + self.shares * close)
        self.long.append(self.shares > 0)


def simulate(market: Market, orders: Sequence[tuple[int, bool]], costs: Costs, notional: float) -> Account:
    """The account after `orders` ((day index, want long), in time order; several may share a
    day) on `market`, starting flat with `notional` yuan."""
    account = Account(cash=notional)
    want, pending = False, list(orders)
    for i in range(len(market.days)):
        account.reconcile(want, i, market, costs)  # an order a limit or T+1 held back, retried
        while pending and pending[0][0] == i:
            want = pending.pop(0)[1]
            account.reconcile(want, i, market, costs)
        account.mark(float(market.close[i]))
    return account


def equity_array(account: Account) -> FloatArray:
    return np.asarray(account.equity, dtype=np.float64)
