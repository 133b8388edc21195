"""Trading days: the built-in sources (exchange_calendars, then the estimate past its end), the
order in which sources win, the override file, and the coverage warning. No database here."""

from datetime import date, timedelta
from pathlib import Path

import pytest

import forecaster.market.calendar as cal
from forecaster.errors import ConfigError
from forecaster.market.builtin import estimated_sessions, xshg
from forecaster.market.calendar import Day, TradingCalendar, replaces
from forecaster.market.override import read_override


def test_known_holidays_and_weekends():
    assert cal.is_trading_day(date(2020, 4, 24))  # a Friday
    assert not cal.is_trading_day(date(2020, 4, 25))  # Saturday
    assert not cal.is_trading_day(date(2020, 1, 27))  # Spring Festival, a Monday
    assert cal.next_trading_days(date(2020, 1, 23), 1) == [date(2020, 2, 3)]


def test_the_estimate_agrees_with_exchange_calendars_day_for_day_where_both_exist():
    sessions, first, last = xshg()
    assert (first, last) == (date(2005, 1, 4), date(2026, 12, 31))
    mismatches = [
        day
        for year in range(first.year, last.year + 1)
        for day in (date(year, 1, 1) + timedelta(days=i) for i in range(366))
        if day.year == year and first <= day <= last and (day in sessions) != (day in estimated_sessions(year))
    ]
    assert mismatches == []


def test_past_2026_days_are_estimated_and_never_plain_weekdays():
    assert cal.BUILTIN.day(date(2026, 12, 31)) == Day(date(2026, 12, 31), True, "exchange_calendars")
    assert cal.BUILTIN.day(date(2027, 1, 1)) == Day(date(2027, 1, 1), False, "estimated")  # New Year, a Friday
    # The clock of the issue: 2027-02-04, the day before the Spring Festival closure.
    assert cal.next_trading_days(date(2027, 2, 4), 1) == [date(2027, 2, 12)]
    spring = [date(2027, 2, d) for d in (5, 8, 9, 10, 11)]
    national = [date(2027, 10, d) for d in (1, 4, 5, 6, 7)]
    assert not any(cal.is_trading_day(d) for d in spring + national)
    assert cal.trading_days(date(2027, 9, 30), date(2027, 10, 8)) == [date(2027, 9, 30), date(2027, 10, 8)]
    assert cal.BUILTIN.estimated_from() == date(2027, 1, 1)
    assert cal.BUILTIN.official_through() == date(2026, 12, 31)


def test_which_source_wins():
    day = date(2027, 2, 8)
    estimated, tushare = Day(day, False, "estimated"), Day(day, True, "tushare")
    override, bar = Day(day, False, "override"), Day(day, True, "observed")
    assert replaces(tushare, estimated) and not replaces(estimated, tushare)
    assert replaces(override, tushare) and not replaces(tushare, override)
    assert replaces(bar, override)  # reality wins, even over the file
    assert not replaces(override, bar)
    no_bar = Day(day, False, "observed")  # an estimated open day that passed without a bar
    assert replaces(no_bar, Day(day, True, "estimated")) and replaces(tushare, no_bar)
    assert not replaces(tushare, tushare)  # no change, no write


def test_calendar_days_override_the_built_in_ones():
    feb12 = date(2027, 2, 12)
    calendar = TradingCalendar([Day(feb12, False, "tushare")])
    assert calendar.next_trading_days(date(2027, 2, 4), 2) == [date(2027, 2, 15), date(2027, 2, 16)]
    assert calendar.is_estimated(date(2027, 2, 15)) and not calendar.is_estimated(feb12)
    # An estimated open day in the range is not enough to call an empty answer a failure.
    assert not calendar.has_official_open_day(date(2027, 2, 12), date(2027, 2, 15))
    assert calendar.has_official_open_day(date(2026, 12, 30), date(2027, 1, 4))


def test_the_coverage_warning_counts_trading_days_to_the_official_end():
    assert cal.BUILTIN.coverage_warning(date(2026, 11, 20)) is None  # 29 trading days left
    assert cal.BUILTIN.coverage_warning(date(2026, 12, 2)) is None  # 21 left
    warning = cal.BUILTIN.coverage_warning(date(2026, 12, 3))
    assert warning is not None and "ends 2026-12-31 (20 trading day(s) after 2026-12-03)" in warning
    assert "from 2027-01-01 are estimated" in warning
    official = TradingCalendar(Day(date(2027, 1, 1) + timedelta(days=i), True, "tushare") for i in range(365))
    assert official.official_through() == date(2027, 12, 31)
    assert official.coverage_warning(date(2027, 1, 5)) is None


def test_the_override_file(tmp_path: Path):
    path = tmp_path / "days.csv"
    path.write_text("date,open\n2027-02-12,0\n\n2027-02-13,1\n")
    assert read_override(path) == [Day(date(2027, 2, 12), False, "override"), Day(date(2027, 2, 13), True, "override")]
    for text, message in [
        ("day,open\n", "the first line must be the header `date,open`"),
        ("date,open\n2027-02-30,0\n", "line 2: '2027-02-30' is not a date"),
        ("date,open\n2027-02-12,maybe\n", "line 2: open must be 1 or 0"),
        ("date,open\n2027-02-12,1\n2027-02-12,0\n", "line 3: 2027-02-12 is listed twice"),
    ]:
        path.write_text(text)
        with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
            read_override(path)
    with pytest.raises(ConfigError, match="cannot read the calendar file"):
        read_override(tmp_path / "missing.csv")
