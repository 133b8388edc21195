"""One run at a time per database, across processes: `forecaster run`, `backfill` and the daemon's
jobs all take this lock before they write or train.

With SQLite the lock is `fcntl.flock` on a file next to the database. The kernel drops it when
the holding process exits for any reason (SIGKILL and power loss included), so a stale lock file
can never block anyone; the pid and command written into it only serve the "who holds it"
message.

With PostgreSQL the processes may run on several machines, which share the database and nothing
else (a lock file in each one's data folder would lock nothing; flock over NFS is unreliable), so
the lock lives in the database: a session-level advisory lock on a connection held open for the
run. The server drops it when that session ends — the process exits, is killed, or its machine
vanishes (found by TCP keepalives within about a minute and a half, see `AdvisoryRunLock`).
"""

import fcntl
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO

from sqlalchemy import Connection, Engine, text
from sqlalchemy import exc as sa_exc

from forecaster import clock
from forecaster.config import Settings
from forecaster.errors import DatabaseError, Interrupted, LockBusy
from forecaster.storage.db import make_engine, parse_url, reason
from forecaster.storage.files import make_dirs

LOCK_NAME = "forecaster.lock"
_POLL_S = 0.2
# The advisory lock's key: "forecast" in ASCII. Advisory locks are per database, so this is one
# lock per forecaster database, whatever else shares the server.
RUN_LOCK_KEY = 0x666F726563617374


def run_lock(
    settings: Settings, command: str, *, wait_s: float = 0.0, should_stop: Callable[[], bool] | None = None
) -> "BaseRunLock":
    """The run lock of `settings`' database: a lock file for SQLite, an advisory lock for PostgreSQL."""
    if parse_url(settings.db_url).get_backend_name() == "postgresql":
        return AdvisoryRunLock(settings.db_url, command, wait_s=wait_s, should_stop=should_stop)
    return RunLock(lock_path(settings), command, wait_s=wait_s, should_stop=should_stop)


def lock_path(settings: Settings) -> Path:
    """Beside the SQLite file when the database is one; else in the data folder."""
    url = settings.db_url
    if url.startswith("sqlite") and "///" in url:
        db_file = url.split("///", 1)[1]
        if db_file and db_file != ":memory:":
            return Path(db_file).parent / LOCK_NAME
    return settings.data_dir / LOCK_NAME


def describe_holder(path: Path) -> str:
    """'pid 123, command run' from the lock file; '?' parts when it is unreadable or mid-write."""
    try:
        info = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        info = {}
    return f"pid {info.get('pid', '?')}, command {info.get('command', '?')}"


class BaseRunLock:
    """`with lock: ...` — raises LockBusy when another process holds it after `wait_s` seconds,
    Interrupted when `should_stop()` turns true while waiting. Subclasses say how to try, who
    holds it and how to let go; the waiting is the same for both."""

    where = ""  # for messages: "the lock <where>"

    def __init__(self, command: str, *, wait_s: float = 0.0, should_stop: Callable[[], bool] | None = None) -> None:
        self.command = command
        self.wait_s = wait_s
        self.should_stop = should_stop

    def acquire(self) -> None:
        self._open()
        deadline = time.monotonic() + self.wait_s
        while not self._try():
            if self.should_stop is not None and self.should_stop():
                self._close()
                raise Interrupted("stopped while waiting for the run lock")
            if time.monotonic() >= deadline:
                holder = self._holder()
                self._close()
                waited = f" (waited {self.wait_s:g} s)" if self.wait_s else ""
                raise LockBusy(f"another forecaster run ({holder}) holds the lock {self.where}{waited}")
            time.sleep(_POLL_S)
        self._held()

    def release(self) -> None:
        raise NotImplementedError

    def _open(self) -> None:
        raise NotImplementedError

    def _try(self) -> bool:
        raise NotImplementedError

    def _holder(self) -> str:
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError

    def _held(self) -> None:
        """Called once the lock is ours."""

    def __enter__(self) -> "BaseRunLock":
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


class RunLock(BaseRunLock):
    """The SQLite database's lock: flock on the file at `path`."""

    def __init__(
        self,
        path: Path,
        command: str,
        *,
        wait_s: float = 0.0,
        should_stop: Callable[[], bool] | None = None,
    ) -> None:
        super().__init__(command, wait_s=wait_s, should_stop=should_stop)
        self.path = path
        self.where = str(path)
        self._file: IO[str] | None = None

    def _open(self) -> None:
        try:
            make_dirs(self.path.parent)
            # "a+" neither truncates nor fails when the file exists: the holder's note stays readable.
            self._file = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115  # closed in _close()
        except OSError as exc:  # a read-only mount, a full disk: write commands cannot start here
            raise DatabaseError(
                f"cannot take the run lock {self.path}: {exc.strerror or exc} (commands that write need "
                "a writable data folder; read commands work on a read-only copy)"
            ) from exc

    def _try(self) -> bool:
        assert self._file is not None
        try:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _holder(self) -> str:
        return describe_holder(self.path)

    def _held(self) -> None:
        assert self._file is not None
        self._file.seek(0)
        self._file.truncate()
        note = {"pid": os.getpid(), "command": self.command, "since": clock.now().isoformat(timespec="seconds")}
        self._file.write(json.dumps(note))
        self._file.flush()

    def _close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def release(self) -> None:
        if self._file is None:
            return
        self._file.truncate(0)
        fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
        self._close()


# Set on the lock's own session only, and only where the server knows the setting (pg_settings):
# keepalives make the server notice a vanished client within ~90 s (the OS default is 2 h), and
# an idle-session timeout (PostgreSQL 14+) would otherwise end the idle session and its lock.
_SESSION_SETTINGS = """
SELECT set_config(s.name, v.value, false)
FROM (VALUES ('application_name', :note), ('tcp_keepalives_idle', '60'), ('tcp_keepalives_interval', '10'),
             ('tcp_keepalives_count', '3'), ('idle_session_timeout', '0')) AS v (name, value)
JOIN pg_settings AS s ON s.name = v.name
"""
# Who holds it: the backend granted this advisory lock in this database. A bigint key shows in
# pg_locks as classid (high 32 bits), objid (low 32 bits) and objsubid 1.
_HOLDER = """
SELECT a.application_name, host(a.client_addr)
FROM pg_locks AS l JOIN pg_stat_activity AS a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.classid = :hi AND l.objid = :lo AND l.objsubid = 1
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""
_NOTE_PREFIX = "forecaster "


class AdvisoryRunLock(BaseRunLock):
    """The PostgreSQL database's lock: `pg_try_advisory_lock` on a connection of its own, held
    in autocommit so that no transaction stays open while the run trains. The session's
    application_name says who holds it (pid and command; pg_stat_activity adds the address)."""

    where = "of this database (a PostgreSQL advisory lock)"

    def __init__(
        self, url: str, command: str, *, wait_s: float = 0.0, should_stop: Callable[[], bool] | None = None
    ) -> None:
        super().__init__(command, wait_s=wait_s, should_stop=should_stop)
        self.url = url
        self._engine: Engine | None = None
        self._conn: Connection | None = None

    def _open(self) -> None:
        engine = self._engine = make_engine(self.url)
        note = f"{_NOTE_PREFIX}pid {os.getpid()}, command {self.command}"[:63]  # PostgreSQL's limit
        try:
            self._conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            self._conn.execute(text(_SESSION_SETTINGS), {"note": note})
        except sa_exc.DBAPIError as exc:
            self._close()
            raise DatabaseError(f"cannot take the run lock: {reason(exc, engine.url)}") from exc

    def _try(self) -> bool:
        assert self._conn is not None
        return bool(self._conn.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": RUN_LOCK_KEY}))

    def _holder(self) -> str:
        assert self._conn is not None
        row = self._conn.execute(text(_HOLDER), {"hi": RUN_LOCK_KEY >> 32, "lo": RUN_LOCK_KEY & 0xFFFFFFFF}).first()
        if row is None:
            return "pid ?, command ?"  # released in between, or not visible to this role
        note, address = row
        holder = str(note or "").removeprefix(_NOTE_PREFIX) or "pid ?, command ?"
        return f"{holder}, from {address}" if address else holder

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._engine is not None:
            self._engine.dispose()  # the pooled session, and with it any lock it still holds
            self._engine = None

    def release(self) -> None:
        if self._conn is None:
            return
        try:
            self._conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": RUN_LOCK_KEY})
        except sa_exc.DBAPIError:
            pass  # the session is gone (server restart, network): so is its lock
        finally:
            self._close()
