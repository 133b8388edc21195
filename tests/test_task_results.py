"""The driver's one way to record a (ticker, model) failure and go on: `task_results.recorded`."""

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from forecaster import clock
from forecaster.errors import ForecasterError
from forecaster.routine.task_results import ModelOutcome, recorded
from forecaster.storage.db import open_database, session_factory, transaction
from forecaster.storage.runs import start_run
from forecaster.storage.schema_runs import RunItem
from tests.helpers import TICKER, tiny_settings


def run_row(tmp_path: Path) -> tuple[sessionmaker[Session], int]:
    factory = session_factory(open_database(tiny_settings(tmp_path).db_url))
    with transaction(factory) as session:
        return factory, start_run(session, command="run", as_of=None, tickers=[TICKER], pid=1, now=clock.now()).id


def fail(exc: Exception) -> None:
    raise exc


def test_a_failure_in_the_block_is_the_outcomes_error_and_its_run_item_is_recorded(tmp_path: Path) -> None:
    factory, run_id = run_row(tmp_path)
    failed, fine = ModelOutcome("gru", "retrain"), ModelOutcome("rnn", "reuse", version_id=None)
    with recorded(factory, run_id, TICKER, failed):
        fail(ForecasterError("disk full"))
    with recorded(factory, run_id, TICKER, fine):
        pass
    assert (failed.error, fine.error) == ("disk full", None)
    with factory() as session:
        items = session.execute(select(RunItem.model, RunItem.status, RunItem.error).order_by(RunItem.id)).all()
    assert [tuple(i) for i in items] == [("gru", "error", "disk full"), ("rnn", "ok", None)]


def test_a_bug_is_recorded_by_its_type_when_it_has_no_message(tmp_path: Path) -> None:
    factory, run_id = run_row(tmp_path)
    outcome = ModelOutcome("ensemble", "ensemble")
    with recorded(factory, run_id, TICKER, outcome):
        fail(KeyError())
    assert outcome.error == "KeyError"
