"""The daemon: schedule, no-data days and late-bar retries, misfire catch-up, the run lock,
SIGTERM, and the job_runs records. Tiny models on the bundled CSV; nothing goes online."""

import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from forecaster.cli import cli
from forecaster.cli.logsetup import JsonFormatter
from forecaster.config import BUNDLED_CSV, Settings
from forecaster.daemon.jobrun import JobContext
from forecaster.daemon.scheduler import build_scheduler, planned_runs
from forecaster.daemon.triggers import cron_trigger, missed_fire_time
from forecaster.errors import ConfigError, LockBusy
from forecaster.ingest.sources.csvfile import CsvSource
from forecaster.ingest.update import ingest_ticker
from forecaster.routine.lock import RunLock, lock_path
from forecaster.storage.db import open_database, session_factory, transaction
from forecaster.storage.schema import ModelVersion
from forecaster.storage.schema_runs import JobRun, Run
from jobs import JOBS, daily_update
from tests.helpers import subprocess_env, tiny_env, tiny_settings, wait_for
from tests.invariants import check_invariants

REPO = Path(__file__).resolve().parent.parent
SHANGHAI = ZoneInfo("Asia/Shanghai")
NEWEST_CSV_BAR = date(2020, 4, 24)
TINY = tiny_env()


def tiny(tmp_path: Path, **extra: Any) -> Settings:
    return tiny_settings(tmp_path, **{"models": ["rnn"], **extra})


def context(settings: Settings, *, today: date, now: datetime) -> JobContext:
    factory = session_factory(open_database(settings.db_url))
    return JobContext(settings, factory, CsvSource(BUNDLED_CSV), today=lambda: today, now=lambda: now)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=SHANGHAI)


def next_fires(ctx: JobContext, now: datetime) -> dict[str, datetime | None]:
    scheduler = build_scheduler(ctx, JOBS, now=now, catch_up=False)
    return {p.job_id: p.next_fire for p in planned_runs(scheduler, now)}


# --- schedule -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "daily", "weekly"),
    [
        (at(date(2025, 6, 10), 9), at(date(2025, 6, 10), 17, 30), at(date(2025, 6, 14), 9)),  # Tue morning
        (at(date(2025, 6, 13), 20), at(date(2025, 6, 16), 17, 30), at(date(2025, 6, 14), 9)),  # Fri evening
        (at(date(2025, 6, 14), 10), at(date(2025, 6, 16), 17, 30), at(date(2025, 6, 21), 9)),  # Sat after 9
        # Golden Week: the cron trigger fires on a weekday holiday; the job itself finds no bar.
        (at(date(2025, 10, 1), 8), at(date(2025, 10, 1), 17, 30), at(date(2025, 10, 4), 9)),
    ],
)
def test_next_fire_times_of_an_unstarted_scheduler(tmp_path, now, daily, weekly):
    ctx = context(tiny(tmp_path), today=now.date(), now=now)
    assert next_fires(ctx, now) == {"daily_update": daily, "weekly_retrain": weekly}
    assert ctx.scheduler is not None and not ctx.scheduler.running


def test_crontab_weekday_numbers_mean_what_crontab_means():
    # APScheduler 3 alone would read 1-5 as Tuesday..Saturday.
    saturday = at(date(2025, 6, 14), 12)
    assert cron_trigger("30 17 * * 1-5", "Asia/Shanghai").get_next_fire_time(None, saturday) == at(
        date(2025, 6, 16), 17, 30
    )
    assert cron_trigger("0 9 * * 0", "Asia/Shanghai").get_next_fire_time(None, saturday) == at(date(2025, 6, 15), 9)
    assert cron_trigger("0 9 * * 7", "Asia/Shanghai").get_next_fire_time(None, saturday) == at(date(2025, 6, 15), 9)
    with pytest.raises(ConfigError, match="want 5 crontab fields"):
        cron_trigger("30 17 * *", "Asia/Shanghai")
    with pytest.raises(ConfigError, match="higher than the maximum"):
        cron_trigger("61 17 * * 1-5", "Asia/Shanghai")


def test_bad_schedule_is_one_line_at_start_up(tmp_path):
    result = CliRunner().invoke(cli, ["daemon", "--list"], env={"FORECASTER_SCHEDULE": "30 25 * * 1-5"})
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "Error: bad FORECASTER_SCHEDULE '30 25 * * 1-5': Error validating expression '25': "
        "the last value (25) is higher than the maximum value (23)"
    )
    assert not (tmp_path / "data").exists()  # refused before any database work


def test_list_prints_each_job_and_its_next_fire_time():
    result = CliRunner().invoke(cli, ["daemon", "--list", "--schedule", "0 18 * * 1-5", "--timezone", "UTC"])
    assert result.exit_code == 0, result.output
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["job", "next_fire", "timezone"]
    lines = dict(line.split(None, 1) for line in rows)
    assert set(lines) >= {"daily_update", "weekly_retrain"}
    daily, weekly = lines["daily_update"].split(), lines["weekly_retrain"].split()
    assert daily[0].endswith("T18:00:00+00:00") and weekly[0].endswith("T09:00:00+00:00")
    assert daily[1] == weekly[1] == "UTC"


# --- no-data days and late-bar retries ----------------------------------------------------


@pytest.fixture
def handled_db(tmp_path):
    """The bundled CSV stored, and a finished daily run that already forecast from its last bar."""
    settings = tiny(tmp_path, late_retries=2)
    factory = session_factory(open_database(settings.db_url))
    assert ingest_ticker(factory, CsvSource(BUNDLED_CSV), "600519.SH", today=date(2025, 9, 1)).ok
    with transaction(factory) as session:
        session.add(
            JobRun(
                job="daily_update",
                status="ok",
                as_of=NEWEST_CSV_BAR,
                started_at=datetime(2020, 4, 24, 9, 30, tzinfo=UTC),
            )
        )
    return settings


def job_rows(ctx: JobContext) -> list[JobRun]:
    with ctx.factory() as session:
        return list(session.scalars(select(JobRun).where(JobRun.pid.is_not(None)).order_by(JobRun.id)))


@pytest.mark.slow
def test_a_trading_day_without_a_new_bar_is_no_data_and_retries_a_bounded_number_of_times(handled_db):
    now = at(date(2025, 9, 30), 17, 30)  # a Tuesday, a trading day: the bar is late
    ctx = context(handled_db, today=now.date(), now=now)
    scheduler = build_scheduler(ctx, JOBS, now=now, catch_up=False)

    first = daily_update.run(ctx, scheduled_for=now)
    assert first.status == "no-data" and first.run_id is None
    assert "bar not published yet" in first.summary and "retry 1/2" in first.summary
    (retry,) = [j for j in scheduler.get_jobs() if j.id == "daily_update:retry"]
    assert retry.trigger.run_date == now + timedelta(minutes=30)
    assert retry.kwargs == {"scheduled_for": now + timedelta(minutes=30), "attempt": 1}

    last = daily_update.run(ctx, scheduled_for=now, attempt=2)  # the last allowed retry
    assert last.status == "no-data" and last.retry_at is None and "gave up after 2 retries" in last.summary

    rows = job_rows(ctx)
    assert [(r.status, r.run_id, r.finished_at is not None) for r in rows] == [("no-data", None, True)] * 2
    with ctx.factory() as session:  # nothing trained, no routine run recorded
        assert session.scalar(select(func.count()).select_from(Run)) == 0
        assert session.scalar(select(func.count()).select_from(ModelVersion)) == 0


def test_a_golden_week_holiday_is_no_data_without_retries(handled_db):
    now = at(date(2025, 10, 1), 17, 30)  # National Day: a Wednesday, exchange closed
    ctx = context(handled_db, today=now.date(), now=now)
    scheduler = build_scheduler(ctx, JOBS, now=now, catch_up=False)
    record = daily_update.run(ctx, scheduled_for=now)
    assert record.status == "no-data" and "not a trading day" in record.summary
    assert record.retry_at is None
    assert not [j for j in scheduler.get_jobs() if j.id.endswith(":retry")]


# --- misfires ---------------------------------------------------------------------------------


def test_missed_ticks_within_the_grace_period_give_one_catch_up(tmp_path):
    settings = tiny(tmp_path, schedule="0 * * * *", misfire_grace_s=6 * 3600)
    now = datetime(2025, 6, 10, 12, 20, tzinfo=UTC)
    ctx = context(settings, today=now.date(), now=now)
    with transaction(ctx.factory) as session:  # the daemon last ran the 02:00 tick, then was down
        session.add(
            JobRun(job="daily_update", status="ok", scheduled_for=datetime(2025, 6, 10, 2, tzinfo=UTC), started_at=now)
        )
    scheduler = build_scheduler(ctx, JOBS, now=now)
    catch_ups = [j for j in scheduler.get_jobs() if j.id.endswith(":catch-up")]
    # Ten ticks were missed, six of them within the grace period: one run, for the newest tick.
    # (02:00 UTC is 10:00 in Shanghai, the scheduler's zone; now is 20:20 there.)
    assert [(j.id, j.kwargs) for j in catch_ups] == [
        ("daily_update:catch-up", {"scheduled_for": datetime(2025, 6, 10, 20, tzinfo=SHANGHAI)})
    ]
    assert catch_ups[0].trigger.run_date == now
    (daily,) = [j for j in scheduler.get_jobs() if j.id == "daily_update"]
    assert daily.coalesce is True and daily.misfire_grace_time == 6 * 3600


def test_missed_fire_time_rules():
    trigger = cron_trigger("30 17 * * 1-5", "Asia/Shanghai")
    grace = timedelta(hours=6)
    friday_fire = at(date(2025, 6, 13), 17, 30)
    assert missed_fire_time(trigger, None, at(date(2025, 6, 13), 20), grace) == friday_fire
    assert missed_fire_time(trigger, friday_fire, at(date(2025, 6, 13), 20), grace) is None  # already ran
    assert missed_fire_time(trigger, None, at(date(2025, 6, 14), 2), grace) is None  # 8.5 h late: past grace
    assert missed_fire_time(trigger, None, at(date(2025, 6, 13), 17), grace) is None  # not yet due


# --- the run lock -------------------------------------------------------------------------------


def test_the_lock_refuses_a_second_holder_with_the_first_ones_pid_and_command(tmp_path):
    path = tmp_path / "data" / "forecaster.lock"
    with RunLock(path, "run"):
        with pytest.raises(LockBusy) as busy:
            RunLock(path, "backfill").acquire()
        assert str(busy.value).startswith(f"another forecaster run (pid {os.getpid()}, command run) holds the lock")
        started = time.monotonic()
        with pytest.raises(LockBusy, match=r"waited 0\.5 s"):
            RunLock(path, "daemon daily_update", wait_s=0.5).acquire()
        assert 0.5 <= time.monotonic() - started < 2
    with RunLock(path, "backfill"):  # released: free again
        assert json.loads(path.read_text())["command"] == "backfill"


@pytest.mark.slow
def test_a_killed_holder_never_leaves_a_stale_lock(tmp_path):
    path = tmp_path / "forecaster.lock"
    code = (
        "import sys, time; from pathlib import Path; from forecaster.routine.lock import RunLock; "
        f"lock = RunLock(Path({str(path)!r}), 'run'); lock.acquire(); print('held', flush=True); time.sleep(60)"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(LockBusy, match=f"pid {holder.pid}, command run"):
            RunLock(path, "run").acquire()
    finally:
        holder.kill()
        holder.wait()
    with RunLock(path, "run"):  # the kernel released it with the process; the file is still there
        assert path.exists()


def test_a_job_that_cannot_get_the_lock_is_skipped(handled_db):
    settings = handled_db.model_copy(update={"job_lock_wait_s": 0.3})
    now = at(date(2025, 9, 30), 17, 30)
    ctx = context(settings, today=now.date(), now=now)
    with RunLock(lock_path(settings), "backfill"):
        record = daily_update.run(ctx, scheduled_for=now)
    assert record.status == "skipped"
    assert record.error is not None and "command backfill) holds the lock" in record.error
    assert [r.status for r in job_rows(ctx)] == ["skipped"]


@pytest.mark.slow
def test_two_concurrent_runs_one_trains_the_other_exits_with_the_lock_message(tmp_path):
    env = subprocess_env(tmp_path, FORECASTER_MODELS="rnn")
    command = [sys.executable, "-m", "forecaster.cli", "run", "--no-plots"]
    first = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lock = tmp_path / "data" / "forecaster.lock"
    wait_for(lambda: lock.is_file() and f'"pid": {first.pid}' in lock.read_text(), 60, "the first run's lock")
    second = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    _out, err = first.communicate(timeout=180)
    assert second.returncode == 1
    assert second.stderr.strip() == (
        f"Error: another forecaster run (pid {first.pid}, command run) holds the lock {lock}"
    )
    assert first.returncode == 0, err
    with sqlite3.connect(tmp_path / "data" / "forecaster.db") as conn:
        assert conn.execute("select command, status from runs").fetchall() == [("run", "ok")]


# --- SIGTERM -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_sigterm_during_a_run_stops_cleanly_and_the_next_run_completes(tmp_path):
    # Enough epochs (no early stop) that each model takes seconds: the routine cannot finish
    # all three between the run row appearing and the signal landing, however busy the machine.
    env = subprocess_env(
        tmp_path,
        FORECASTER_MODELS="rnn,lstm,gru",
        FORECASTER_LOG_FORMAT="json",
        FORECASTER_MAX_EPOCHS="40",
        FORECASTER_PATIENCE="40",
        # A one-second grace: started within six hours of a real fire time (Saturday 09:00 CST for the
        # weekly retrain), the daemon would also queue that job's catch-up run beside --run-now.
        FORECASTER_MISFIRE_GRACE_S="1",
    )
    db = tmp_path / "data" / "forecaster.db"
    daemon = subprocess.Popen(
        [sys.executable, "-m", "forecaster.cli", "daemon", "--run-now", "--skip-smoke"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    def routine_running() -> bool:
        if daemon.poll() is not None:
            raise AssertionError(f"daemon exited early: {daemon.communicate()}")
        try:
            with sqlite3.connect(db) as conn:
                return bool(conn.execute("select 1 from runs where status = 'running'").fetchall())
        except sqlite3.OperationalError:  # not created yet
            return False

    try:
        wait_for(routine_running, 120, "the daemon's routine to start")
        daemon.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        _out, err = daemon.communicate(timeout=60)
    finally:
        if daemon.poll() is None:
            daemon.kill()
    assert daemon.returncode == 0, err
    assert time.monotonic() - signalled < 30
    logs = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert any(e["message"].startswith("daily_update: interrupted") for e in logs), err
    with sqlite3.connect(db) as conn:
        assert conn.execute("pragma integrity_check").fetchone() == ("ok",)
        job = conn.execute("select job, status, run_id, finished_at is not null from job_runs").fetchall()
        assert job == [("daily_update", "interrupted", 1, 1)]
        assert conn.execute("select status, finished_at is not null from runs").fetchall() == [("interrupted", 1)]

    # The next run picks up the bars the interrupted one ingested but never forecast from.
    settings = tiny(tmp_path, models=["rnn"])
    now = datetime.now(UTC)
    ctx = context(settings, today=date(2026, 11, 27), now=now)
    record = daily_update.run(ctx, scheduled_for=now)
    assert (record.status, record.as_of, record.run_id) == ("ok", NEWEST_CSV_BAR, 2), record.error
    with ctx.factory() as session:
        assert session.scalar(select(Run.status).where(Run.id == 2)) == "ok"
    assert check_invariants(db, tmp_path / "data") == []


# --- start-up, status, logs ---------------------------------------------------------------------


@pytest.mark.slow
def test_a_failing_smoke_test_refuses_to_start(monkeypatch):
    from forecaster.course import letters as smoke

    def failing(*args: Any, **kwargs: Any) -> list[Any]:
        result = smoke.run_task(smoke.TASKS["onehot-1to1"], 1, 0, Path("smoke"))
        assert not result.ok  # one epoch cannot learn it
        return [result]

    monkeypatch.setattr(smoke, "run_smoke", failing)
    result = CliRunner().invoke(cli, ["daemon"])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: smoke test failed at start-up (onehot-1to1); the daemon did not start"
    )


def test_status_shows_recent_job_runs_and_next_fire_times(handled_db):
    result = CliRunner().invoke(cli, ["status"], env={"FORECASTER_DATA_DIR": str(handled_db.data_dir)})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "job daily_update    2020-04-24 09:30 UTC ok" in lines
    assert any(ln.startswith("next daily_update") and ln.endswith("17:30 CST") for ln in lines), lines
    assert any(ln.startswith("next weekly_retrain") and ln.endswith("09:00 CST") for ln in lines), lines


def test_json_log_lines():
    record = logging.LogRecord(
        "forecaster.daemon.jobrun", logging.INFO, __file__, 1, "ingest %s in %.1f s", ("x", 1.25), None
    )
    entry = json.loads(JsonFormatter().format(record))
    expected = ("INFO", "forecaster.daemon.jobrun", "ingest x in 1.2 s")
    assert (entry["level"], entry["logger"], entry["message"]) == expected
