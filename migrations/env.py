"""Alembic environment: `forecaster db upgrade` passes its own connection in."""

from logging.config import fileConfig
from pathlib import Path
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import URL, Connection, create_engine, pool
from sqlalchemy.schema import SchemaItem

from forecaster.storage.moments import UTCDateTime
from forecaster.storage.schema import Base

config = context.config
# Logging comes from an alembic.ini only if one exists: the project configures Alembic in
# pyproject.toml, and plain `alembic` still names the (absent) alembic.ini here.
name = config.config_file_name
if name is not None and name.endswith(".ini") and Path(name).is_file():
    fileConfig(name)

target_metadata = Base.metadata


def include_object(
    obj: SchemaItem, name: str | None, type_: str, reflected: bool, compare_to: SchemaItem | None
) -> bool:
    # APScheduler's job store (if a user points it at this DB) is not ours to migrate.
    return not (type_ == "table" and name is not None and name.startswith("apscheduler"))


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    # The column stores a plain DateTime (the tzinfo is handled in Python): a new migration
    # says so, instead of importing the package's type.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime()"
    return False


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies the table
        include_object=include_object,
        render_item=render_item,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _url() -> URL:
    """Plain `alembic` from the repository: pyproject.toml holds Alembic's settings but no
    database (there is no alembic.ini), so the database is the one forecaster itself would use
    (`parse_url`: the same URLs as forecaster, `postgresql://` meaning psycopg 3)."""
    from forecaster.config import load_settings
    from forecaster.storage.db import parse_url

    return parse_url(load_settings().db_url)


def run_migrations_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        return
    engine = create_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as conn:
        _configure(conn)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
