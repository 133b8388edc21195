"""The `forecaster` command: a thin layer over the library.

Settings and logging are set up here, once; library errors (`ForecasterError`) become one
`Error: ...` line on stderr and exit code 1; usage errors exit 2 (click's convention).
"""

import logging
import sys
from pathlib import Path

import click

from forecaster.cli.runtime import Group
from forecaster.config import load_settings, warn_unknown_environment


@click.group(cls=Group)
@click.option(
    "--config",
    "-c",
    type=click.Path(dir_okay=False, path_type=Path),
    help="TOML settings file (default: $FORECASTER_CONFIG, else ./forecaster.toml if present).",
)
@click.option("--verbose", "-v", count=True, help="More log output (-vv for debug).")
@click.version_option(package_name="forecaster", message="%(prog)s %(version)s")
@click.pass_context
def cli(ctx: click.Context, config: Path | None, verbose: int) -> None:
    """Keep A-share daily bars in SQLite and forecast them with small recurrent networks.

    Settings come from FORECASTER_* environment variables (and TUSHARE_TOKEN) or a TOML file;
    see docs/settings.md. Without a tushare token, the bundled Kweichow Moutai CSV is the source.
    """
    from forecaster.cli.logsetup import configure_logging

    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr, force=True)
    warn_unknown_environment()  # before loading: a typo is named even when another setting is refused
    ctx.obj = load_settings(config)
    configure_logging(level, ctx.obj.log_format)


def _register() -> None:
    # The commands live one group to a module; importing them here, after `cli` exists, keeps
    # `forecaster --help` listing them all while each module stays small.
    from forecaster.cli import backtest, calendar, daemon, data, db, health, prune, routine, scores, smoke

    for command in (
        db.db,
        data.ingest,
        routine.run,
        routine.backfill,
        scores.evaluate,
        backtest.backtest,
        scores.forecasts,
        scores.report,
        data.status,
        calendar.calendar,
        health.health,
        prune.prune,
        smoke.smoke,
        daemon.daemon,
    ):
        cli.add_command(command)


_register()


def main() -> None:
    cli()
