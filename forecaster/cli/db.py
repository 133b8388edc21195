"""`forecaster db`: the schema's migrations."""

import click

from forecaster.cli.runtime import Group, open_db
from forecaster.config import Settings


@click.group(cls=Group)
def db() -> None:
    """Database schema: migrations (every command migrates a new database by itself)."""


@db.command("upgrade")
@click.pass_obj
def db_upgrade(settings: Settings) -> None:
    """Create the database or bring it to the newest schema."""
    from forecaster.storage.db import current_revision

    engine = open_db(settings)
    click.echo(f"database {engine.url} at schema revision {current_revision(engine)}")


@db.command("current")
@click.pass_obj
def db_current(settings: Settings) -> None:
    """Show the database's schema revision and the newest one this code knows."""
    from forecaster.storage.db import current_revision, head_revision, make_engine

    engine = make_engine(settings.db_url)
    click.echo(f"database {engine.url}: revision {current_revision(engine) or 'none'} (code head {head_revision()})")
