"""Backfill: a walk-forward replay that is leak-free, idempotent and resumable."""

import json
import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from forecaster.cli import cli
from forecaster.config import Settings, load_settings
from forecaster.course.experiment import course_experiment
from forecaster.ingest.sources.csvfile import CsvSource
from forecaster.ingest.update import ingest_ticker
from forecaster.model.spec import BASELINES, ModelKind
from forecaster.routine.backfill import backfill
from forecaster.routine.driver import RoutineOptions
from forecaster.routine.pipeline import run_routine
from forecaster.scoring.evaluation import accuracy
from forecaster.storage.db import open_database, session_factory
from tests.helpers import SYNTHETIC_TICKER as TICKER
from tests.helpers import TODAY, poison_after, synthetic_csv, tiny_env, tiny_settings
from tests.invariants import check_invariants

START, END = date(2023, 7, 3), date(2023, 7, 14)  # 10 trading days
TINY = {"retrain_every": 5, "models": ["rnn"]}  # on top of conftest.TINY
TINY_ENV = {**tiny_env(models=["rnn"]), "FORECASTER_TICKERS": TICKER}


def setup(folder: Path, **extra: Any) -> tuple[Settings, Any]:
    settings = tiny_settings(folder, **{**TINY, **extra})
    factory = session_factory(open_database(settings.db_url))
    assert ingest_ticker(factory, CsvSource(synthetic_csv(folder)), TICKER, today=TODAY).ok
    return settings, factory


def replay(settings, factory, start=START, end=END, *, kinds=("rnn",), between="predict", on_day=None):
    return backfill(
        settings,
        factory,
        tickers=[TICKER],
        start=start,
        end=end,
        options=RoutineOptions(kinds=kinds, between=between),
        today=TODAY,
        **({"on_day": on_day} if on_day else {}),
    )


POINT_COLUMNS = "model, model_version_id, as_of, target_date, horizon, yhat, actual"
INTERVAL_COLUMNS = (
    "model, model_version_id, as_of, target_date, yhat, q025, q500, q975, lo80, hi80, lo95, hi95, scale80, scale95, "
    "actual"
)


def forecast_rows(factory, columns: str = POINT_COLUMNS) -> list[tuple[Any, ...]]:
    """Every forecast row's `columns`, in one stable order."""
    with factory() as s:
        query = text(f"select {columns} from forecasts order by model, as_of, target_date")
        return [tuple(r) for r in s.execute(query).all()]


@pytest.mark.slow
def test_backfill_replays_each_day_retrains_on_schedule_and_is_idempotent(tmp_path):
    settings, factory = setup(tmp_path)
    report = replay(settings, factory)
    assert report.ok, report.failures
    assert len(report.days) == 10 and report.skipped == 0 and len(report.runs) == 10
    with factory() as s:
        actions = s.execute(
            text("select r.as_of, i.action from run_items i join runs r on r.id = i.run_id order by r.as_of")
        ).all()
        assert [a for _, a in actions] == ["retrain"] + ["reuse"] * 4 + ["retrain"] + ["reuse"] * 4
        assert s.scalar(text("select count(*) from model_versions")) == 2
        assert s.scalar(text("select count(distinct as_of) from forecasts")) == 10
        assert s.scalar(text("select count(*) from forecasts where actual is null")) == 0  # bars exist up to August
    before = forecast_rows(factory)
    again = replay(settings, factory)
    assert again.skipped == 10 and again.runs == []
    assert forecast_rows(factory) == before


@pytest.mark.slow
def test_backfill_reads_nothing_after_each_day(tmp_path):
    clean_settings, clean = setup(tmp_path / "clean")
    poisoned_settings, poisoned = setup(tmp_path / "poisoned")
    poison_after(poisoned, END)
    assert replay(clean_settings, clean).ok and replay(poisoned_settings, poisoned).ok

    def yhat(factory):
        return [(m, a, t, y) for m, _, a, t, _, y, _ in forecast_rows(factory)]

    assert yhat(clean) == yhat(poisoned)


@pytest.mark.slow
def test_accuracy_matches_the_view_and_has_the_baselines(tmp_path):
    settings, factory = setup(tmp_path)
    assert replay(settings, factory).ok
    with factory() as s:
        rows = {r.model: r for r in accuracy(s, since=date(2023, 7, 4), until=END)}
        view = {r.model: r for r in s.execute(text("select * from v_accuracy")).all()}
    assert set(rows) == {"rnn", *BASELINES}
    assert rows["naive"].rel_mae == 1.0 and rows["naive"].scores.n == 9  # targets 07-04 .. 07-14
    for model in rows:
        # The view covers all matured forecasts (one more target, 07-17); recompute on the same set.
        assert view[model].n == 10
    with factory() as s:
        all_rows = {r.model: r for r in accuracy(s)}
    for model, row in all_rows.items():
        assert row.scores.mae == pytest.approx(view[model].mae)
        assert row.scores.rmse == pytest.approx(view[model].rmse)
        assert row.scores.mape == pytest.approx(view[model].mape)
        if model not in ("naive", "ewma"):  # their point is the last close: every direction is a tie
            assert row.scores.hit_rate == pytest.approx(view[model].hit_rate)


@pytest.mark.slow
def test_evaluate_command_formats(tmp_path, monkeypatch):
    settings, factory = setup(tmp_path)
    assert replay(settings, factory).ok
    monkeypatch.setenv("FORECASTER_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    as_json = runner.invoke(cli, ["evaluate", "--format", "json"], catch_exceptions=False)
    assert as_json.exit_code == 0
    data = json.loads(as_json.stdout)
    assert [d["model"] for d in data] == ["rnn", *BASELINES]
    assert {"model", "horizon", "n", "mae", "rmse", "mape", "mase", "hit_rate", "rel_mae"} <= set(data[0])
    intervals = {"coverage_80", "coverage_95", "width_80", "winkler_80", "pinball", "rel_pinball"}
    by_model = {d["model"]: d for d in data}
    # garch needs 250 returns for quantiles; the synthetic stock has 160 bars: no interval scores
    with_intervals = [m for m in ("rnn", *BASELINES) if m != "garch"]
    assert all(isinstance(by_model[m][k], float) for m in with_intervals for k in intervals)
    assert all(by_model["garch"][k] is None for k in intervals)
    assert by_model["naive"]["rel_pinball"] == 1.0 and 0.0 <= by_model["ewma"]["coverage_80"] <= 1.0
    as_csv = runner.invoke(cli, ["evaluate", "--format", "csv", "--since", "2023-07-10"], catch_exceptions=False)
    lines = as_csv.stdout.splitlines()
    # a header, rnn and the baselines
    assert lines[0].startswith("ticker,model,horizon,n,") and len(lines) == 2 + len(BASELINES)
    table = runner.invoke(cli, ["evaluate"], catch_exceptions=False).stdout
    assert table.splitlines()[0].split()[:4] == ["ticker", "model", "horizon", "n"]


@pytest.mark.slow
def test_backfill_resumes_after_a_kill_with_the_same_rows(tmp_path):
    """Kill the CLI half-way with SIGKILL, run it again: same rows as an uninterrupted run."""
    csv = synthetic_csv(tmp_path)

    def command(folder: Path) -> tuple[list[str], dict[str, str]]:
        env = {
            **os.environ,
            **TINY_ENV,
            "FORECASTER_DATA_DIR": str(folder / "data"),
            "FORECASTER_RETRAIN_EVERY": "3",
            "FORECASTER_CSV_PATH": str(csv),
        }
        args = [
            sys.executable,
            "-m",
            "forecaster.cli",
            "backfill",
            "--start",
            START.isoformat(),
            "--end",
            END.isoformat(),
            "--source",
            "csv",
        ]
        return args, env

    args, env = command(tmp_path / "whole")
    subprocess.run(args, env=env, check=True, capture_output=True, timeout=300)
    whole = session_factory(open_database(f"sqlite:///{tmp_path / 'whole' / 'data' / 'forecaster.db'}"))

    args, env = command(tmp_path / "killed")
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = tmp_path / "killed" / "data" / "forecaster.db"
    deadline = time.monotonic() + 240
    days = 0
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
        if db.exists():
            try:
                days = _days_done(db)
            except Exception:  # noqa: BLE001  # mid-migration or locked: look again
                continue
            if days >= 4:
                proc.send_signal(signal.SIGKILL)
                break
    proc.wait(timeout=30)
    assert 4 <= days < 10, f"the kill came too late or never ({days} days done)"
    resumed = subprocess.run(args, env=env, check=True, capture_output=True, text=True, timeout=300)
    assert "already complete" not in resumed.stderr  # no terminal: no progress bar noise
    assert f"backfill {START}..{END}: 10 day(s), " in resumed.stdout
    killed = session_factory(open_database(f"sqlite:///{db}"))
    assert check_invariants(db, db.parent) == []  # the killed run's `running` row is closed too
    assert forecast_rows(killed) == forecast_rows(whole)
    with killed() as s, whole() as w:
        query = "select kind, as_of, action, epochs_run, train_loss from model_versions order by id"
        assert s.execute(text(query)).all() == w.execute(text(query)).all()


def _days_done(db: Path) -> int:
    import sqlite3

    with sqlite3.connect(db, timeout=1) as conn:
        return int(conn.execute("select count(distinct as_of) from forecasts where model = 'rnn'").fetchone()[0])


@pytest.mark.slow
def test_course_experiment_scores_the_course_dates():
    settings = load_settings()
    rows = {r["model"]: r for r in course_experiment(settings, kinds=("rnn",), course_settings=True, seeds=2, epochs=1)}
    assert set(rows) == {"rnn", *BASELINES}  # one network: no ensemble
    # The course's networks are point networks (MSE): no interval columns; the baselines have them.
    assert rows["rnn"]["pinball"] != rows["rnn"]["pinball"] and rows["naive"]["rel_pinball"] == 1.0  # NaN check
    assert rows["rnn"]["n"] == 240 and rows["rnn"]["seeds"] == "7..8" and rows["rnn"]["target"] == "open"
    # The course test period's naive (last close -> next open), as in shared/docs/EVALUATION.md.
    assert rows["naive"]["mae"] == pytest.approx(7.46, abs=0.005)
    assert rows["naive"]["rmse"] == pytest.approx(11.93, abs=0.005)
    assert rows["naive"]["rel_mae"] == 1.0
    assert isinstance(rows["rnn"]["mae_sd"], float) and rows["rnn"]["mae_sd"] > 0  # two seeds, two different models


@pytest.mark.slow
def test_a_fine_tuning_backfill_keeps_its_files_bounded_as_it_goes(tmp_path, monkeypatch):
    settings, factory = setup(tmp_path, keep_model_versions=2)
    monkeypatch.setattr("forecaster.routine.backfill.PRUNE_EVERY", 3)
    files: list[int] = []

    def on_day(day, run, total):
        files.append(len(list((settings.data_dir / "models").rglob("*.keras"))))

    report = replay(settings, factory, between="finetune", on_day=on_day)
    assert report.ok, report.failures
    # A version a day; a pass every third day leaves the two newest (the last one the next day's parent).
    assert files == [1, 2, 2, 3, 4, 2, 3, 4, 2, 2]
    with factory() as s:
        assert s.scalar(text("select count(*) from model_versions")) == 10  # every row stays, marked
        assert s.scalar(text("select count(*) from model_versions where pruned_at is not null")) == 8
    assert check_invariants(settings.data_dir / "forecaster.db", settings.data_dir) == []  # pruned files are absent


@pytest.mark.slow
def test_a_backfill_writes_the_rows_of_the_routine_run_day_by_day(tmp_path):
    # The backfill shares work between days (the calendar prepared once, retention every 20 days,
    # versions kept loaded in the resident networks); none of it may change a stored value.
    kinds: tuple[ModelKind, ...] = ("rnn", "gru")
    settings, factory = setup(tmp_path / "backfill", models=list(kinds))
    report = replay(settings, factory, kinds=kinds)
    assert report.ok, report.failures
    daily_settings, daily = setup(tmp_path / "daily", models=list(kinds))
    for day in report.days:
        run = run_routine(
            daily_settings,
            daily,
            tickers=[TICKER],
            options=RoutineOptions(kinds=kinds, as_of=day, between="predict", plots=False),
            source=None,
            today=TODAY,
        )
        assert run.ok
    rows = forecast_rows(factory, INTERVAL_COLUMNS)
    # + the baselines and the ensemble
    assert len(rows) == 10 * (len(kinds) + len(BASELINES) + 1) and rows == forecast_rows(daily, INTERVAL_COLUMNS)


@pytest.mark.slow
def test_a_line_fine_tuned_every_day_is_retrained_when_its_last_retrain_is_old_enough(tmp_path):
    settings, factory = setup(tmp_path, retrain_every=4)
    assert replay(settings, factory, between="finetune").ok
    with factory() as s:
        actions = s.execute(text("select action from model_versions order by as_of")).scalars().all()
    # Its newest version is always a day old; the age that counts is the last retrain's.
    assert actions == ["retrain", "finetune", "finetune", "finetune"] * 2 + ["retrain", "finetune"]
