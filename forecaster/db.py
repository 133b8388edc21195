"""Engine, sessions and migrations.

Every command that touches the database goes through `open_database`, which brings a new or
older database to the newest migration and refuses one that is newer than this code.
"""

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import ResolutionError
from alembic.util import CommandError
from sqlalchemy import Engine, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker

from forecaster.errors import DatabaseError

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
BUSY_TIMEOUT_MS = 10_000


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers (queries, the report) run while a job writes; foreign keys are off by
    # default in SQLite; the busy timeout makes a second writer wait instead of failing at once.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for `url`; for a SQLite file, its folder is created and pragmas are set."""
    is_sqlite = url.startswith("sqlite")
    if is_sqlite:
        path = url.split("///", 1)[1] if "///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000} if is_sqlite else {})
    if is_sqlite:
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def alembic_config(engine: Engine | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if engine is not None:
        cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "migrations/ has no revisions"
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, target: str = "head") -> None:
    """Apply migrations up to `target`, refusing a database newer than this code."""
    script = ScriptDirectory.from_config(alembic_config())
    try:
        current = current_revision(engine)
    except sa_exc.DBAPIError as exc:
        raise DatabaseError(f"cannot open the database: {_reason(exc)}") from exc
    if current is not None and not _known(script, current):
        raise DatabaseError(
            f"the database is at schema revision {current}, which this version of forecaster "
            "does not know (it was written by a newer version); upgrade forecaster"
        )
    if current == script.get_current_head() and target == "head":
        return  # the common case: no migration, no write transaction
    cfg = alembic_config(engine)
    try:
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, target)
    except sa_exc.OperationalError as exc:
        raise DatabaseError(f"cannot migrate the database: {_reason(exc)}") from exc


def _known(script: ScriptDirectory, revision: str) -> bool:
    try:
        return script.get_revision(revision) is not None
    except (ResolutionError, CommandError):
        return False


def downgrade(engine: Engine, target: str) -> None:
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, target)


def open_database(url: str) -> Engine:
    """The engine for `url`, migrated to head."""
    engine = make_engine(url)
    upgrade(engine)
    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One short transaction: commit on success, roll back on any error, always close.

    SQLite errors become `DatabaseError` with the reason (e.g. "database is locked").
    """
    session = factory()
    try:
        with session.begin():
            yield session
    except sa_exc.OperationalError as exc:
        raise DatabaseError(f"database write failed: {_reason(exc)}") from exc
    finally:
        session.close()


def _reason(exc: sa_exc.DBAPIError) -> str:
    orig = exc.orig
    if isinstance(orig, sqlite3.Error):
        return str(orig)
    return str(orig).splitlines()[0] if orig is not None else str(exc)
