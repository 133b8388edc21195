"""`--format table|csv|json` on the commands that print rows: in CSV and JSON, stdout carries the
rows alone (CSV with its header, JSON that parses) and every line for people goes to stderr."""

import csv
import io
import sqlite3
from datetime import UTC, date, datetime

import pytest
from click.testing import CliRunner

from forecaster.cli import cli
from tests.helpers import strict_loads


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_backfill_ends_with_its_scores_in_csv_and_json():
    args = ("backfill", "--start", "2020-04-20", "--end", "2020-04-24", "--models", "")
    as_csv = invoke(*args, "--format", "csv")
    assert as_csv.exit_code == 0, as_csv.output
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert rows and {r["ticker"] for r in rows} == {"600519.SH"}
    assert {"naive", "garch"} <= {r["model"] for r in rows} and "mae" in rows[0]
    assert "backfill 2020-04-20..2020-04-24: 5 day(s), 0 already complete" in as_csv.stderr
    # Run again: every day is complete, the same scores come back, now as JSON.
    as_json = invoke(*args, "--format", "json")
    assert as_json.exit_code == 0, as_json.output
    scores = strict_loads(as_json.stdout)
    assert [(s["model"], s["horizon"]) for s in scores] == [(r["model"], int(r["horizon"])) for r in rows]
    assert "5 day(s), 5 already complete" in as_json.stderr


def _plots(data_dir, days: list[date]) -> None:
    assert invoke("db", "upgrade").exit_code == 0
    created = datetime(2020, 1, 1, tzinfo=UTC).isoformat(" ")
    with sqlite3.connect(data_dir / "forecaster.db") as conn:
        for day in days:
            path = f"plots/600519.SH/{day}_forecast.png"
            (data_dir / path).parent.mkdir(parents=True, exist_ok=True)
            (data_dir / path).write_bytes(b"png" * 10)
            conn.execute(
                "insert into plots (ticker, as_of, kind, path, created_at) values (?, ?, 'forecast', ?, ?)",
                ("600519.SH", day.isoformat(), path, created),
            )


def test_prune_lists_what_it_removes_in_each_format(tmp_path):
    data = tmp_path / "data"
    _plots(data, [date(2020, 1, 2), date(2020, 6, 1)])  # the first is past FORECASTER_KEEP_PLOT_DAYS (60)
    dry = invoke("prune", "--dry-run", "--format", "json")
    assert dry.exit_code == 0, dry.output
    assert strict_loads(dry.stdout) == [
        {
            "what": "plot",
            "ticker": "600519.SH",
            "label": "forecast 2020-01-02",
            "path": "plots/600519.SH/2020-01-02_forecast.png",
            "bytes": 30,
        }
    ]
    assert dry.stderr.strip() == "would remove 0 model file(s) and 1 plot(s), 30 bytes"
    done = invoke("prune", "--format", "csv")
    assert done.stdout.splitlines() == [
        "what,ticker,label,path,bytes",
        "plot,600519.SH,forecast 2020-01-02,plots/600519.SH/2020-01-02_forecast.png,30",
    ]
    assert not (data / "plots/600519.SH/2020-01-02_forecast.png").exists()
    again = invoke("prune")
    assert again.stdout.splitlines() == ["nothing to remove", "removed 0 model file(s) and 0 plot(s), 0 bytes"]
    assert invoke("prune", "--format", "csv").stdout == "what,ticker,label,path,bytes\n"


def test_daemon_list_in_json_and_csv():
    args = ("daemon", "--list", "--schedule", "0 18 * * 1-5", "--timezone", "UTC")
    as_json = invoke(*args, "--format", "json")
    assert as_json.exit_code == 0, as_json.output
    jobs = {j["job"]: j for j in strict_loads(as_json.stdout)}
    assert {"daily_update", "weekly_retrain"} <= set(jobs)
    fire = datetime.fromisoformat(jobs["daily_update"]["next_fire"])
    assert (fire.hour, fire.minute, fire.utcoffset(), fire.weekday() < 5) == (18, 0, UTC.utcoffset(None), True)
    assert jobs["daily_update"]["timezone"] == "UTC"
    as_csv = invoke(*args, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert as_csv.stdout.startswith("job,next_fire,timezone\n")
    assert [r["job"] for r in rows] == [j["job"] for j in strict_loads(as_json.stdout)]


def test_daemon_format_without_list_is_a_usage_error():
    result = invoke("daemon", "--format", "json")
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("Error: --format shapes the --list output; give it with --list")


@pytest.mark.slow
def test_smoke_prints_its_task_rows_as_json():
    result = invoke("smoke", "--task", "onehot-1to1", "--format", "json")
    assert result.exit_code == 0, result.output
    (row,) = strict_loads(result.stdout)
    assert (row["task"], row["ok"], row["accuracy"], row["reload_identical"]) == ("onehot-1to1", True, 1.0, True)
    assert "smoke test ok: 1 task(s)" in result.stderr
