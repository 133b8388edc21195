"""`forecaster prune`: retention on demand (the routine applies it after every run)."""

from dataclasses import asdict

import click

from forecaster.cli.options import FORMAT_OPTION
from forecaster.cli.output import echo_rows, say_for
from forecaster.config import Settings

PRUNE_TABLE = ["what", "ticker", "label", "path", "bytes"]  # as Removal orders them, so CSV has one header


@click.command()
@click.option("--dry-run", is_flag=True, help="Only say what would be removed.")
@FORMAT_OPTION
@click.pass_obj
def prune(settings: Settings, dry_run: bool, fmt: str) -> None:
    """Remove model files beyond FORECASTER_KEEP_MODEL_VERSIONS per (universe, kind) and daily plots
    older than FORECASTER_KEEP_PLOT_DAYS; pruned versions' rows stay, marked. Takes the run lock,
    so no running process can be reading a file that goes."""
    from forecaster.cli.runtime import open_db, run_lock
    from forecaster.routine.retention import prune as apply_retention
    from forecaster.storage.db import session_factory

    factory = session_factory(open_db(settings))
    with run_lock(settings, "prune"):
        report = apply_retention(settings, factory, dry_run=dry_run, sweep=not dry_run)
    echo_rows([asdict(r) for r in report.removals], fmt, PRUNE_TABLE, empty="nothing to remove")
    say_for(fmt)(report.summary())
