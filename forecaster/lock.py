"""One run at a time per database, across processes: `forecaster run`, `backfill` and the daemon's
jobs all take this lock before they write or train.

The lock is `fcntl.flock` on a file next to the database. The kernel drops it when the holding
process exits for any reason (SIGKILL and power loss included), so a stale lock file can never
block anyone; the pid and command written into it only serve the "who holds it" message.
"""

import fcntl
import json
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO

from forecaster.config import Settings
from forecaster.errors import Interrupted, LockBusy

LOCK_NAME = "forecaster.lock"
_POLL_S = 0.2


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


class RunLock:
    """`with RunLock(path, "run", wait_s=0): ...` — raises LockBusy when another process holds it."""

    def __init__(
        self,
        path: Path,
        command: str,
        *,
        wait_s: float = 0.0,
        should_stop: Callable[[], bool] | None = None,
    ) -> None:
        self.path = path
        self.command = command
        self.wait_s = wait_s
        self.should_stop = should_stop
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # "a+" neither truncates nor fails when the file exists: the holder's note stays readable.
        handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115  # released in release()
        deadline = time.monotonic() + self.wait_s
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if self.should_stop is not None and self.should_stop():
                    handle.close()
                    raise Interrupted("stopped while waiting for the run lock") from None
                if time.monotonic() >= deadline:
                    handle.close()
                    waited = f" (waited {self.wait_s:g} s)" if self.wait_s else ""
                    raise LockBusy(
                        f"another forecaster run ({describe_holder(self.path)}) holds the lock {self.path}{waited}"
                    ) from None
                time.sleep(_POLL_S)
        handle.seek(0)
        handle.truncate()
        note = {"pid": os.getpid(), "command": self.command, "since": datetime.now(UTC).isoformat(timespec="seconds")}
        handle.write(json.dumps(note))
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is None:
            return
        self._file.truncate(0)
        fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
        self._file.close()
        self._file = None

    def __enter__(self) -> "RunLock":
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
