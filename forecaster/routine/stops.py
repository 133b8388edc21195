"""Stopping long work on SIGINT or SIGTERM, the same way in the daemon and in `run`, `backfill`
and `ingest`.

The first signal only asks: the work stops at its next step boundary (a (ticker, model) step
that has started finishes and is written, every write being its own short transaction) and the
open run row is recorded `interrupted`. A second signal does not wait: this process's open rows
are marked `interrupted` and it exits at once; the database stays consistent for the same reason.
"""

import logging
import os
import signal
import threading
from collections.abc import Callable, Sequence
from types import FrameType, TracebackType

from sqlalchemy.orm import Session, sessionmaker

from forecaster import clock
from forecaster.errors import Interrupted
from forecaster.storage.db import transaction
from forecaster.storage.runs import mark_interrupted

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def shell_exit_code(signum: int) -> int:
    """What a shell reports for a process ended by `signum`: 130 for SIGINT, 143 for SIGTERM."""
    return 128 + signum


class StopSignals:
    """`with StopSignals() as stop:` — SIGINT and SIGTERM set `stop.event` while the block runs;
    the previous handlers come back after it. `factory`, once set, is where a second signal
    marks the open rows; `on_stop` runs on the first signal (the daemon stops its scheduler)."""

    def __init__(
        self,
        *,
        event: threading.Event | None = None,
        on_stop: Callable[[], None] = lambda: None,
        second_exit_code: Callable[[int], int] = shell_exit_code,
        signals: Sequence[int] = STOP_SIGNALS,
    ) -> None:
        self.event = event if event is not None else threading.Event()
        self.factory: sessionmaker[Session] | None = None
        self.signum: int | None = None
        self._on_stop, self._second_exit_code, self._signals = on_stop, second_exit_code, signals
        self._previous: dict[int, object] = {}

    def requested(self) -> bool:
        return self.event.is_set()

    def check(self) -> None:
        """Raise `Interrupted` (naming the signal) once a stop was asked for."""
        if self.event.is_set():
            raise Interrupted(self.reason())

    def reason(self) -> str:
        return f"stopped by {self.name()}"

    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum else "a stop request"

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.event.is_set():
            log.warning("second %s: exiting now", signal.Signals(signum).name)
            if self.factory is not None:
                with transaction(self.factory) as session:
                    mark_interrupted(session, pid=os.getpid(), now=clock.now())
            logging.shutdown()
            os._exit(self._second_exit_code(signum))
        self.signum = signum
        log.info("%s: stopping after the current step", signal.Signals(signum).name)
        self.event.set()
        self._on_stop()

    def __enter__(self) -> "StopSignals":
        self._previous = {s: signal.signal(s, self._handle) for s in self._signals}
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)  # type: ignore[arg-type]  # what signal.signal returned
