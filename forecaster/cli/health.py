"""`forecaster health`: one line per check and a monitoring plugin's exit code (0/1/2/3)."""

import sys
from typing import TYPE_CHECKING

import click

from forecaster import clock
from forecaster.cli.options import FORMAT_OPTION
from forecaster.cli.output import echo_rows, strict_json
from forecaster.config import Settings

if TYPE_CHECKING:
    from forecaster.routine.health import Check


@click.command()
@FORMAT_OPTION
@click.pass_obj
def health(settings: Settings, fmt: str) -> None:
    """Check the unattended job: last daily run, newest bar against the calendar, calendar
    coverage ahead, free space, last smoke test, database integrity. Exit 0 ok, 1 warning,
    2 critical (the worst check; a corrupt or unreadable database too), 3 unknown (it cannot
    check: no database there, a schema this code does not read, a server that does not answer),
    as monitoring plugins do. Read-only: works on a read-only copy."""
    from forecaster.routine.health import NAMES, overall

    checks = _checks(settings)
    code = overall(checks)
    if fmt == "json":
        click.echo(strict_json({"status": NAMES[code], "code": code, "checks": [c.as_dict() for c in checks]}))
    elif fmt == "csv":  # one row per check; the exit code carries the overall status
        echo_rows([c.as_dict() for c in checks], "csv", [], empty="")
    else:
        for c in checks:
            click.echo(f"{NAMES[c.status]:<8}  {c.name:<17}  {c.detail}")
    sys.exit(code)


def _checks(settings: Settings) -> "list[Check]":
    """Every check; or the one line that says why none could run."""
    from sqlalchemy import exc as sa_exc

    from forecaster.cli.runtime import read_db
    from forecaster.errors import DatabaseError, DatabaseMissing, SchemaMismatch
    from forecaster.routine.health import CRITICAL, UNKNOWN, Check, run_checks
    from forecaster.storage.db import parse_url, reason, session_factory, sqlite_file

    try:
        with session_factory(read_db(settings))() as session:
            return run_checks(settings, session, clock.now())
    except (DatabaseMissing, SchemaMismatch) as exc:
        return [Check("database", UNKNOWN, str(exc))]
    except (DatabaseError, sa_exc.DBAPIError) as exc:
        # A SQLite file that is there and cannot be read is broken; a server that does not
        # answer says nothing about the job.
        broken = sqlite_file(settings.db_url) is not None
        detail = reason(exc, parse_url(settings.db_url)) if isinstance(exc, sa_exc.DBAPIError) else str(exc)
        return [Check("database", CRITICAL if broken else UNKNOWN, detail)]
    except OSError as exc:
        return [Check("health", UNKNOWN, f"cannot check: {exc}")]
