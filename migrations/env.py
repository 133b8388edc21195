"""Alembic environment: `forecaster db upgrade` passes its own connection in."""

from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection, engine_from_config, pool
from sqlalchemy.schema import SchemaItem

from forecaster.schema import Base

config = context.config
if config.config_file_name is not None and config.config_file_name.endswith(".ini"):
    fileConfig(config.config_file_name)

target_metadata = Base.metadata


def include_object(
    obj: SchemaItem, name: str | None, type_: str, reflected: bool, compare_to: SchemaItem | None
) -> bool:
    # APScheduler's job store (if a user points it at this DB) is not ours to migrate.
    return not (type_ == "table" and name is not None and name.startswith("apscheduler"))


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies the table
        include_object=include_object,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
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
    if not config.get_main_option("sqlalchemy.url"):
        from forecaster.config import load_settings
        from forecaster.db import parse_url

        # parse_url: the same URLs as forecaster itself (`postgresql://` meaning psycopg 3).
        url = parse_url(load_settings().db_url).render_as_string(hide_password=False)
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    engine = engine_from_config(
        config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.", poolclass=pool.NullPool
    )
    with engine.connect() as conn:
        _configure(conn)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
