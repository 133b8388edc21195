"""Read-only and broken storage: every read command answers from a read-only copy of the data
folder, every write command refuses it in one line, `health` grades an unusable database 2 or 3,
and no read command creates a database."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from forecaster.cli import cli
from forecaster.config import Settings
from tests.helpers import TICKER, pipeline_settings, ready_db, routine, subprocess_env

REPO = Path(__file__).resolve().parent.parent

# Run inside the read-only folder, as its own process: each command through click, in-process.
COMMANDS = {
    "status": ["status"],
    "forecasts": ["forecasts", "--latest"],
    "evaluate": ["evaluate"],
    "report": ["report", "--out", "{out}"],
    "health": ["health"],
    "calendar": ["calendar", "--from", "2020-04-20", "--to", "2020-04-24"],
    "run": ["run", "--models", "rnn"],
    "backfill": ["backfill", "--start", "2020-04-23", "--end", "2020-04-24", "--no-ingest"],
    "ingest": ["ingest", "--source", "csv"],
    "prune": ["prune"],
    "db upgrade": ["db", "upgrade"],
}
SCRIPT = """
import json, sys
from click.testing import CliRunner
from forecaster.cli import cli
commands, out = json.loads(sys.argv[1]), sys.argv[2]
results = {}
for name, args in commands.items():
    r = CliRunner().invoke(cli, [a.replace("{out}", out) for a in args])
    results[name] = [r.exit_code, r.stdout, r.stderr]
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder (`.../data`) with bars and one baseline run: something for every read command to show."""
    settings = pipeline_settings(tmp_path_factory.mktemp("readonly"))
    routine(settings, ready_db(settings), kinds=(), plots=False)
    return settings.data_dir


def read_only_results(data: Path, out: Path) -> dict[str, list[Any]]:
    """Every command of COMMANDS on `data` bind-mounted read-only in a mount namespace of its own."""
    inner = f"mount --bind -o ro {data} {data} && exec {sys.executable} -c '{SCRIPT}' '{json.dumps(COMMANDS)}' {out}"
    done = subprocess.run(
        ["unshare", "-m", "sh", "-c", inner],
        env=subprocess_env(data.parent),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr
    results: dict[str, list[Any]] = json.loads(done.stdout.splitlines()[-1])
    return results


def mounts_allowed() -> str | None:
    """Why a read-only bind mount cannot be made here, or None when it can."""
    if os.geteuid() != 0:
        # No chmod stand-in: a folder made unwritable by permissions is not a read-only file system
        # (other errors, other code paths), and a test that passes on it would claim too much.
        return "a read-only mount needs root (unshare -m); as another user the read-only case is not tested"
    if shutil.which("unshare") is None:
        return "no unshare(1) on this machine"
    probe = subprocess.run(["unshare", "-m", "mount", "--bind", "-o", "ro", "/tmp", "/tmp"], capture_output=True)
    return None if probe.returncode == 0 else f"no mount namespace here: {probe.stderr.decode().strip()}"


@pytest.mark.slow
def test_a_read_only_mount_answers_read_commands_and_write_commands_refuse_in_one_line(data_dir, tmp_path):
    why = mounts_allowed()
    if why:
        pytest.skip(why)
    before = sorted(p.name for p in data_dir.iterdir())
    results = read_only_results(data_dir, tmp_path / "report")
    for name in ("status", "forecasts", "evaluate", "report", "calendar"):
        code, out, err = results[name]
        assert (code, err) == (0, ""), (name, out, err)
    assert TICKER in results["status"][1] and TICKER in results["forecasts"][1]
    assert (tmp_path / "report" / "index.html").is_file()
    code, out, _err = results["health"]
    assert code in (0, 1, 2) and "quick_check ok" in out  # the checks ran (the bars are years old)
    for name in ("run", "backfill", "ingest", "prune", "db upgrade"):
        code, out, err = results[name]
        assert code == 1, (name, out, err)
        (line,) = err.strip().splitlines()
        assert str(data_dir) in line and ("Read-only file system" in line or "read-only" in line), (name, line)
    assert sorted(p.name for p in data_dir.iterdir()) == before


def test_read_commands_never_create_a_database(tmp_path, monkeypatch):
    monkeypatch.setenv("FORECASTER_DATA_DIR", str(tmp_path / "data"))
    for args in (["status"], ["forecasts", "--latest"], ["evaluate"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 1
        assert result.stderr.strip() == (
            f"Error: no database at {tmp_path / 'data' / 'forecaster.db'}; "
            "run `forecaster run` or `forecaster db upgrade` first"
        )
    assert not (tmp_path / "data").exists()


def health_of(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    monkeypatch.setenv("FORECASTER_DATA_DIR", str(tmp_path / "data"))
    result = CliRunner().invoke(cli, ["health"])
    return result.exit_code, result.stdout.strip()


def test_health_is_critical_for_a_corrupt_database(tmp_path, monkeypatch):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "forecaster.db").write_bytes(b"not a database, garbage bytes " * 200)
    assert health_of(tmp_path, monkeypatch) == (
        2,
        "CRITICAL  database           cannot open the database: file is not a database",
    )


@pytest.mark.parametrize("where", ["missing", "a folder"])
def test_health_is_unknown_when_there_is_nothing_to_check(tmp_path, monkeypatch, where):
    db = tmp_path / "data" / "forecaster.db"
    if where == "a folder":
        db.mkdir(parents=True)
    code, out = health_of(tmp_path, monkeypatch)
    assert code == 3
    assert out.startswith(f"UNKNOWN   database           no database at {db}")


def test_an_older_schema_is_refused_by_read_commands_not_migrated(tmp_path, monkeypatch):
    from forecaster.storage.db import current_revision, downgrade, make_engine, open_database

    settings = Settings(data_dir=tmp_path / "data")
    engine = open_database(settings.db_url)
    downgrade(engine, "-1")
    older = current_revision(engine)
    monkeypatch.setenv("FORECASTER_DATA_DIR", str(settings.data_dir))
    result = CliRunner().invoke(cli, ["status"])
    assert result.exit_code == 1 and "older than this code's" in result.stderr
    assert "run `forecaster db upgrade` first" in result.stderr
    assert current_revision(make_engine(settings.db_url)) == older
    assert health_of(tmp_path, monkeypatch)[0] == 3
