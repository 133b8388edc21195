"""`forecaster calendar`: the stored trading days and where each came from; and the calendar's
lines of `forecaster status` (which part is official, which estimated)."""

from datetime import date, timedelta

import click
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from forecaster.cli.options import DAY, FORMAT_OPTION, AliasOption
from forecaster.cli.output import echo_rows
from forecaster.cli.runtime import open_db, read_db
from forecaster.config import Settings
from forecaster.market.calendar import TradingCalendar

COLUMNS = ["date", "weekday", "open", "source", "updated_at"]


@click.command("calendar")
@click.option(
    "--since", "start", cls=AliasOption, aliases=("--from",), type=DAY, help="First day shown (default: a week ago)."
)
@click.option(
    "--until", "end", cls=AliasOption, aliases=("--to",), type=DAY, help="Last day shown (default: 60 days from today)."
)
@click.option(
    "--refresh", is_flag=True, help="Ask tushare trade_cal now (needs a token; tushare wants 2000 points for it)."
)
@FORMAT_OPTION
@click.pass_obj
def calendar(settings: Settings, start: date | None, end: date | None, refresh: bool, fmt: str) -> None:
    """The trading calendar, one row per day: open or closed, and where that came from.

    Sources, strongest first: a bar that traded (observed), the override file
    (FORECASTER_CALENDAR_FILE), tushare trade_cal, exchange_calendars, and past them an
    estimate from the SSE's holiday rules (estimated).
    """
    from forecaster.clock import today_in
    from forecaster.ingest.calendar import prepare_calendar
    from forecaster.ingest.sources.tushare_pro import TushareSource
    from forecaster.storage.calendar import load_calendar
    from forecaster.storage.db import session_factory, writable_file

    today = today_in(settings.timezone)
    start = start or today - timedelta(days=7)
    end = end or today + timedelta(days=60)
    if start > end:
        raise click.BadParameter(f"--since {start} is after --until {end}")
    if not refresh and not writable_file(settings.db_url):  # a read-only copy: the calendar as stored
        factory = session_factory(read_db(settings))
        with factory() as session:
            stored = load_calendar(session)
    else:
        factory = session_factory(open_db(settings))
        source = TushareSource.from_settings(settings) if refresh else None  # no token: one error line
        update = prepare_calendar(settings, factory, today=today, source=source, refresh=refresh)
        for warning in update.warnings:
            click.echo(f"warning: {warning}", err=True)
        if update.fetch and not update.warnings:
            click.echo(f"{update.fetch}; {update.corrected} forecast target date(s) corrected", err=True)
        stored = update.calendar
    with factory() as session:
        echo_rows(_rows(session, stored, start, end), fmt, COLUMNS, empty="no days in that range")


def _rows(session: Session, calendar: TradingCalendar, start: date, end: date) -> list[dict[str, object]]:
    from forecaster.storage.calendar import calendar_rows

    stored = calendar_rows(session, start, end)
    rows: list[dict[str, object]] = []
    for day in calendar.days(start, end):
        row = stored.get(day.day)
        rows.append(
            {
                "date": day.day.isoformat(),
                "weekday": f"{day.day:%a}",
                "open": int(day.is_open),
                "source": day.source,
                "updated_at": f"{row.updated_at:%Y-%m-%d %H:%M}" if row else "-",
            }
        )
    return rows


def echo_calendar_status(settings: Settings, engine: Engine) -> None:
    """The calendar's part of `forecaster status`."""
    from forecaster.clock import today_in
    from forecaster.storage.db import session_factory

    with session_factory(engine)() as session:
        for line in calendar_status(session, today_in(settings.timezone)):
            click.echo(line)


def calendar_status(session: Session, today: date) -> list[str]:
    """`forecaster status`'s calendar lines: through which day the calendar is official, from
    which it is estimated, the last tushare fetch, and the warning when official days run out."""
    from forecaster.storage.calendar import last_fetch, load_calendar

    calendar = load_calendar(session)
    lines = [f"calendar: official through {calendar.official_through()}, estimated from {calendar.estimated_from()}"]
    fetch = last_fetch(session)
    if fetch is not None:
        lines[0] += f"; tushare trade_cal {fetch.status} on {fetch.fetched_on}"
    warning = calendar.coverage_warning(today)
    if warning:
        lines.append(f"calendar warning: {warning}")
    return lines
