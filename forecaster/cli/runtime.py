"""What commands need around the library: the one-line error, a quiet TensorFlow start-up, the run
lock, the database."""

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from sqlalchemy import Engine

from forecaster.config import Settings
from forecaster.errors import ForecasterError

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
    """Turns library errors raised anywhere below into a one-line message, usage errors too."""

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
def run_lock(settings: Settings, command: str) -> Iterator[None]:
    """One run at a time per database (see forecaster.lock); waits FORECASTER_LOCK_WAIT_S."""
    from forecaster.routine.lock import run_lock as database_run_lock

    with database_run_lock(settings, command, wait_s=settings.lock_wait_s):
        yield


def open_db(settings: Settings) -> Engine:
    from forecaster.storage.db import open_database

    return open_database(settings.db_url)
