"""Where (ticker, model) tasks run: in this process (`local`, the default) or on a Dask cluster
(`dask`, `FORECASTER_DASK_ADDRESS`).

Either way the driver prepares each task from the database, the executor runs
`tasks.run_model_task` somewhere and hands back each task's result exactly once, and the driver
writes it. Workers never see the database or the data dir: what they need travels in the task,
what they make travels back in the result.
"""

import logging
import time
import uuid
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any, Protocol

from forecaster.config import Settings
from forecaster.errors import ConfigError
from forecaster.routine.tasks import ModelResult, ModelTask, run_model_task

log = logging.getLogger(__name__)


class Executor(Protocol):
    def map(self, tasks: Iterable[ModelTask], checkpoint: Callable[[], None]) -> Generator[ModelResult, None, None]:
        """Run `tasks` (taken lazily) and yield one result per task, in any order.

        `checkpoint` raises to stop (the daemon's SIGTERM); it is called at least before each
        result is handed back. Tasks not handed back yet are abandoned.
        """
        ...


class LocalExecutor:
    """In-process and in order: a task runs only when the driver asks for it, so the driver's
    stop check between two (ticker, model) steps works exactly as before there were executors."""

    def map(self, tasks: Iterable[ModelTask], checkpoint: Callable[[], None]) -> Generator[ModelResult, None, None]:
        for task in tasks:
            yield run_model_task(task)


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

    def map(self, tasks: Iterable[ModelTask], checkpoint: Callable[[], None]) -> Generator[ModelResult, None, None]:
        source = iter(tasks)
        pending: dict[Any, ModelTask] = {}  # distributed.Future -> its task
        window, exhausted = self.window(), False
        try:
            while True:
                while not exhausted and len(pending) < window:
                    task = next(source, None)  # the driver prepares it (and may stop) here
                    if task is None:
                        exhausted = True
                    else:
                        pending[self._submit(task)] = task
                if not pending:
                    return
                done = [f for f in pending if f.done()]
                checkpoint()  # between results: nothing more is written once a stop is asked
                if not done:
                    time.sleep(self._poll_s)
                for future in done:
                    yield _result(future, pending.pop(future))
                    checkpoint()
        finally:
            if pending:  # stopped, or the driver failed: nobody will write these
                self.client.cancel(list(pending))

    def _submit(self, task: ModelTask) -> Any:
        key = f"forecast-{task.ticker}-{task.kind}-{task.as_of}-{uuid.uuid4().hex[:8]}"
        return self.client.submit(run_model_task, task, key=key, pure=False, retries=self._retries)


def _result(future: Any, task: ModelTask) -> ModelResult:
    from distributed.client import FutureCancelledError

    try:
        result: ModelResult = future.result()
    except (Exception, FutureCancelledError) as exc:  # noqa: BLE001  # a task that never returned is recorded
        first = str(exc).splitlines()[0] if str(exc) else ""
        return ModelResult.of(task, error=f"task lost on the Dask cluster: {type(exc).__name__}: {first}")
    return result


@contextmanager
def open_executor(settings: Settings) -> Iterator[Executor]:
    """The executor the settings ask for, open for the duration of the block."""
    if settings.executor == "local":
        yield LocalExecutor()
        return
    with dask_client(settings.dask_address, timeout_s=settings.dask_connect_timeout_s) as client:
        log.info("executor: dask at %s, %d worker(s)", client.scheduler.address, len(client.nthreads()))
        yield DaskExecutor(client, retries=settings.dask_retries)


@contextmanager
def dask_client(address: str | None, *, workers: int | None = None, timeout_s: float = 10.0) -> Iterator[Any]:
    """A client of the scheduler at `address`; None: of a cluster on this machine, `workers`
    single-threaded worker processes (default: one a core; Keras' Python overhead per batch holds
    the GIL, so threads would not run tasks side by side). An address that does not answer fails
    within `timeout_s` (FORECASTER_DASK_CONNECT_TIMEOUT_S), not Dask's default 30 s."""
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
