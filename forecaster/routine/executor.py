"""Where each network kind's task runs: in this process (`local`, the default) or on a Dask cluster
(`dask`, `FORECASTER_DASK_ADDRESS`).

Either way the driver prepares each task from the database, the executor runs
`tasks.run_model_task` somewhere and hands back each task's result exactly once, and the driver
writes it. Workers never see the database or the data dir: what they need travels in the task,
what they make travels back in the result.
"""

import logging
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from contextlib import AbstractContextManager, ExitStack, contextmanager
from typing import Any, Protocol

from forecaster.config import Settings
from forecaster.errors import ConfigError
from forecaster.routine.tasks import KindResult, ModelTask, run_model_task

log = logging.getLogger(__name__)


class InFlight(Protocol):
    """The tasks an executor is running for the driver, and their results as they come back."""

    def submit(self, task: ModelTask) -> Iterator[KindResult]:
        """Start `task` (now, whether or not the iterator is read), then hand back the results that
        come back until there is room for the next task. `checkpoint` raises to stop (the
        daemon's SIGTERM); it is called at least before each result is handed back."""
        ...

    def rest(self) -> Iterator[KindResult]:
        """Every result not handed back yet, as they come."""
        ...


class Executor(Protocol):
    def running(self, checkpoint: Callable[[], None]) -> AbstractContextManager[InFlight]:
        """Tasks in flight for the block; those not handed back when it ends are abandoned."""
        ...


class LocalExecutor:
    """In-process and in order: a task runs when the driver submits it, and its result is the one
    handed back, so the driver's stop check between two kinds' steps works exactly as
    before there were executors."""

    @contextmanager
    def running(self, checkpoint: Callable[[], None]) -> Iterator[InFlight]:
        yield _InOrder()


class _InOrder:
    def submit(self, task: ModelTask) -> Iterator[KindResult]:
        return iter([run_model_task(task)])

    def rest(self) -> Iterator[KindResult]:
        return iter([])


class DaskExecutor:
    """Tasks submitted to a `distributed.Client`, a bounded number at a time.

    Each submission gets a fresh key, so the scheduler never hands back a cached result of an
    earlier run, and a task that a dying worker left half-done is rerun elsewhere by the
    scheduler (up to `distributed.scheduler.allowed-failures` times) while its future still
    resolves once: the driver writes one result per task. `retries` reruns a task whose
    function raised (ours returns its failures, so that is a worker-side problem such as a
    missing package).
    """

    def __init__(self, client: Any, *, retries: int = 1, window: int | None = None, poll_s: float = 0.05) -> None:
        self.client = client  # a distributed.Client (Any: distributed's own annotations are partial)
        self._retries = retries
        self._window = window
        self._poll_s = poll_s

    def window(self) -> int:
        """Tasks in flight at most: enough to keep every worker thread busy while the driver
        writes, few enough that the driver does not hold every ticker's bars at once."""
        if self._window is not None:
            return self._window
        threads: int = sum(self.client.nthreads().values())
        return max(4, 2 * threads)

    @contextmanager
    def running(self, checkpoint: Callable[[], None]) -> Iterator[InFlight]:
        with Window(
            checkpoint, self.window(), submit=self._submit, result=_result, wait=self._wait, cancel=self.client.cancel
        ) as flight:
            yield flight

    def _wait(self, futures: list[Any]) -> None:
        time.sleep(self._poll_s)

    def _submit(self, task: ModelTask) -> Any:
        key = f"forecast-{task.universe}-{task.kind}-{task.as_of}-{uuid.uuid4().hex[:8]}"
        return self.client.submit(run_model_task, task, key=key, pure=False, retries=self._retries)


class Window:
    """The windowed loop both pools share: up to `size` tasks submitted, each result handed back
    as it comes, a stop checked between results; the tasks in flight when its block ends are
    cancelled."""

    def __init__(
        self,
        checkpoint: Callable[[], None],
        size: int,
        *,
        submit: Callable[[ModelTask], Any],
        result: Callable[[Any, ModelTask], KindResult],
        wait: Callable[[list[Any]], None],
        cancel: Callable[[list[Any]], Any],
    ) -> None:
        self._checkpoint, self._size = checkpoint, size
        self._submit, self._result, self._wait, self._cancel = submit, result, wait, cancel
        self._pending: dict[Any, ModelTask] = {}  # future -> its task

    def submit(self, task: ModelTask) -> Iterator[KindResult]:
        self._pending[self._submit(task)] = task
        return self._until_room()

    def rest(self) -> Iterator[KindResult]:
        while self._pending:
            yield from self._come_back()

    def __enter__(self) -> "Window":
        return self

    def __exit__(self, *exc: object) -> None:
        """What is still in flight is cancelled: nobody will write those results (a stop, or
        the driver failed)."""
        if self._pending:
            self._cancel(list(self._pending))
            self._pending.clear()

    def _until_room(self) -> Iterator[KindResult]:
        while len(self._pending) >= self._size:
            yield from self._come_back()

    def _come_back(self) -> Iterator[KindResult]:
        """The results done now, or none after a wait while none is."""
        done = [f for f in self._pending if f.done()]
        self._checkpoint()  # between results: nothing more is written once a stop is asked
        if not done:
            self._wait(list(self._pending))
        for future in done:
            yield self._result(future, self._pending.pop(future))
            self._checkpoint()


class ThreadExecutor:
    """Tasks on `threads` threads of this process, the driver writing results as they come.

    Why threads help at all: a fit runs its steps in TensorFlow, which releases the GIL, and at
    one intra-op thread (forecaster/__init__) one fit keeps about 1.3-1.7 of two cores busy; a
    second fit beside it fills the rest, and the driver's writes and plots overlap the fits.
    Each thread has its own trainers and resident networks (keyed by thread, model/trainers and
    model/resident), and a fit's seeds come from its task alone (model/networks.first_seed),
    so the rows are those of the local executor, value for value (tests/test_executor.py).
    """

    def __init__(self, threads: int, *, poll_s: float = 0.5) -> None:
        self.threads = threads
        self._poll_s = poll_s

    @contextmanager
    def running(self, checkpoint: Callable[[], None]) -> Iterator[InFlight]:
        pool = _pool(self.threads)

        def cancel(futures: list[Future[KindResult]]) -> None:
            for future in futures:
                future.cancel()  # one already running finishes on its thread, unwritten

        def wait(futures: list[Future[KindResult]]) -> None:
            futures_wait(futures, timeout=self._poll_s, return_when=FIRST_COMPLETED)

        # One task queued behind each running one: a thread never waits for the driver.
        with Window(
            checkpoint,
            2 * self.threads,
            submit=lambda task: pool.submit(run_model_task, task),
            result=_thread_result,
            wait=wait,
            cancel=cancel,
        ) as flight:
            yield flight


_POOLS: dict[int, ThreadPoolExecutor] = {}


def _pool(threads: int) -> ThreadPoolExecutor:
    """One pool per thread count for the whole process, never shut down: its threads, and so the
    trainers and resident networks cached per thread, outlive a run (a daemon's runs and a
    backfill's days would otherwise each make new threads, whose traces and caches never return)."""
    if threads not in _POOLS:
        _POOLS[threads] = ThreadPoolExecutor(threads, thread_name_prefix="forecaster-task")
    return _POOLS[threads]


def _thread_result(future: Future[KindResult], task: ModelTask) -> KindResult:
    try:
        return future.result()
    except Exception as exc:  # noqa: BLE001  # run_model_task returns its failures; this is a bug's
        return KindResult.of(task, error=f"task failed on its thread: {type(exc).__name__}: {exc}")


def _result(future: Any, task: ModelTask) -> KindResult:
    from distributed.client import FutureCancelledError

    try:
        result: KindResult = future.result()
    except (Exception, FutureCancelledError) as exc:  # noqa: BLE001  # a task that never returned is recorded
        first = str(exc).splitlines()[0] if str(exc) else ""
        return KindResult.of(task, error=f"task lost on the Dask cluster: {type(exc).__name__}: {first}")
    return result


@contextmanager
def open_executor(settings: Settings) -> Iterator[Executor]:
    """The executor the settings ask for, open for the duration of the block."""
    if settings.executor == "local":
        yield LocalExecutor() if settings.local_threads == 1 else ThreadExecutor(settings.local_threads)
        return
    with dask_client(settings.dask_address, timeout_s=settings.dask_connect_timeout_s) as client:
        log.info("executor: dask at %s, %d worker(s)", client.scheduler.address, len(client.nthreads()))
        yield DaskExecutor(client, retries=settings.dask_retries)


@contextmanager
def dask_client(address: str | None, *, workers: int | None = None, timeout_s: float = 10.0) -> Iterator[Any]:
    """A client of the scheduler at `address`; None: of a cluster on this machine, `workers`
    single-threaded worker processes (default: one a core; two fits on one process's threads
    share its GIL for Keras' Python work per batch, which separate processes do not). An address
    that does not answer fails within `timeout_s` (FORECASTER_DASK_CONNECT_TIMEOUT_S), not Dask's default 30 s."""
    try:
        import distributed
    except ImportError as exc:
        raise ConfigError("FORECASTER_EXECUTOR=dask needs Dask: pip install 'forecaster[dask]'") from exc
    dask: Any = distributed  # Any: its constructors are not annotated
    # Importing distributed sets its loggers to INFO; follow the level chosen for ours instead
    # (the CLI's -v), or every run would print the cluster's bookkeeping.
    logging.getLogger("distributed").setLevel(logging.getLogger().getEffectiveLevel())
    with ExitStack() as stack:
        target: Any = address
        if address is None:
            cluster = dask.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
            target = stack.enter_context(cluster)
        try:
            client = stack.enter_context(dask.Client(target, set_as_default=False, timeout=timeout_s))
        except OSError as exc:  # refused, unresolvable, or no answer within the connect timeout
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ConfigError(f"no Dask scheduler answers at {address} within {timeout_s:g} s: {first}") from exc
        yield client
