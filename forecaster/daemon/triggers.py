"""Cron triggers from standard crontab lines, and the fire-time arithmetic misfire catch-up needs.

Trap: APScheduler 3's `CronTrigger.from_crontab` numbers weekdays from Monday = 0, so the usual
`* * * * 1-5` would fire Tuesday to Saturday. Numeric weekdays are therefore translated to
names (crontab: 0 and 7 are Sunday) before APScheduler sees them.
"""

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger

from forecaster.errors import ConfigError

_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_NUMERIC = re.compile(r"^(\d)(?:-(\d))?$")


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"unknown time zone {name!r} (use an IANA name such as Asia/Shanghai)") from None


def _weekdays(field: str, expr: str) -> str:
    """Crontab weekday field -> APScheduler's: numbers become day names, the rest passes."""
    if "/" in field:
        raise ConfigError(f"schedule {expr!r}: steps in the weekday field are not supported; list the days")
    out: list[str] = []
    for token in field.split(","):
        match = _NUMERIC.match(token)
        if match is None:
            out.append(token.lower())  # '*', 'mon', 'mon-fri': the same in both
            continue
        first, last = int(match[1]), int(match[2] or match[1])
        if first > 7 or last > 7 or last < first:
            raise ConfigError(f"schedule {expr!r}: bad weekday {token!r} (0-7, 0 and 7 are Sunday)")
        out.extend(_DAY_NAMES[d % 7] for d in range(first, last + 1))
    return ",".join(dict.fromkeys(out))


def cron_trigger(expr: str, timezone: str, setting: str = "schedule") -> CronTrigger:
    """A trigger for a standard 5-field crontab line, or ConfigError naming `setting`."""
    fields = expr.split()
    if len(fields) != 5:
        raise ConfigError(f"bad {setting} {expr!r}: want 5 crontab fields (minute hour day-of-month month day-of-week)")
    fields[4] = _weekdays(fields[4], expr)
    try:
        return CronTrigger.from_crontab(" ".join(fields), timezone=zone(timezone))
    except ValueError as exc:
        raise ConfigError(f"bad {setting} {expr!r}: {exc}") from exc


def fire_times(trigger: BaseTrigger, start: datetime, end: datetime) -> list[datetime]:
    """Every fire time in [start, end] (aware datetimes), ascending."""
    out: list[datetime] = []
    previous = None
    moment = start
    while True:
        fire: datetime | None = trigger.get_next_fire_time(previous, moment)
        if fire is None or fire > end:
            return out
        out.append(fire)
        previous, moment = fire, fire + timedelta(seconds=1)


def last_fire_time(trigger: BaseTrigger, now: datetime, within: timedelta) -> datetime | None:
    """The newest fire time in [now - within, now], if any."""
    times = fire_times(trigger, now - within, now)
    return times[-1] if times else None


def missed_fire_time(
    trigger: BaseTrigger, last_handled: datetime | None, now: datetime, grace: timedelta
) -> datetime | None:
    """The fire time a daemon starting at `now` should catch up on, or None.

    Only fire times within `grace` count, and only those after `last_handled` (the newest
    scheduled time an execution was recorded for). However many were missed, the answer is the
    newest one: missed ticks are coalesced into a single catch-up run.
    """
    newest = last_fire_time(trigger, now, grace)
    if newest is None or (last_handled is not None and newest <= last_handled):
        return None
    return newest
