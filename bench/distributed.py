"""Daily-run wall time for many synthetic tickers: the local executor against a 2-worker Dask
LocalCluster on the same machine.

    python -m bench.distributed [--quick]

For 1, 8 and 32 tickers of rnn, lstm and gru at the settings' sizes (--quick: 1 and 2 tickers, rnn):

- setup, not timed: 400 trading days of synthetic bars per ticker written straight to a fresh
  SQLite database; one model of each kind trained (2 epochs) on the first ticker, its version
  cloned to every other ticker — so the timed run fine-tunes N x 3 models without N x 3
  trainings first;
- timed: the daily run of the next day, as the daemon runs it — policy, fine-tune, forecast,
  write — with no ingest and no plots (both driver-side, per ticker, the same for either
  executor). Each executor starts from its own copy of the setup's data dir. The cluster is
  started, and its workers have imported TensorFlow, before the clock starts (a long-lived
  cluster's normal state); its start-up is reported apart.
"""

import argparse
import importlib
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bench.ingest import synthetic_bars
from bench.markdown import markdown_table
from bench.section import Cell, Options, Section
from forecaster import clock
from forecaster.config import Settings, load_settings
from forecaster.market.calendar import trading_days
from forecaster.model.spec import MODEL_KINDS, ModelKind
from forecaster.routine.driver import RoutineOptions
from forecaster.routine.executor import DaskExecutor, Executor, LocalExecutor, dask_client
from forecaster.routine.pipeline import run_routine
from forecaster.storage.bars import upsert_bars
from forecaster.storage.db import open_database, session_factory, transaction
from forecaster.storage.schema import ModelVersion

HISTORY_DAYS = 400
DAYS = trading_days(date(2022, 1, 4), date(2024, 6, 28))[-(HISTORY_DAYS + 1) :]  # the last one is the timed day
WORKERS = 2
WORKER_STEPS = ("train", "model_load", "save", "forecast")  # seconds the tasks report


@dataclass(frozen=True)
class DistRow:
    tickers: int
    tasks: int  # ticker-models fine-tuned and forecast
    local_s: float
    dask_s: float
    local_task_s: float  # compute the tasks reported, summed, under the local executor

    @property
    def speedup(self) -> float:
        return self.local_s / self.dask_s


def tickers_for(n: int) -> list[str]:
    return [f"{600000 + i:06d}.SH" for i in range(n)]


def set_up(data_dir: Path, n: int, kinds: Sequence[ModelKind]) -> Settings:
    """Bars for `n` tickers, and a version of each kind for each, trained as of the day before."""
    settings = load_settings(data_dir=data_dir, database_url=f"sqlite:///{data_dir / 'forecaster.db'}")
    engine = open_database(settings.db_url)
    factory = session_factory(engine)
    now = clock.now()
    for i, ticker in enumerate(tickers_for(n)):
        with transaction(factory) as session:
            upsert_bars(session, ticker, synthetic_bars(pd.DatetimeIndex(DAYS), seed=i), "bench", now)
    first = tickers_for(1)
    options = RoutineOptions(kinds=tuple(kinds), as_of=DAYS[-2], force="retrain", plots=False)
    quick = settings.model_copy(update={"max_epochs": 2})
    run_routine(quick, factory, tickers=first, options=options, source=None, today=DAYS[-1], executor=LocalExecutor())
    _clone_versions(settings, factory, first[0], tickers_for(n)[1:])
    engine.dispose()  # SQLite checkpoints its WAL: the folder can be copied
    return settings


def _clone_versions(settings: Settings, factory: sessionmaker[Session], source: str, targets: list[str]) -> None:
    with transaction(factory) as session:
        versions = list(session.scalars(select(ModelVersion).where(ModelVersion.ticker == source)))
        for target in targets:
            for v in versions:
                path = v.path.replace(f"/{source}/", f"/{target}/")
                (settings.data_dir / path).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(settings.data_dir / v.path, settings.data_dir / path)
                row = {c.name: getattr(v, c.name) for c in ModelVersion.__table__.columns if c.name != "id"}
                session.add(ModelVersion(**{**row, "ticker": target, "path": path}))


def daily_run(base: Path, copy: Path, n: int, kinds: Sequence[ModelKind], executor: Executor) -> tuple[float, float]:
    """(wall seconds, task compute seconds) of the timed day's run on a copy of the setup."""
    shutil.copytree(base, copy)
    settings = load_settings(data_dir=copy, database_url=f"sqlite:///{copy / 'forecaster.db'}")
    engine = open_database(settings.db_url)
    options = RoutineOptions(kinds=tuple(kinds), as_of=DAYS[-1], plots=False)
    started = time.perf_counter()
    factory = session_factory(engine)
    tickers = tickers_for(n)
    report = run_routine(
        settings, factory, tickers=tickers, options=options, source=None, today=DAYS[-1], executor=executor
    )
    wall = time.perf_counter() - started
    engine.dispose()
    actions = {o.action for t in report.tickers for o in t.outcomes if o.model in kinds}
    if not report.ok or actions != {"finetune"}:
        raise RuntimeError(f"the timed run did not fine-tune everything: {actions}, ok={report.ok}")
    return wall, sum(report.timings.get(step, 0.0) for step in WORKER_STEPS)


def measure(counts: Sequence[int], kinds: Sequence[ModelKind], root: Path) -> tuple[list[DistRow], float]:
    """One row per ticker count, and the cluster's start-up seconds (workers with TensorFlow)."""
    started = time.perf_counter()
    with dask_client(None, workers=WORKERS) as client:
        client.run(importlib.import_module, "forecaster.routine.tasks")  # TensorFlow, in every worker
        cluster_s = time.perf_counter() - started
        base = root / "setup"
        set_up(base, max(counts), kinds)  # once: a smaller run reads the first tickers only
        rows = []
        for n in counts:
            local_s, task_s = daily_run(base, root / f"local-{n}", n, kinds, LocalExecutor())
            dask_s, _ = daily_run(base, root / f"dask-{n}", n, kinds, DaskExecutor(client))
            rows.append(DistRow(n, n * len(kinds), local_s, dask_s, task_s))
            print(f"  {n} ticker(s): local {local_s:.1f} s, dask {dask_s:.1f} s", flush=True)
    return rows, cluster_s


HEADERS = [
    "tickers",
    "ticker-models",
    "local s",
    f"dask ({WORKERS} workers) s",
    "local s / ticker-model",
    "dask s / ticker-model",
    "task compute s / ticker-model",
    "speed-up",
]


def table_rows(rows: Sequence[DistRow]) -> list[list[Cell]]:
    return [
        [
            r.tickers,
            r.tasks,
            r.local_s,
            r.dask_s,
            r.local_s / r.tasks,
            r.dask_s / r.tasks,
            r.local_task_s / r.tasks,
            round(r.speedup, 2),
        ]
        for r in rows
    ]


def bench(opts: Options) -> list[Section]:
    """The suite's entry: the full one runs 1, 8 and 32 tickers; quick (to keep the suite's quick
    run under 5 minutes) 1 and 2 tickers of rnn only."""
    quick: tuple[ModelKind, ...] = ("rnn",)
    counts, kinds = ((1, 2), quick) if opts.quick else ((1, 8, 32), MODEL_KINDS)
    with tempfile.TemporaryDirectory() as tmp:
        rows, cluster_s = measure(counts, kinds, Path(tmp))
    notes = [
        f"Fine-tune + forecast of {', '.join(kinds)} per ticker at the settings' sizes; "
        f"{HISTORY_DAYS} days of history.",
        f"LocalCluster start-up, workers importing TensorFlow: {cluster_s:.1f} s (not in the times above).",
        *(["QUICK: 1 and 2 tickers, rnn only"] if opts.quick else []),
    ]
    biggest = rows[-1]
    return [
        Section(
            name="distributed",
            title="Daily run: local executor vs a 2-worker Dask LocalCluster",
            headers=HEADERS,
            rows=table_rows(rows),
            notes=notes,
            headline=[(f"dask speed-up, {biggest.tickers} tickers", round(biggest.speedup, 2))],
            raw={"rows": [asdict(r) for r in rows], "cluster_start_s": cluster_s},
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1 and 8 tickers instead of 1, 8 and 32.")
    (section,) = bench(Options(quick=parser.parse_args().quick, repeats=1))
    print(f"\n## {section.title}\n\n{markdown_table(section.headers, section.rows)}\n")
    for note in section.notes:
        print(f"- {note}")


if __name__ == "__main__":
    main()
