"""Engine, sessions and migrations.

Every command that touches the database goes through `open_database`, which brings a new or
older database to the newest migration and refuses one that is newer than this code.

Two databases are supported through the same models and migrations: SQLite (the default, one
file beside the data) and PostgreSQL through psycopg 3 (`postgresql+psycopg://`), for several
machines sharing one database.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import ResolutionError
from alembic.util import CommandError
from sqlalchemy import URL, Engine, create_engine, event, make_url, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker

from forecaster.errors import DatabaseError, DatabaseMissing, SchemaMismatch


def quick_check(session: Session) -> list[str]:
    """SQLite's `PRAGMA quick_check` (the structure, without the slow index cross-check): ["ok"]
    when sound; on PostgreSQL, which keeps its own, ["ok"] once the server answers."""
    if session.get_bind().dialect.name != "sqlite":
        session.execute(text("select 1"))
        return ["ok"]
    return [str(r[0]) for r in session.execute(text("pragma quick_check"))]


MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
BUSY_TIMEOUT_MS = 10_000
# A server that does not answer (a dropped route, a firewall) should fail a command in seconds,
# not after the operating system's TCP timeout of minutes.
PG_CONNECT_TIMEOUT_S = 10
# PostgreSQL advisory lock key held while migrating ("forecast" in ASCII, minus one so that it
# differs from the run lock's key in forecaster.lock): two machines opening a new database at
# once migrate it one after the other instead of both creating the same tables.
MIGRATION_LOCK_KEY = 0x666F726563617374 - 1


def _sqlite_read_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Foreign keys are off by default in SQLite; the busy timeout makes a second writer (or a
    # reader meeting a checkpoint) wait instead of failing at once.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.close()


def _sqlite_pragmas(dbapi_connection: Any, record: Any) -> None:
    # WAL lets readers (queries, the report) run while a job writes.
    _sqlite_read_pragmas(dbapi_connection, record)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for `url`: a SQLite file (its folder is created, pragmas set on each connection)
    or a PostgreSQL server through psycopg 3. Anything else is a DatabaseError."""
    parsed = parse_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = parsed.database or ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    connect_args = {} if "connect_timeout" in parsed.query else {"connect_timeout": PG_CONNECT_TIMEOUT_S}
    # pre_ping: the daemon keeps pooled connections for days; one the server closed meanwhile
    # (a restart, an idle timeout) is replaced before use instead of failing the next job.
    return create_engine(parsed, connect_args=connect_args, pool_pre_ping=True)


def parse_url(url: str) -> URL:
    """The URL, checked against what this code supports. `postgresql://` means psycopg 3, the
    only PostgreSQL driver installed (SQLAlchemy's own default would be psycopg2)."""
    try:
        parsed = make_url(url)
    except sa_exc.ArgumentError:
        raise DatabaseError("FORECASTER_DATABASE_URL is not a database URL (see docs/settings.md)") from None
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    backend, driver = parsed.get_backend_name(), parsed.get_driver_name()
    if backend == "sqlite" or (backend == "postgresql" and driver == "psycopg"):
        return parsed
    raise DatabaseError(
        f"unsupported database URL {parsed.drivername}://...: use sqlite:///PATH or "
        "postgresql+psycopg://USER:PASSWORD@HOST:PORT/DATABASE"
    )


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
    """The schema revision, or None for an empty database; DatabaseError when it cannot be read
    (no such server, refused login, not a database file)."""
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except sa_exc.DBAPIError as exc:
        raise DatabaseError(f"cannot open the database: {reason(exc, engine.url)}") from exc


def upgrade(engine: Engine, target: str = "head") -> None:
    """Apply migrations up to `target`, refusing a database newer than this code."""
    script = ScriptDirectory.from_config(alembic_config())
    current = current_revision(engine)
    _refuse_unknown(script, current)
    if current == script.get_current_head() and target == "head":
        return  # the common case: no migration, no write transaction
    cfg = alembic_config(engine)
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # Held to the end of this transaction; Alembic reads the revision after it, so
                # the second of two processes finds the database migrated and does nothing.
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, target)
    except sa_exc.DBAPIError as exc:
        raise DatabaseError(f"cannot migrate the database: {reason(exc, engine.url)}") from exc


def _refuse_unknown(script: ScriptDirectory, current: str | None) -> None:
    if current is not None and not _known(script, current):
        raise SchemaMismatch(
            f"the database is at schema revision {current}, which this version of forecaster "
            "does not know (it was written by a newer version); upgrade forecaster"
        )


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
    """The engine for `url`, migrated to head: for commands that write. A SQLite file in a folder
    that cannot be written (a read-only mount) is refused here, in one line naming the folder."""
    file = sqlite_file(url)
    if file is not None and file.parent.is_dir() and not os.access(file.parent, os.W_OK):
        raise DatabaseError(
            f"cannot write the database in {file.parent}: the folder is read-only or not writable "
            "(read commands work on it; write commands need a writable copy)"
        )
    engine = make_engine(url)
    upgrade(engine)
    return engine


def sqlite_file(url: str) -> Path | None:
    """The SQLite file `url` names; None for PostgreSQL, `:memory:` and `file:` URIs (the URI's
    own flags say how to open it)."""
    parsed = parse_url(url)
    path = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or path in ("", ":memory:") or parsed.query.get("uri"):
        return None
    return Path(path)


def writable_file(url: str) -> bool:
    """Can a write command use this database as it is: not a SQLite file that is missing or lies
    in a folder that cannot be written. (PostgreSQL: the server decides, so yes.)"""
    file = sqlite_file(url)
    return file is None or (file.is_file() and os.access(file.parent, os.W_OK))


def open_readonly(url: str) -> Engine:
    """The engine for a command that only reads: it never creates, migrates or writes the database,
    so it works on a read-only copy. No database, or a schema other than this code's, is one line.

    SQLite is opened `mode=ro`. In a folder that cannot be written (a read-only mount) and without
    a `-wal` file, `immutable=1` too: WAL mode wants to create its `-shm` file beside the
    database, and with no `-wal` every committed row is in the main file. (With a `-wal` file left
    there, `immutable` would ignore its rows; `mode=ro` reads them through the `-shm` beside it.)"""
    path = sqlite_file(url)
    engine = make_engine(url) if path is None else _readonly_sqlite(path)
    current = current_revision(engine)
    if current is None:
        raise DatabaseMissing(
            f"no database at {path or engine.url}; run `forecaster run` or `forecaster db upgrade` first"
        )
    script = ScriptDirectory.from_config(alembic_config())
    _refuse_unknown(script, current)
    if current != script.get_current_head():
        raise SchemaMismatch(
            f"the database is at schema revision {current}, older than this code's "
            f"{script.get_current_head()}; run `forecaster db upgrade` first (read commands do not migrate)"
        )
    return engine


def _readonly_sqlite(path: Path) -> Engine:
    if path.is_dir():
        raise DatabaseMissing(f"no database at {path}: it is a folder")
    if not path.exists():
        raise DatabaseMissing(f"no database at {path}; run `forecaster run` or `forecaster db upgrade` first")
    wal = path.with_name(path.name + "-wal").exists()
    immutable = not wal and not os.access(path.parent, os.W_OK)
    flags = {"mode": "ro", "uri": "true", **({"immutable": "1"} if immutable else {})}
    url = URL.create("sqlite", database=f"file:{quote(str(path.resolve()))}", query=flags)
    engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
    event.listen(engine, "connect", _sqlite_read_pragmas)
    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One short transaction: commit on success, roll back on any error, always close.

    Operational errors (SQLite's "database is locked", a lost PostgreSQL connection, a
    serialization failure) become `DatabaseError` with the driver's reason.
    """
    session = factory()
    try:
        with session.begin():
            yield session
    except sa_exc.OperationalError as exc:
        raise DatabaseError(f"database write failed: {reason(exc, session.get_bind().engine.url)}") from exc
    finally:
        session.close()


def reason(exc: sa_exc.DBAPIError, url: URL) -> str:
    """The driver's message on one line, without SQLAlchemy's SQL echo. Messages about a failed
    connection quote parts of it (host, port, user); should one ever quote the password, it is
    blanked out here, since these messages reach the terminal and the runs table."""
    message = " ".join(str(exc.orig if exc.orig is not None else exc).split())
    if url.password:
        message = message.replace(str(url.password), "***")
    return message
