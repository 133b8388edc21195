"""`forecaster prune`: retention on demand (the routine applies it after every run)."""

import click

from forecaster.config import Settings


@click.command()
@click.option("--dry-run", is_flag=True, help="Only say what would be removed.")
@click.pass_obj
def prune(settings: Settings, dry_run: bool) -> None:
    """Remove model files beyond FORECASTER_KEEP_MODEL_VERSIONS per (ticker, model) and daily plots
    older than FORECASTER_KEEP_PLOT_DAYS; pruned versions' rows stay, marked. Takes the run lock,
    so no running process can be reading a file that goes."""
    from forecaster.cli.runtime import open_db, run_lock
    from forecaster.routine.retention import prune as apply_retention
    from forecaster.storage.db import session_factory

    factory = session_factory(open_db(settings))
    with run_lock(settings, "prune"):
        report = apply_retention(settings, factory, dry_run=dry_run, sweep=not dry_run)
    for r in report.removals:
        click.echo(f"{r.what}\t{r.ticker}\t{r.label}\t{r.bytes}\t{r.path}")
    click.echo(report.summary())
