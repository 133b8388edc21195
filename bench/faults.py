"""Fault injection with figures: kill -9 of `forecaster run` and `forecaster backfill` at random
moments, and SIGTERM to the daemon mid-step, each followed by the invariant checks of
tests/invariants.py and a clean re-run that must reproduce a never-faulted run's forecasts.

    python -m bench.faults [--trials 20] [--sigterm-trials 5] [--seed 1] [--only run|backfill|daemon]

Everything is local and offline: tiny models (window 10, 4+4 units, one epoch) on the bundled
CSV (run, daemon) or a synthetic CSV (backfill), each command a fresh process as a user runs it.
A kill lands at a uniformly random moment of a normal run's wall time, so over many trials it
hits start-up, migration, ingest, training, model saving, database writes and plotting; where
it landed is read back from what it left behind (the `phase` column).
"""

import argparse
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from tests.invariants import check_invariants, forecast_rows

REPO = Path(__file__).resolve().parent.parent
TINY_ENV = {
    "FORECASTER_WINDOW": "10",
    "FORECASTER_UNITS": "4,4",
    "FORECASTER_MAX_EPOCHS": "1",
    "FORECASTER_FINETUNE_EPOCHS": "1",
    "FORECASTER_PATIENCE": "1",
    "TF_CPP_MIN_LOG_LEVEL": "2",
}
RUN_MODELS = "rnn,gru"
BACKFILL_TICKER = "000001.SZ"
# Kills land uniformly in [KILL_FROM, 1] x a clean run's wall time: the first third or so is
# Python and TensorFlow start-up, where a kill has nothing to break.
KILL_FROM = 0.3
BACKFILL_START, BACKFILL_END = "2023-07-03", "2023-07-14"  # 10 trading days


@dataclass
class Trial:
    kind: str
    delay: float
    phase: str
    stale_after_fault: int = 0  # `running` rows the fault left (closed by the re-run)
    problems: list[str] = field(default_factory=list)


def env_for(folder: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORECASTER_")}
    env.update(TINY_ENV, FORECASTER_DATA_DIR=str(folder / "data"), PYTHONPATH=str(REPO), **extra)
    env.setdefault("NO_PROXY", "127.0.0.1,localhost")
    return env


def command(kind: str) -> list[str]:
    base = [sys.executable, "-m", "forecaster.cli"]
    if kind == "run":
        return [*base, "run", "--source", "csv", "--models", RUN_MODELS]
    if kind == "backfill":
        return [*base, "backfill", "--start", BACKFILL_START, "--end", BACKFILL_END, "--source", "csv"]
    return [*base, "daemon", "--run-now", "--skip-smoke"]


def setup(kind: str, folder: Path) -> dict[str, str]:
    """The folder's environment; for a backfill, a synthetic CSV of its own."""
    folder.mkdir(parents=True, exist_ok=True)
    if kind != "backfill":
        return env_for(folder, FORECASTER_MODELS=RUN_MODELS)
    csv = synthetic_csv(folder)
    return env_for(
        folder,
        FORECASTER_MODELS="rnn",
        FORECASTER_TICKERS=BACKFILL_TICKER,
        FORECASTER_RETRAIN_EVERY="3",
        FORECASTER_CSV_PATH=str(csv),
    )


def synthetic_csv(folder: Path) -> Path:
    """The backfill tests' synthetic tushare-layout CSV (see tests/test_backfill.py)."""
    import pandas as pd

    from tests.tushare_server import DAILY_FIELDS, synthetic_daily

    rows = synthetic_daily(BACKFILL_TICKER, date(2023, 1, 3), date(2023, 8, 31), seed=3, price=20.0)
    path = folder / "synthetic.csv"
    pd.DataFrame(rows, columns=DAILY_FIELDS).to_csv(path, index=False)
    return path


def run_clean(kind: str, folder: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        command("run" if kind == "daemon" else kind),
        env=env,
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"clean {kind} failed ({done.returncode}): {done.stderr[-2000:]}")
    return done


def reference(kind: str, root: Path) -> tuple[list[tuple[Any, ...]], float]:
    """A run that never faulted: its forecast rows and its wall time."""
    folder = root / f"reference-{kind}"
    env = setup(kind, folder)
    started = time.perf_counter()
    run_clean(kind, folder, env)
    return forecast_rows(folder / "data" / "forecaster.db"), time.perf_counter() - started


def phase_of(folder: Path) -> str:
    """Where a kill landed, from what it left behind."""
    data = folder / "data"
    db = data / "forecaster.db"
    if (data / "models").exists() and any((data / "models").rglob(".*.keras")):
        return "mid model save (temp file left)"
    if not db.exists():
        return "start-up (no database yet)"
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
        try:
            tables = {r[0] for r in conn.execute("select name from sqlite_master where type='table'")}
            if "runs" not in tables:
                return "migrating"
            runs = conn.execute("select status from runs order by id").fetchall()
            bars = conn.execute("select count(*) from bars").fetchone()[0]
            versions = {r[0] for r in conn.execute("select path from model_versions")}
            forecasts = conn.execute("select count(*) from forecasts").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return f"unreadable ({exc})"
    models = data / "models"
    files = {p.relative_to(data).as_posix() for p in models.rglob("*.keras")} if models.exists() else set()
    if files - versions:
        return "model file saved, its row not yet"
    if not runs:
        return "ingest (no run row yet)" if bars else "before ingest"
    if runs[-1][0] != "running":
        return "after the last run finished"
    if not versions:
        return "training (no model version yet)"
    return "after a model save (forecasts/plots being written)" if forecasts else "after a model save"


def kill_trial(kind: str, root: Path, index: int, delay: float, expected: list[tuple[Any, ...]]) -> Trial:
    """Start `kind`, SIGKILL it after `delay` s, check the invariants, re-run, compare rows."""
    folder = root / f"{kind}-{index}"
    env = setup(kind, folder)
    proc = subprocess.Popen(command(kind), env=env, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)  # reaped: a zombie would still look alive
    trial = Trial(kind, delay, phase_of(folder))
    trial.problems += after_fault(folder, trial)
    run_clean(kind, folder, env)
    trial.problems += after_rerun(folder, expected)
    shutil.rmtree(folder, ignore_errors=True)
    return trial


def after_fault(folder: Path, trial: Trial) -> list[str]:
    db = folder / "data" / "forecaster.db"
    if not db.exists():
        return []
    problems = check_invariants(db, folder / "data")
    stale = [p for p in problems if "'running' but its process" in p]
    trial.stale_after_fault = len(stale)  # expected right after a kill: the re-run must close them
    return [f"after the fault: {p}" for p in problems if p not in stale]


def after_rerun(folder: Path, expected: list[tuple[Any, ...]]) -> list[str]:
    db = folder / "data" / "forecaster.db"
    problems = [f"after the re-run: {p}" for p in check_invariants(db, folder / "data")]
    got = forecast_rows(db)
    if got != expected:
        missing, extra = set(expected) - set(got), set(got) - set(expected)
        problems.append(f"forecasts differ from a never-faulted run: {len(missing)} missing, {len(extra)} extra")
    return problems


def sigterm_trial(root: Path, index: int, delay: float, expected: list[tuple[Any, ...]]) -> Trial:
    """The daemon's routine is running; SIGTERM `delay` s later: exit 0 within 30 s, rows
    `interrupted`, invariants hold; then `forecaster run` completes with the reference rows."""
    folder = root / f"daemon-{index}"
    env = setup("daemon", folder)
    db = folder / "data" / "forecaster.db"
    proc = subprocess.Popen(
        command("daemon"), env=env, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    trial = Trial("daemon", delay, "daemon routine")
    try:
        _wait(lambda: _routine_running(db, proc), 180)
        time.sleep(delay)
        proc.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        _out, err = proc.communicate(timeout=60)
        if proc.returncode != 0:
            trial.problems.append(f"daemon exited {proc.returncode}: {err[-500:]}")
        if time.monotonic() - signalled > 30:
            trial.problems.append("daemon took more than 30 s to stop")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    with sqlite3.connect(db) as conn:
        statuses = conn.execute("select status from job_runs union all select status from runs").fetchall()
        versions = conn.execute("select count(*) from model_versions").fetchone()[0]
    run_status = statuses[-1][0] if statuses else "none"
    trial.phase = f"daemon stopped: run {run_status}, {versions} model version(s) saved"
    if any(s == "running" for (s,) in statuses):
        trial.problems.append(f"rows still 'running' after SIGTERM: {statuses}")
    trial.problems += [f"after SIGTERM: {p}" for p in check_invariants(db, folder / "data")]
    run_clean("daemon", folder, env)
    trial.problems += after_rerun(folder, expected)
    shutil.rmtree(folder, ignore_errors=True)
    return trial


def _routine_running(db: Path, proc: subprocess.Popen[str]) -> bool:
    if proc.poll() is not None:
        raise RuntimeError(f"daemon exited early: {proc.communicate()[1][-1000:]}")
    try:
        with sqlite3.connect(db, timeout=1) as conn:
            return bool(conn.execute("select 1 from runs where status = 'running'").fetchall())
    except sqlite3.Error:
        return False


def _wait(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("timed out waiting for the daemon's routine")
        time.sleep(0.05)


def summarize(kind: str, trials: list[Trial], seconds: float) -> None:
    failed = [t for t in trials if t.problems]
    print(f"\n== {kind}: {len(trials)} trial(s), {len(failed)} with problems, {seconds:.0f} s")
    for phase, n in sorted(Counter(t.phase for t in trials).items()):
        print(f"   {n:3d}  {phase}")
    stale = sum(t.stale_after_fault for t in trials)
    if stale:
        print(f"   'running' rows left by the fault and closed by the re-run: {stale}")
    for t in failed:
        print(f"   FAILED (delay {t.delay:.2f} s, {t.phase}): " + "; ".join(t.problems))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=20, help="kill -9 trials each for run and backfill")
    parser.add_argument("--sigterm-trials", type=int, default=5, help="SIGTERM trials of the daemon")
    parser.add_argument("--seed", type=int, default=1, help="seeds the random kill moments")
    parser.add_argument("--only", choices=["run", "backfill", "daemon"])
    args = parser.parse_args()
    rng = random.Random(args.seed)
    print(f"bench.faults: seed {args.seed}, {date.today()}")
    failures = 0
    with tempfile.TemporaryDirectory(prefix="forecaster-faults-") as tmp:
        root = Path(tmp)
        for kind in ("run", "backfill", "daemon"):
            if args.only not in (None, kind):
                continue
            count = args.sigterm_trials if kind == "daemon" else args.trials
            if count <= 0:
                continue
            started = time.perf_counter()
            expected, wall = reference("run" if kind == "daemon" else kind, root)
            print(f"{kind}: reference run {wall:.1f} s wall, {len(expected)} forecast rows")
            trials = []
            for i in range(count):
                if kind == "daemon":
                    trial = sigterm_trial(root, i, rng.uniform(0.0, wall / 3), expected)
                else:
                    trial = kill_trial(kind, root, i, rng.uniform(KILL_FROM * wall, wall), expected)
                print(f"  {kind} #{i}: delay {trial.delay:.2f} s, {trial.phase}: {'; '.join(trial.problems) or 'ok'}")
                trials.append(trial)
            summarize(kind, trials, time.perf_counter() - started)
            failures += sum(1 for t in trials if t.problems)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
