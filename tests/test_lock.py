"""The run lock as the commands take it (`lock.run_lock`): a lock file with SQLite, an advisory lock
in the database with PostgreSQL. Either way a second holder is refused, naming the first, and a
killed holder leaves nothing behind."""

import subprocess
import sys
import time
from pathlib import Path

import pytest

from forecaster.errors import Interrupted, LockBusy
from forecaster.routine.lock import AdvisoryRunLock, RunLock, run_lock

pytestmark = pytest.mark.both_databases

REPO = Path(__file__).resolve().parent.parent


def test_the_database_decides_the_kind_of_lock(settings):
    lock = run_lock(settings, "run")
    assert isinstance(lock, AdvisoryRunLock if settings.db_url.startswith("postgresql") else RunLock)


def test_a_second_holder_is_refused_then_a_killed_holder_frees_the_lock(settings, tmp_path):
    code = (
        "import time; from forecaster.config import load_settings; from forecaster.routine.lock import run_lock; "
        f"s = load_settings(data_dir={str(tmp_path / 'data')!r}, database_url={settings.db_url!r}); "
        "lock = run_lock(s, 'run'); lock.acquire(); print('held', flush=True); time.sleep(60)"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(LockBusy, match=f"pid {holder.pid}, command run"):
            run_lock(settings, "backfill").acquire()
        started = time.monotonic()
        with pytest.raises(LockBusy, match=r"waited 0\.5 s"):
            run_lock(settings, "daemon daily_update", wait_s=0.5).acquire()
        assert 0.5 <= time.monotonic() - started < 3
        with pytest.raises(Interrupted):
            run_lock(settings, "daemon daily_update", wait_s=30, should_stop=lambda: True).acquire()
    finally:
        holder.kill()
        holder.wait()
    # The kernel (SQLite's flock) or the server (PostgreSQL's session) let go with the process;
    # the server may take a moment to see the closed connection.
    with run_lock(settings, "run", wait_s=10), pytest.raises(LockBusy, match="command run"):
        run_lock(settings, "backfill").acquire()
    with run_lock(settings, "backfill"):  # released: free again
        pass
