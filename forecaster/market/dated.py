"""Market rules that change on a date (a fee, a price limit): a schedule of (first day, value)
steps, oldest first, read for a given day."""

from datetime import date

Schedule = tuple[tuple[date, float], ...]  # (first day, value), oldest first


def rate_on(schedule: Schedule, day: date) -> float:
    """The value of the newest step that began on or before `day`."""
    return [rate for start, rate in schedule if start <= day][-1]
