"""Trading days: the XSHG calendar, and the weekday fallback past its end."""

import logging
from datetime import date

import forecaster.market.calendar as cal


def test_known_holidays_and_weekends():
    assert cal.is_trading_day(date(2020, 4, 24))  # a Friday
    assert not cal.is_trading_day(date(2020, 4, 25))  # Saturday
    assert not cal.is_trading_day(date(2020, 1, 27))  # Spring Festival, a Monday
    assert cal.next_trading_days(date(2020, 1, 23), 1) == [date(2020, 2, 3)]


def test_past_the_calendar_end_weekdays_are_used_with_one_warning(caplog, monkeypatch):
    monkeypatch.setattr(cal, "_warned_past_end", False)
    _, last = cal.calendar_bounds()
    assert last == date(2026, 12, 31)
    caplog.set_level(logging.WARNING)
    days = cal.next_trading_days(date(2026, 12, 30), 3)
    # 2027-01-01 is a holiday in reality, but nothing past the calendar knows that.
    assert days == [date(2026, 12, 31), date(2027, 1, 1), date(2027, 1, 4)]
    assert cal.trading_days(date(2027, 1, 1), date(2027, 1, 10)) == [date(2027, 1, d) for d in (1, 4, 5, 6, 7, 8)]
    warnings = [r for r in caplog.records if "trading calendar ends 2026-12-31" in r.getMessage()]
    assert len(warnings) == 1
