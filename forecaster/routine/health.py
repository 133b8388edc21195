"""`forecaster health`: is the unattended job healthy? One line per check, graded the way a
monitoring plugin (Nagios, Icinga, a systemd timer's OnFailure) grades it: 0 ok, 1 warning,
2 critical; the worst check is the exit code. 3 (unknown) is for when it cannot check at all.

Every check is read-only and quick (no Keras, no network), and takes the moment it judges as an
argument, so a test can ask "the evening after a good daily run" of any day.
"""

import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from forecaster.config import Settings
from forecaster.market.calendar import TradingCalendar
from forecaster.routine.staleness import stale_state
from forecaster.storage.bars import newest_bar_dates
from forecaster.storage.calendar import load_calendar
from forecaster.storage.db import quick_check
from forecaster.storage.listings import delist_dates
from forecaster.storage.queries import last_smoke as stored_smoke
from forecaster.storage.queries import newest_run
from forecaster.storage.runs import describe_status, shown_status
from forecaster.storage.schema_runs import Run

OK, WARNING, CRITICAL, UNKNOWN = 0, 1, 2, 3
NAMES = {OK: "OK", WARNING: "WARNING", CRITICAL: "CRITICAL", UNKNOWN: "UNKNOWN"}
# A day's bar counts as due from this time at the exchange (the close is 15:00; tushare has
# published by the daily job's 17:30): before it, yesterday's bar is the newest one expected.
BAR_DUE = time(17, 0)
RUN_AGE_WARN = timedelta(days=4)  # a Friday evening run is 3 days old on Monday evening
DAILY_COMMANDS = ("run", "daemon")


@dataclass(frozen=True)
class Check:
    name: str
    status: int  # OK | WARNING | CRITICAL
    detail: str

    def as_dict(self) -> dict[str, str | int]:
        return {**asdict(self), "status": NAMES[self.status], "code": self.status}


def overall(checks: list[Check]) -> int:
    return max((c.status for c in checks), default=OK)


def run_checks(settings: Settings, session: Session, now: datetime) -> list[Check]:
    """Every check, in a fixed order; `now` is timezone-aware."""
    local = now.astimezone(ZoneInfo(settings.timezone))
    calendar = load_calendar(session)  # the stored one: what the routine dates forecasts with
    checks: list[Callable[[], Check]] = [
        lambda: last_daily_run(session, now, settings.stale_run_minutes),
        lambda: newest_bars(session, settings.tickers, local, calendar),
        lambda: calendar_ahead(calendar, local.date()),
        lambda: free_space(settings.data_dir, settings.health_min_free_gb),
        lambda: last_smoke(session, now),
        lambda: integrity(session),
    ]
    return [check() for check in checks]


def _age(since: datetime, now: datetime) -> str:
    hours = (now - since).total_seconds() / 3600
    return f"{hours:.1f} h ago" if hours < 48 else f"{hours / 24:.1f} days ago"


def last_daily_run(session: Session, now: datetime, stale_minutes: int) -> Check:
    """The newest `forecaster run` or daemon routine: its status, and how long ago it started."""
    run = newest_run(session, Run.command.in_(DAILY_COMMANDS))
    if run is None:
        return Check("last daily run", CRITICAL, "no daily run recorded")
    status = shown_status(run, now=now, stale_minutes=stale_minutes)
    described = describe_status(run, now=now, stale_minutes=stale_minutes)
    detail = f"run {run.id} {described}, as of {run.as_of or 'newest bar'}, started {_age(run.started_at, now)}"
    if status in ("error", "interrupted"):
        return Check("last daily run", CRITICAL, detail)
    if status == "partial" or now - run.started_at > RUN_AGE_WARN:
        return Check("last daily run", WARNING, detail)
    return Check("last daily run", OK, detail)


def expected_bar_day(local_now: datetime, calendar: TradingCalendar) -> date:
    """The newest trading day whose bar should be stored by `local_now` (exchange time)."""
    today = local_now.date()
    last = today if local_now.time() >= BAR_DUE else today - timedelta(days=1)
    days = calendar.trading_days(last - timedelta(days=20), last)
    return days[-1] if days else last


def newest_bars(session: Session, tickers: list[str], local_now: datetime, calendar: TradingCalendar) -> Check:
    """Each ticker's newest bar against the calendar's last trading day. The freshest one decides:
    when every ticker is behind, the data itself is late (critical from two trading days); a
    ticker behind the others is suspended (a warning naming it: the routine does not forecast it),
    unless its listing says it is delisted (no warning)."""
    expected = expected_bar_day(local_now, calendar)
    newest = newest_bar_dates(session, tickers)
    missing = [t for t in tickers if t not in newest]
    detail = f"newest bar {max(newest.values(), default='none')} for last trading day {expected}"
    if missing:
        return Check("newest bar", CRITICAL, f"no bars for {', '.join(missing)}; {detail}")
    freshest = max(newest.values(), default=expected)
    lag = len(calendar.trading_days(freshest + timedelta(days=1), expected))
    if lag > 0:
        status = WARNING if lag == 1 else CRITICAL
        return Check("newest bar", status, f"{detail}: every ticker {lag} trading day(s) behind")
    delisted = delist_dates(session, tickers)
    states = {t: stale_state(calendar, day, expected, delisted.get(t)) for t, day in sorted(newest.items())}
    # A delisting is no fault to watch: it will not trade again (the run says so, not forecasting it).
    named = [f"{t} {state}" for t, state in states.items() if state and not state.startswith("delisted")]
    return Check("newest bar", WARNING if named else OK, f"{detail}" + (f"; {', '.join(named)}" if named else ""))


def calendar_ahead(calendar: TradingCalendar, today: date) -> Check:
    """Official (published) days ahead: a warning within the issue's 20 trading days, critical
    once estimated days are already in use (forecasts dated from rules, not from the exchange)."""
    through = calendar.official_through()
    ahead = (through - today).days
    detail = f"official through {through} ({ahead} day(s) ahead), estimated from {calendar.estimated_from()}"
    if through < today:
        return Check("calendar coverage", CRITICAL, detail)
    return Check("calendar coverage", WARNING if calendar.coverage_warning(today) else OK, detail)


def free_space(data_dir: Path, min_free_gb: float) -> Check:
    """Free space where the data dir is (or would be: its nearest existing parent)."""
    where = data_dir.resolve()
    while not where.exists() and where != where.parent:
        where = where.parent
    usage = shutil.disk_usage(where)
    free_gb = usage.free / 2**30
    status = OK if free_gb >= min_free_gb else WARNING if free_gb >= min_free_gb / 4 else CRITICAL
    detail = f"{free_gb:.1f} GiB free of {usage.total / 2**30:.1f} GiB at {where} (warning below {min_free_gb:g})"
    return Check("free space", status, detail)


def last_smoke(session: Session, now: datetime) -> Check:
    smoke = stored_smoke(session)
    if smoke is None:
        return Check("last smoke test", WARNING, "no smoke test recorded (forecaster smoke)")
    detail = f"{'passed' if smoke.ok else 'FAILED'} {_age(smoke.started_at, now)} (keras {smoke.keras_version})"
    return Check("last smoke test", OK if smoke.ok else CRITICAL, detail)


def integrity(session: Session) -> Check:
    """SQLite's `PRAGMA quick_check` (storage/db.quick_check); on PostgreSQL, that the server answers."""
    rows = quick_check(session)
    if session.get_bind().dialect.name != "sqlite":
        return Check("database", OK, "PostgreSQL answers")
    if rows == ["ok"]:
        return Check("database", OK, "quick_check ok")
    return Check("database", CRITICAL, "quick_check: " + "; ".join(rows[:3]))
