"""`forecaster health`: one line per check and a monitoring plugin's exit code (0/1/2)."""

import sys

import click

from forecaster import clock
from forecaster.cli.options import FORMAT_OPTION
from forecaster.cli.output import echo_rows, strict_json
from forecaster.config import Settings


@click.command()
@FORMAT_OPTION
@click.pass_obj
def health(settings: Settings, fmt: str) -> None:
    """Check the unattended job: last daily run, newest bar against the calendar, calendar
    coverage ahead, free space, last smoke test, database integrity. Exit 0 ok, 1 warning,
    2 critical (the worst check), as monitoring plugins do."""
    from forecaster.cli.runtime import open_db
    from forecaster.routine.health import NAMES, overall, run_checks
    from forecaster.storage.db import session_factory

    with session_factory(open_db(settings))() as session:
        checks = run_checks(settings, session, clock.now())
    code = overall(checks)
    if fmt == "json":
        click.echo(strict_json({"status": NAMES[code], "code": code, "checks": [c.as_dict() for c in checks]}))
    elif fmt == "csv":  # one row per check; the exit code carries the overall status
        echo_rows([c.as_dict() for c in checks], "csv", [], empty="")
    else:
        for c in checks:
            click.echo(f"{NAMES[c.status]:<8}  {c.name:<17}  {c.detail}")
    sys.exit(code)
