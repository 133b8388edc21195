"""The Dask executor: a 2-worker LocalCluster runs a multi-ticker daily job and writes the same
rows as the local executor (same seeds, same forecasts), even when a worker dies mid-task. The
local executor on two threads writes the same rows too."""

import os
import threading
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from distributed import Client, LocalCluster, WorkerPlugin
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from forecaster.config import Settings
from forecaster.errors import Interrupted
from forecaster.ingest.sources.csvfile import CsvSource
from forecaster.model.spec import BASELINES, ModelKind, ModelSpec, TrainSpec
from forecaster.routine import executor as executor_module
from forecaster.routine.driver import RoutineOptions
from forecaster.routine.executor import DaskExecutor, Executor, LocalExecutor, ThreadExecutor
from forecaster.routine.pipeline import RunReport, run_routine
from forecaster.routine.policy import Decision
from forecaster.routine.tasks import KindResult, ModelTask, run_model_task
from forecaster.storage.db import open_database, session_factory
from tests.helpers import tiny_settings
from tests.tushare_server import DAILY_FIELDS, synthetic_daily

TICKERS = ["600000.SH", "000001.SZ", "300750.SZ"]
KINDS: tuple[ModelKind, ...] = (
    "rnn",
)  # the cheapest network: the subject here is where tasks run, not what they train
TODAY = date(2024, 6, 28)
DAYS = (date(2024, 6, 26), date(2024, 6, 27))  # a first run (retrain), then a daily one (fine-tune)


def synthetic_csv(folder: Path) -> Path:
    """Short histories (about 100 trading days) of three tickers, in tushare's CSV layout."""
    rows = [
        row
        for seed, ticker in enumerate(TICKERS)
        for row in synthetic_daily(ticker, date(2024, 2, 1), DAYS[-1], seed=seed, price=10.0 + 20 * seed)
    ]
    path = folder / "bars.csv"
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=DAILY_FIELDS).to_csv(path, index=False)
    return path


def daily_job(folder: Path, executor: Executor | None) -> tuple[sessionmaker[Session], list[RunReport]]:
    settings: Settings = tiny_settings(folder, tickers=TICKERS, models=list(KINDS))
    factory = session_factory(open_database(settings.db_url))
    source = CsvSource(synthetic_csv(folder))
    reports = [
        run_routine(
            settings,
            factory,
            tickers=TICKERS,
            options=RoutineOptions(kinds=KINDS, as_of=day, plots=False, between="finetune"),
            source=source if day == DAYS[0] else None,
            today=TODAY,
            executor=executor,
        )
        for day in DAYS
    ]
    return factory, reports


def rows(factory: sessionmaker[Session]) -> dict[str, list[tuple[Any, ...]]]:
    """Every row the job writes, without ids or timestamps (results come back in any order)."""
    queries = {
        "forecasts": "select f.ticker, f.model, f.as_of, f.target_date, f.horizon, f.yhat, v.as_of, v.action "
        "from forecasts f left join model_versions v on v.id = f.model_version_id",
        "versions": "select v.ticker, v.kind, v.as_of, v.action, p.as_of, v.epochs_run, v.train_loss, v.val_loss "
        "from model_versions v left join model_versions p on p.id = v.parent_id",
        "items": "select r.command, i.ticker, i.model, i.action, i.status, v.as_of from run_items i "
        "join runs r on r.id = i.run_id left join model_versions v on v.id = i.model_version_id",
    }
    with factory() as s:
        return {name: sorted(tuple(r) for r in s.execute(text(sql)).all()) for name, sql in queries.items()}


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    # Two single-threaded worker processes, as on a small cluster; no dashboard (no bokeh here).
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster, set_as_default=False) as c,
    ):
        yield c


@pytest.fixture(scope="module")
def local_rows(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[tuple[Any, ...]]]:
    # In order, in this thread, whatever FORECASTER_LOCAL_THREADS says: the reference for the others.
    factory, reports = daily_job(tmp_path_factory.mktemp("local"), LocalExecutor())
    assert all(r.ok for r in reports)
    return rows(factory)


@pytest.mark.slow
def test_a_two_worker_cluster_writes_what_the_local_executor_writes(client, local_rows, tmp_path):
    factory, reports = daily_job(tmp_path, DaskExecutor(client))
    failures = [(t.ticker, o.model, o.error) for r in reports for t in r.tickers for o in t.outcomes if o.error]
    assert all(r.ok for r in reports), failures
    got = rows(factory)
    assert len(got["forecasts"]) == 2 * len(TICKERS) * (len(KINDS) + len(BASELINES))  # two days, models and baselines
    assert {(v[3], v[4]) for v in got["versions"]} == {("retrain", None), ("finetune", DAYS[0].isoformat())}
    assert got == local_rows


@pytest.mark.slow
def test_two_threads_write_what_the_local_executor_writes(local_rows, tmp_path):
    # Three tickers' rnn fits, two at a time: each thread its own trainer and resident network,
    # each fit its own seeds (a shared generator would hand one fit's draw to the other).
    factory, reports = daily_job(tmp_path, ThreadExecutor(2))
    assert all(r.ok for r in reports)
    assert rows(factory) == local_rows


class KillOnFirstTask(WorkerPlugin):
    """Kills (os._exit) the worker that starts the cluster's first forecast task, a moment into
    it; a marker file makes it once per cluster, so the worker the nanny restarts lives on."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
        if finish != "executing" or not str(key).startswith("forecast-"):
            return
        try:
            os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return
        threading.Timer(0.2, os._exit, args=(1,)).start()


@pytest.mark.slow
def test_a_worker_killed_mid_task_loses_and_duplicates_nothing(client, local_rows, tmp_path):
    marker = tmp_path / "killed"
    client.register_plugin(KillOnFirstTask(str(marker)), name="kill-once")
    try:
        factory, reports = daily_job(tmp_path / "job", DaskExecutor(client))
    finally:
        client.unregister_worker_plugin("kill-once")
    assert marker.exists()  # a worker really died
    assert all(r.ok for r in reports)
    assert rows(factory) == local_rows


# --- the driver loop, with a stand-in client (no cluster) ------------------------------------


class FakeFuture:
    def __init__(self, task: ModelTask, error: Exception | None) -> None:
        self.task, self.error = task, error

    def done(self) -> bool:
        return True

    def result(self) -> KindResult:
        if self.error is not None:
            raise self.error
        return KindResult.of(self.task)


class FakeClient:
    """Answers every task at once; `lost` tickers' futures raise as a KilledWorker would."""

    def __init__(self, lost: set[str]) -> None:
        self.lost = lost
        self.keys: list[str] = []
        self.cancelled: list[str] = []

    def nthreads(self) -> dict[str, int]:
        return {"tcp://w1": 1}

    def submit(self, fn: Any, task: ModelTask, *, key: str, pure: bool, retries: int) -> FakeFuture:
        assert fn is run_model_task and not pure and retries == 1
        self.keys.append(key)
        error = (
            RuntimeError("Attempted to run task on 4 different workers\nmore") if task.universe in self.lost else None
        )
        return FakeFuture(task, error)

    def cancel(self, futures: list[FakeFuture]) -> None:
        self.cancelled += [f.task.universe for f in futures]


def handed_back(executor: Executor, tasks: list[ModelTask], checkpoint: Callable[[], None]) -> Iterator[KindResult]:
    """The driver's loop without its writes: submit each task, take each result as it comes."""
    with executor.running(checkpoint) as in_flight:
        for task in tasks:
            yield from in_flight.submit(task)
        yield from in_flight.rest()


def tasks(n: int) -> list[ModelTask]:
    spec, decision = ModelSpec(kind="rnn"), Decision("retrain", "no model yet")
    return [ModelTask("rnn", DAYS[0], f"60000{i}.SH", {}, (), spec, TrainSpec(), decision) for i in range(n)]


def test_a_task_lost_on_the_cluster_is_one_failed_result_and_keys_are_never_reused():
    client = FakeClient(lost={"600001.SH"})
    results = list(handed_back(DaskExecutor(client), tasks(3), lambda: None))
    assert [r.universe for r in results] == ["600000.SH", "600001.SH", "600002.SH"]
    lost = "task lost on the Dask cluster: RuntimeError: Attempted to run task on 4 different workers"
    assert [r.error for r in results] == [None, lost, None]
    assert len(set(client.keys)) == 3 and client.cancelled == []


def test_a_stop_writes_nothing_more_and_cancels_what_is_in_flight():
    client = FakeClient(lost=set())
    handed: list[str] = []

    def checkpoint() -> None:  # the stop is asked once two results are written
        if len(handed) == 2:
            raise Interrupted("stop requested")

    def write_all(results: Iterator[KindResult]) -> None:
        for result in results:
            handed.append(result.universe)

    with pytest.raises(Interrupted):
        write_all(handed_back(DaskExecutor(client, window=4), tasks(10), checkpoint))
    assert handed == ["600000.SH", "600001.SH"]
    assert len(client.keys) == 4  # the window: the other 6 were never submitted
    assert client.cancelled == ["600002.SH", "600003.SH"]


@pytest.mark.slow
def test_threads_hand_back_every_result_and_a_stop_leaves_the_queued_tasks_unrun(monkeypatch):
    ran: list[str] = []
    release = threading.Event()

    def task_run(task: ModelTask) -> KindResult:
        if task.universe != "600000.SH":
            release.wait(5)  # held until released: the first result comes back alone
        ran.append(task.universe)
        return KindResult.of(task)

    monkeypatch.setattr(executor_module, "run_model_task", task_run)
    release.set()
    everything = list(handed_back(ThreadExecutor(2, poll_s=0.01), tasks(5), lambda: None))
    assert sorted(r.universe for r in everything) == [t.universe for t in tasks(5)]

    release.clear()
    ran.clear()
    handed: list[str] = []

    def checkpoint() -> None:  # the stop is asked once the first result is written
        if handed:
            raise Interrupted("stop requested")

    def write_all(results: Iterator[KindResult]) -> None:
        for result in results:
            handed.append(result.universe)

    with pytest.raises(Interrupted):
        write_all(handed_back(ThreadExecutor(2, poll_s=0.01), tasks(10), checkpoint))
    assert handed == ["600000.SH"]
    release.set()  # after the stop cancelled what was queued: the tasks held on a thread end now
    deadline = time.monotonic() + 5
    while len(ran) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)  # time enough for a queued task to start, had it not been cancelled
    # Submitted at the stop: the window of four. The first ran; the second and third ran if a
    # thread had taken them before the stop cancelled what was still queued (two threads: the
    # fourth was queued behind them, so it never ran); the other six were never submitted.
    assert ran[0] == "600000.SH"
    assert set(ran) <= {"600000.SH", "600001.SH", "600002.SH"} and len(ran) == len(set(ran))
