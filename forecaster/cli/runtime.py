"""What commands need around the library: the one-line error, a quiet TensorFlow start-up, the run
lock, the database."""

import logging
import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click
from sqlalchemy import Engine

from forecaster.config import Settings
from forecaster.errors import ForecasterError, Interrupted

if TYPE_CHECKING:
    from forecaster.routine.stops import StopSignals

# TensorFlow's C++ start-up chatter is not for users; real problems still surface as errors.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


class CliError(click.ClickException):
    exit_code = 1


class OneLineUsageError(click.UsageError):
    """A usage error as one line, `Error: ... (try 'forecaster CMD --help')`, instead of click's
    usage, hint and message on three: a script's log keeps the line that says what was wrong."""

    def show(self, file: Any = None) -> None:
        where = f" (try '{self.ctx.command_path} --help')" if self.ctx is not None else ""
        click.echo(f"Error: {self.format_message()}{where}", file=file, err=file is None)


@contextmanager
def one_line_usage_errors() -> Iterator[None]:
    try:
        yield
    except click.exceptions.NoArgsIsHelpError:
        raise  # a bare `forecaster` prints its help, as before
    except click.UsageError as exc:
        if isinstance(exc, OneLineUsageError):
            raise
        # format_message() carries the parameter's name ("Invalid value for '--start': ...").
        raise OneLineUsageError(exc.format_message(), exc.ctx) from exc  # exit code 2, as click's


class Group(click.Group):
    """Turns library errors, usage errors and OSErrors (a full or read-only disk) raised anywhere
    below into a one-line message; an OSError's traceback is logged at -vv."""

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        with one_line_usage_errors():  # the group's own options (`forecaster --bogus`)
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            with one_line_usage_errors():  # a command's options, its callbacks' BadParameter
                return super().invoke(ctx)
        except ForecasterError as exc:
            raise CliError(str(exc)) from exc
        except OSError as exc:
            logging.getLogger(__name__).debug("where the OSError came from", exc_info=True)
            where = f"{exc.filename}: " if exc.filename else ""
            raise CliError(f"{where}{exc.strerror or exc}") from exc


@contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Silence file descriptor 2 while TensorFlow loads.

    TensorFlow's native start-up prints INFO lines (oneDNN, CPU features) straight to fd 2,
    before any setting can stop them. Python exceptions raised inside still surface, after
    the descriptor is restored.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def load_training_stack() -> None:
    """Import Keras/TensorFlow quietly, once, before the first command that trains."""
    with quiet_native_stderr():
        import keras  # noqa: F401


@contextmanager
def run_lock(settings: Settings, command: str, should_stop: Callable[[], bool] | None = None) -> Iterator[None]:
    """One run at a time per database (see forecaster.lock); waits FORECASTER_LOCK_WAIT_S."""
    from forecaster.routine.lock import run_lock as database_run_lock

    with database_run_lock(settings, command, wait_s=settings.lock_wait_s, should_stop=should_stop):
        yield


INTERRUPTED = "interrupted; the same command continues where it stopped"


@contextmanager
def stoppable() -> "Iterator[StopSignals]":
    """SIGINT and SIGTERM alike stop the block's work at its next step (forecaster.routine.stops):
    the run row says `interrupted` and by which signal, one line says so, and the exit code is
    the shell's for that signal (130, 143). Set `stop.factory` once the database is open."""
    from forecaster.routine.stops import StopSignals, shell_exit_code
    from forecaster.storage.db import transaction
    from forecaster.storage.runs import record_stop

    with StopSignals() as stop:
        try:
            yield stop
        except Interrupted as exc:
            if exc.run_id is not None and stop.factory is not None:
                with transaction(stop.factory) as session:
                    record_stop(session, exc.run_id, stop.reason())
            click.echo(INTERRUPTED, err=True)
            raise click.exceptions.Exit(shell_exit_code(stop.signum or signal.SIGINT)) from None


def open_db(settings: Settings) -> Engine:
    """For commands that write: created or migrated as needed."""
    from forecaster.storage.db import open_database

    return open_database(settings.db_url)


def read_db(settings: Settings) -> Engine:
    """For commands that only read: never created, migrated or written; a read-only copy will do."""
    from forecaster.storage.db import open_readonly

    return open_readonly(settings.db_url)
