"""Run a `forecaster` command in a fresh process, as cron or a user would: wall time and peak
memory of that process, TensorFlow's import included."""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ChildRun:
    wall_s: float
    peak_mb: float  # the child's own peak resident set
    output: str  # stdout and stderr together

    @property
    def last_line(self) -> str:
        lines = self.output.strip().splitlines()
        return lines[-1] if lines else ""


def forecaster_command(*args: str) -> list[str]:
    """`forecaster ARGS` through this interpreter, so the venv in use is the one measured."""
    return [sys.executable, "-m", "forecaster.cli", *args]


def data_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """This process's environment with the data dir (database, models, plots) pointed elsewhere.

    A database URL from the environment is dropped: each benchmark owns a fresh SQLite file in
    its data dir (and reads its run rows from there)."""
    env = {k: v for k, v in os.environ.items() if k != "FORECASTER_DATABASE_URL"}
    return {**env, "FORECASTER_DATA_DIR": str(data_dir), **extra}


def timed(args: list[str], env: dict[str, str], cwd: Path | None = None) -> ChildRun:
    """Run `args` to completion; raise with its output's tail if it fails."""
    with tempfile.TemporaryFile("w+") as out:
        started = time.perf_counter()
        child = subprocess.Popen(args, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
        _, status, usage = os.wait4(child.pid, 0)  # this child's own rusage, not all children's
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read()
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({child.returncode}):\n{text[-3000:]}")
    return ChildRun(wall, usage.ru_maxrss / 1024, text)  # ru_maxrss: KB on Linux


def copy_data_dir(source: Path, target: Path) -> Path:
    """A copy of a data dir after a run, so several runs can start from the same state.

    Safe once the writing process has exited: SQLite has checkpointed its WAL by then, and model
    paths in the database are relative to the data dir.
    """
    shutil.copytree(source, target)
    return target


@dataclass(frozen=True)
class RunRecord:
    """What the newest `runs` row of a data dir says about that run."""

    status: str
    timings: dict[str, float]  # seconds per pipeline step (forecaster.routine.pipeline's clock)
    actions: dict[str, int]  # run items per action: retrain, finetune, reuse, baseline


def last_run_record(data_dir: Path) -> RunRecord:
    """Read straight from the database file, read-only, so the product's code is not measured."""
    db = sqlite3.connect(f"file:{data_dir / 'forecaster.db'}?mode=ro", uri=True)
    try:
        run_id, status, timings = db.execute("select id, status, timings from runs order by id desc limit 1").fetchone()
        actions = Counter(a for (a,) in db.execute("select action from run_items where run_id = ?", (run_id,)))
    finally:
        db.close()
    return RunRecord(status, json.loads(timings or "{}"), dict(actions))


def describe_actions(actions: dict[str, int]) -> str:
    """{"finetune": 3, "baseline": 2} -> "finetune ×3" (baselines are in every run)."""
    return ", ".join(f"{a} ×{n}" for a, n in sorted(actions.items()) if a != "baseline") or "—"
