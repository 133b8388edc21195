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


class Group(click.Group):
    """Turns library errors raised anywhere below into a one-line message."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
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
