"""The override file (FORECASTER_CALENDAR_FILE): trading days by hand, for the day the
exchange's notice is out and no source has it yet. CSV with a header `date,open`: one row per
day, `open` 1/0 (or true/false, yes/no); days not listed keep what the other sources say."""

import csv
from datetime import date
from pathlib import Path

from forecaster.errors import ConfigError
from forecaster.market.calendar import Day

_TRUE = {"1", "true", "yes", "y", "open"}
_FALSE = {"0", "false", "no", "n", "closed"}


def read_override(path: Path) -> list[Day]:
    """The file's days; any unreadable row refuses the whole file, naming the line."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except OSError as exc:
        raise ConfigError(f"cannot read the calendar file {path}: {exc.strerror}") from exc
    if not rows or [c.strip().lower() for c in rows[0]] != ["date", "open"]:
        raise ConfigError(f"calendar file {path}: the first line must be the header `date,open`")
    days: dict[date, Day] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        day = _parse(path, number, row)
        if day.day in days:
            raise ConfigError(f"calendar file {path} line {number}: {day.day} is listed twice")
        days[day.day] = day
    return sorted(days.values(), key=lambda d: d.day)


def _parse(path: Path, number: int, row: list[str]) -> Day:
    where = f"calendar file {path} line {number}"
    if len(row) != 2:
        raise ConfigError(f"{where}: expected `date,open`, got {len(row)} field(s)")
    try:
        day = date.fromisoformat(row[0].strip())
    except ValueError:
        raise ConfigError(f"{where}: {row[0].strip()!r} is not a date (YYYY-MM-DD)") from None
    flag = row[1].strip().lower()
    if flag not in _TRUE | _FALSE:
        raise ConfigError(f"{where}: open must be 1 or 0, got {row[1].strip()!r}")
    return Day(day, flag in _TRUE, "override")
