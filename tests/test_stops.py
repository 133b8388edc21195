"""SIGINT and SIGTERM during `run` and `backfill`: the run row says `interrupted` and which
signal, one line says so, the exit code is the shell's (130, 143), and the same command then
completes. A row whose process is gone never reads `running`. Tiny models on the bundled CSV."""

import signal
import sqlite3
import subprocess
import sys

import pytest
from click.testing import CliRunner

from forecaster import clock
from forecaster.cli import cli
from forecaster.cli.runtime import INTERRUPTED
from forecaster.routine.health import CRITICAL, last_daily_run
from forecaster.storage.db import open_database, session_factory, transaction
from forecaster.storage.runs import start_run
from tests.helpers import subprocess_env, tiny_settings, wait_for

# Enough epochs (no early stop) that each model trains for seconds: the command cannot finish
# between its run row appearing and the signal landing, however busy the machine.
SLOW_TRAINING = {"FORECASTER_MODELS": "rnn,lstm", "FORECASTER_MAX_EPOCHS": "30", "FORECASTER_PATIENCE": "30"}
BACKFILL = ["backfill", "--start", "2020-04-22", "--end", "2020-04-24"]


def runs(db: object) -> list[tuple[str, str, str | None]]:
    with sqlite3.connect(str(db)) as conn:
        return conn.execute("select command, status, error from runs order by id").fetchall()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "stop"), [(["run", "--no-plots"], signal.SIGINT), (BACKFILL, signal.SIGTERM)], ids=["run", "backfill"]
)
def test_a_signal_leaves_an_interrupted_row_and_the_same_command_completes(tmp_path, args, stop):
    env = subprocess_env(tmp_path, **SLOW_TRAINING)
    db = tmp_path / "data" / "forecaster.db"
    command = [sys.executable, "-m", "forecaster.cli", *args]
    proc = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def running() -> bool:
        assert proc.poll() is None, proc.communicate()
        try:
            return any(status == "running" for _c, status, _e in runs(db))
        except sqlite3.OperationalError:  # no database or table yet
            return False

    try:
        wait_for(running, 120, "the run row")
        proc.send_signal(stop)
        _out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + stop, err
    assert err.strip().splitlines()[-1] == INTERRUPTED
    assert "Traceback" not in err and "Aborted" not in err
    assert runs(db) == [(args[0], "interrupted", f"stopped by {stop.name}")]

    again = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert {status for command_, status, _e in runs(db)[1:]} == {"ok"}


def test_a_running_row_whose_process_is_gone_reads_interrupted(tmp_path, monkeypatch):
    """`status` and `health` read it as interrupted (they never write); the next run closes it."""
    settings = tiny_settings(tmp_path)
    factory = session_factory(open_database(settings.db_url))
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    with transaction(factory) as session:
        start_run(session, command="run", as_of=None, tickers=["sh600519"], pid=gone.pid, now=clock.now())
    with factory() as session:
        check = last_daily_run(session, clock.now(), settings.stale_run_minutes)
    assert check.status == CRITICAL and "run 1 interrupted (its process is gone)" in check.detail
    monkeypatch.setenv("FORECASTER_DATA_DIR", str(settings.data_dir))
    result = CliRunner().invoke(cli, ["status"])
    (line,) = [line for line in result.output.splitlines() if line.startswith("last run: 1 (run)")]
    assert line.endswith(" UTC interrupted (its process is gone)")
    assert runs(settings.data_dir / "forecaster.db") == [("run", "running", None)]  # read commands do not write
