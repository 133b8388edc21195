"""The backtest's rules on small hand-made series, each right answer worked out by hand here."""

from dataclasses import replace
from datetime import date

import numpy as np
import pandas as pd
import pytest

from forecaster.market.limits import limit_pct, limit_prices
from forecaster.scoring.backtest import Backtest, Plan, first_per_ticker, p_rise, pooled_curves, signals
from forecaster.scoring.costs import Costs
from forecaster.scoring.ic import ic_rows
from forecaster.scoring.performance import curve_stats, max_drawdown, wilson
from forecaster.scoring.trading import Market, simulate

FREE = Costs(commission=0.0, commission_min=0.0, transfer_fee=((date(1990, 1, 1), 0.0),),
             stamp_duty=((date(1990, 1, 1), 0.0),))  # fmt: skip
DAYS = [date(2023, 8, 24), date(2023, 8, 25), date(2023, 8, 28)]


def market(fill: list[float], close: list[float], prev: float = 10.0, pct: float = 0.10) -> Market:
    prevs = [prev, *close[:-1]]
    limits = [limit_prices(p, pct) for p in prevs]
    return Market(DAYS[: len(fill)], np.array(fill), np.array(close),
                  np.array([lo for lo, _ in limits]), np.array([hi for _, hi in limits]))  # fmt: skip


def test_commission_has_a_five_yuan_minimum() -> None:
    # 0.025 % of 10,000 is 2.5 yuan: the minimum 5 applies; transfer fee 0.001 % is 0.10.
    assert Costs().buy(10_000, date(2023, 1, 3)) == pytest.approx(5.0 + 0.10)
    # 0.025 % of 100,000 is 25 yuan, above the minimum; transfer fee 0.002 % before 2022-04-29.
    assert Costs().buy(100_000, date(2022, 4, 28)) == pytest.approx(25.0 + 2.0)
    assert Costs().buy(100_000, date(2022, 4, 29)) == pytest.approx(25.0 + 1.0)


def test_stamp_duty_halves_on_2023_08_28() -> None:
    # 100,000 sold: commission 25 + transfer 1 + stamp 100 (0.1 %) the day before, 50 (0.05 %) on the day.
    assert Costs().sell(100_000, date(2023, 8, 25)) == pytest.approx(126.0)
    assert Costs().sell(100_000, date(2023, 8, 28)) == pytest.approx(76.0)
    assert [d for d, _ in Costs().periods(date(2023, 8, 1), date(2023, 9, 1))] == [date(2023, 8, 1), date(2023, 8, 28)]


def test_slippage_is_charged_on_each_side() -> None:
    assert Costs(slippage_bps=10).buy(100_000, date(2023, 1, 3)) == pytest.approx(25.0 + 1.0 + 100.0)


def test_limit_prices_round_half_up_to_the_cent() -> None:
    assert limit_prices(10.05, 0.10) == (9.05, 11.06)  # 9.045 -> 9.05 and 11.055 -> 11.06
    assert limit_prices(20.0, 0.20) == (16.0, 24.0)


def test_board_limits() -> None:
    assert limit_pct("600519.SH", date(2023, 1, 3)) == 0.10
    assert limit_pct("688981.SH", date(2020, 1, 3)) == 0.20
    assert limit_pct("300750.SZ", date(2020, 8, 21)) == 0.10  # ChiNext before its reform
    assert limit_pct("300750.SZ", date(2020, 8, 24)) == 0.20
    assert limit_pct("830799.BJ", date(2023, 1, 3)) == 0.30


def test_t_plus_one_holds_a_sell_to_the_next_day() -> None:
    # Bought at day 0's open (10) with 10,000: 1,000 shares. A sell asked the same day waits for day 1's open (12).
    account = simulate(market([10.0, 12.0, 13.0], [11.0, 12.5, 13.0]), [(0, True), (0, False)], FREE, 10_000)
    assert account.equity == pytest.approx([11_000.0, 12_000.0, 12_000.0])
    assert account.long == [True, False, False]
    assert account.round_trips == 1


def test_no_buy_at_limit_up_open() -> None:
    # Previous close 10: limit-up 11.00. Day 0 opens at 11.00: no fill; day 1 opens at 11.5 (limit 12.10): bought.
    account = simulate(market([11.0, 11.5, 12.0], [11.0, 11.5, 12.0]), [(0, True)], FREE, 10_000)
    assert account.long == [False, True, True]
    assert account.equity == pytest.approx([10_000.0, 10_000.0, 10_000 / 11.5 * 12.0])


def test_no_sell_at_limit_down_open() -> None:
    # Bought at 10 on day 0 (close 10): day 1 opens at limit-down 9.00, the sell waits to day 2's open 8.5.
    account = simulate(market([10.0, 9.0, 8.5], [10.0, 9.0, 8.0]), [(0, True), (1, False)], FREE, 10_000)
    assert account.long == [True, True, False]
    assert account.equity == pytest.approx([10_000.0, 9_000.0, 8_500.0])


def test_costs_of_a_round_trip_across_the_stamp_duty_change() -> None:
    account = simulate(market([10.0, 10.5, 11.0], [10.0, 10.5, 11.0]), [(1, True), (2, False)], Costs(), 10_000)
    shares = (10_000 - 5.10) / 10.5  # bought 2023-08-25 at 10.5
    value = shares * 11.0  # sold 2023-08-28: commission 5 (minimum), transfer 0.001 %, stamp 0.05 %
    assert account.equity[-1] == pytest.approx(value - 5.0 - value * (0.00001 + 0.0005))
    assert account.costs == pytest.approx(5.10 + 5.0 + value * 0.00051)


LEVELS_Q = [90.0, 92.0, 95.0, 98.0, 100.0, 102.0, 105.0, 108.0, 110.0]  # q025 .. q975


def test_p_rise_interpolates_the_cdf_at_the_last_close() -> None:
    q = np.array([LEVELS_Q, LEVELS_Q, LEVELS_Q])
    # 101 is halfway between q500 (100) and q750 (102): F = 0.625; 80 is below q025: F clamps to 0.025.
    assert p_rise(q, np.array([101.0, 100.0, 80.0])) == pytest.approx([0.375, 0.5, 0.975])


def rows(last: list[float], median: list[float], lo80: list[float]) -> pd.DataFrame:
    frame = pd.DataFrame({"last_close": last, "yhat": median, "lo80": lo80, "target_date": [DAYS[0]] * len(last)})
    names = ["q025", "q050", "q100", "q250", "q500", "q750", "q900", "q950", "q975"]
    for name, value in zip(names, LEVELS_Q, strict=True):
        frame[name] = value
    frame["q500"] = median
    return frame


def test_each_rule_on_hand_made_forecasts() -> None:
    # Round trip at 100,000 on 2023-08-24: 2 x (0.025 % + 0.001 %) + 0.1 % stamp = 0.152 %.
    assert Costs().round_trip(100_000, DAYS[0]) == pytest.approx(0.00152)
    frame = rows(last=[100.0, 100.0, 97.0], median=[100.2, 100.1, 100.0], lo80=[99.0, 99.0, 98.0])
    assert list(signals(frame, "median", Plan())) == [1.0, 0.0, 1.0]  # +0.2 % and +3.1 % beat 0.152 %
    # P(rise) at 100 is 0.5 (flat), at 97 it is 1 - (0.25 - 0.15 * 1/3) = 0.80 (long).
    assert list(signals(frame, "prob", Plan())) == [0.0, 0.0, 1.0]
    assert list(signals(frame, "cautious", Plan())) == [0.0, 0.0, 1.0]  # lo80 98 > 97


def test_wilson_interval_and_curve_stats() -> None:
    lo, hi = wilson(5, 10)  # (0.5 + 0.19208) / 1.38415 -/+ 1.96 * sqrt(0.025 + 0.009604) / 1.38415
    assert (lo, hi) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    equity = np.array([110.0, 99.0, 108.9])  # +10 %, -10 %, +10 %
    stats = curve_stats(equity, 100.0)
    assert stats["total_return"] == pytest.approx(0.089)
    assert stats["annual_return"] == pytest.approx(1.089 ** (252 / 3) - 1)
    assert stats["sharpe"] == pytest.approx((0.1 / 3) / np.std([0.1, -0.1, 0.1], ddof=1) * np.sqrt(252))
    assert max_drawdown(equity) == pytest.approx(-0.1)


def test_ic_needs_five_tickers_and_ranks_them() -> None:
    tickers = ["A", "B", "C", "D", "E"]
    frame = pd.DataFrame({
        "ticker": tickers * 2, "model": "gru", "horizon": 1, "as_of": [DAYS[0]] * 5 + [DAYS[1]] * 5,
        "last_close": 100.0, "yhat": [101.0, 102, 103, 104, 105] * 2,
        "actual": [100.5, 101, 102, 103, 110, 104.0, 103, 102, 101, 100],
    })  # fmt: skip
    (row,) = ic_rows(frame)
    assert row["days"] == 2
    assert row["rank_ic"] == pytest.approx(0.0)  # +1 on the first day, -1 on the second
    assert row["rank_ic_positive"] == pytest.approx(0.5)
    assert ic_rows(frame[frame["ticker"] != "E"]) == []  # four tickers: no IC


def test_accounts_pooled_from_each_ones_first_day_holding_the_last_equity_after_its_last() -> None:
    days = pd.DatetimeIndex(["2024-01-02", "2024-01-03", "2024-01-04"])
    # a: 100 -> 110 -> 121 over all three days; b (notional 50) joins on day 2 and stops after it.
    a = Backtest("A", "gru", [], {"median": pd.Series([100.0, 110.0, 121.0], index=days)}, 100.0)
    b = Backtest("B", "gru", [], {"median": pd.Series([40.0], index=days[1:2])}, 50.0)
    curve = pooled_curves([a, b])["median"]
    # day 1: 100 / 100; day 2: (110 + 40) / 150; day 3: b holds 40: (121 + 40) / 150
    assert curve.tolist() == pytest.approx([1.0, 1.0, 161 / 150])
    assert pooled_curves([a])["median"].tolist() == pytest.approx([1.0, 1.1, 1.21])
    assert first_per_ticker([a, replace(a, model="rnn"), b]) == [a, b]
