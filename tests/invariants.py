"""What must hold in a forecaster database after any fault: one function, used by the fault tests
(tests/test_faults.py) and the longer fault benchmark (bench/faults.py).

Read with the plain sqlite3 module, not the product's own code, so a bug in the product's
readers cannot hide a bug in its writers.
"""

import hashlib
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from forecaster.model.spec import BASELINES as BASELINE_MODELS
from forecaster.model.spec import ENSEMBLE
from forecaster.storage.runs import process_alive

# Models whose forecasts have no model version: the baselines and the ensemble.
BASELINES = (*BASELINE_MODELS, ENSEMBLE)
# Natural keys that must be unique (the schema enforces most; a check costs nothing).
NATURAL_KEYS = {
    "bars": ("ticker", "trade_date"),
    "adj_factors": ("ticker", "trade_date"),
    "forecasts": ("ticker", "model", "as_of", "target_date"),
    "plots": ("ticker", "as_of", "kind"),
}
# The rows a run that never faulted must reproduce exactly.
FORECAST_QUERY = "select model, as_of, target_date, yhat from forecasts order by model, as_of, target_date"


def check_invariants(db: Path, data_dir: Path, *, live_pids: Iterable[int] = ()) -> list[str]:
    """Every broken invariant, as one line each; [] when the database is sound.

    - `PRAGMA integrity_check` is ok;
    - every forecast of a network references an existing model version whose file exists with
      the recorded sha256; baselines reference none;
    - no duplicate natural keys;
    - no `running` row in runs / job_runs without a live process (`live_pids` are processes the
      caller knows are still running, e.g. a daemon it has not stopped yet).
    """
    problems: list[str] = []
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        integrity = [r[0] for r in conn.execute("pragma integrity_check")]
        if integrity != ["ok"]:
            return [f"integrity_check: {integrity[:5]}"]
        tables = {r[0] for r in conn.execute("select name from sqlite_master where type = 'table'")}
        problems += _forecast_versions(conn, data_dir, tables)
        problems += _duplicates(conn, tables)
        problems += _stale_running(conn, tables, set(live_pids))
    finally:
        conn.close()
    return problems


def _forecast_versions(conn: sqlite3.Connection, data_dir: Path, tables: set[str]) -> list[str]:
    if "forecasts" not in tables:
        return []
    problems: list[str] = []
    placeholders = ", ".join("?" * len(BASELINES))
    bad_baselines = conn.execute(
        f"select count(*) from forecasts where model in ({placeholders}) and model_version_id is not null", BASELINES
    ).fetchone()[0]
    if bad_baselines:
        problems.append(f"{bad_baselines} baseline forecast(s) reference a model version")
    # pruned_at exists from migration 0011 on; an older database has no pruned versions.
    has_pruned = "pruned_at" in {r[1] for r in conn.execute("pragma table_info(model_versions)")}
    pruned_col = "v.pruned_at" if has_pruned else "null"
    rows = conn.execute(
        f"select f.model, f.model_version_id, v.id, v.kind, v.path, v.sha256, {pruned_col}, count(*) from forecasts f "
        f"left join model_versions v on v.id = f.model_version_id where f.model not in ({placeholders}) "
        "group by f.model, f.model_version_id",
        BASELINES,
    ).fetchall()
    for model, version_id, found, kind, path, sha, pruned_at, n in rows:
        if version_id is None or found is None:
            problems.append(f"{n} {model} forecast(s) reference missing model version {version_id}")
            continue
        if kind != model:
            problems.append(f"{n} {model} forecast(s) reference a {kind} version ({version_id})")
        file = data_dir / path
        if pruned_at is not None:  # retention removed the file; the row stays for the forecasts
            if file.exists():
                problems.append(f"model version {version_id}: pruned, but file {path} is still there")
            continue
        if not file.is_file():
            problems.append(f"model version {version_id}: file {path} is missing")
        elif hashlib.sha256(file.read_bytes()).hexdigest() != sha:
            problems.append(f"model version {version_id}: file {path} does not match its sha256")
    return problems


def _duplicates(conn: sqlite3.Connection, tables: set[str]) -> list[str]:
    problems = []
    for table, key in NATURAL_KEYS.items():
        if table not in tables:
            continue
        cols = ", ".join(key)
        dup = conn.execute(
            f"select count(*) from (select {cols} from {table} group by {cols} having count(*) > 1)"
        ).fetchone()[0]
        if dup:
            problems.append(f"{table}: {dup} duplicated natural key(s) ({cols})")
    return problems


def _stale_running(conn: sqlite3.Connection, tables: set[str], live: set[int]) -> list[str]:
    problems = []
    for table in ("runs", "job_runs"):
        if table not in tables:
            continue
        for row_id, pid in conn.execute(f"select id, pid from {table} where status = 'running'"):
            if pid not in live and not process_alive(pid):
                problems.append(f"{table} row {row_id} is 'running' but its process {pid} is gone")
    return problems


def forecast_rows(db: Path) -> list[tuple[Any, ...]]:
    """(model, as_of, target_date, yhat) of every forecast: what a re-run must reproduce."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return [tuple(r) for r in conn.execute(FORECAST_QUERY)]
    finally:
        conn.close()


def bar_rows(db: Path) -> list[tuple[Any, ...]]:
    """Every stored bar's values (not its ingest time): what a failed ingest must leave alone."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return [
            tuple(r)
            for r in conn.execute(
                "select ticker, trade_date, open, high, low, close, pre_close, volume, amount, source "
                "from bars order by ticker, trade_date"
            )
        ]
    finally:
        conn.close()
