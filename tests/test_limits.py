"""The A-share price-limit rules: each board, ST, a listing's first days, indexes, the bands of
later horizons."""

from datetime import date

import pytest

from forecaster.market.limits import PriceLimits, board_of, clip_to, day_limit_pct, limit_pct, limit_prices

DAY = date(2024, 6, 3)


@pytest.mark.parametrize(
    ("ticker", "board", "pct"),
    [
        ("600519.SH", "main", 0.10),
        ("000001.SZ", "main", 0.10),
        ("300750.SZ", "chinext", 0.20),
        ("301001.SZ", "chinext", 0.20),
        ("688981.SH", "star", 0.20),
        ("689009.SH", "star", 0.20),
        ("830799.BJ", "beijing", 0.30),
        ("430047.BJ", "beijing", 0.30),
    ],
)
def test_each_board_has_its_limit(ticker: str, board: str, pct: float) -> None:
    assert board_of(ticker) == board
    assert limit_pct(ticker, DAY) == pct
    assert day_limit_pct(ticker, DAY) == pct


def test_chinext_was_10_pct_before_its_reform() -> None:
    assert limit_pct("300750.SZ", date(2020, 8, 21)) == 0.10
    assert limit_pct("300750.SZ", date(2020, 8, 24)) == 0.20


def test_st_is_5_pct_on_the_main_board_only() -> None:
    assert limit_pct("600001.SH", DAY, st=True) == 0.05
    assert limit_pct("000004.SZ", DAY, st=True) == 0.05
    assert limit_pct("300001.SZ", DAY, st=True) == 0.20  # ChiNext ST: the board's limit
    assert limit_prices(5.76, 0.05) == (5.47, 6.05)  # 5.472 -> 5.47, 6.048 -> 6.05


def test_first_days_have_no_limit() -> None:
    for ticker in ("300999.SZ", "688999.SH", "830999.BJ"):
        assert [day_limit_pct(ticker, DAY, day_of_listing=n) for n in (1, 5, 6)] == [None, None, limit_pct(ticker, DAY)]
    # The main board: its first day before the registration reform, its first 5 days after.
    old = date(2022, 6, 1)
    assert [day_limit_pct("600999.SH", old, day_of_listing=n) for n in (1, 2)] == [None, 0.10]
    assert [day_limit_pct("600999.SH", DAY, day_of_listing=n) for n in (5, 6)] == [None, 0.10]


def test_an_index_has_no_limit() -> None:
    assert day_limit_pct("000300.SH", DAY, index=True) is None


def test_bands_compound_the_limits_over_the_horizons() -> None:
    bands = PriceLimits(10.0, (0.05, 0.05, None, 0.05)).bands()
    assert bands[0] == (9.5, 10.5)
    assert bands[1] == (9.03, 11.03)  # 10 * 0.95^2 = 9.025 -> 9.03, 10 * 1.05^2 = 11.025 -> 11.03
    assert bands[2:] == [None, None]  # from a day without a limit on, none after it either
    assert clip_to([9.0, 10.0, 11.0], bands[0]) == [9.5, 10.0, 10.5]
    assert clip_to([9.0], None) == [9.0]
