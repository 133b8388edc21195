"""Migrations are the only way the schema is made; they must agree with the ORM models."""

import os
import re
import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, make_url, text

from forecaster.errors import DatabaseError
from forecaster.storage.db import (
    current_revision,
    downgrade,
    head_revision,
    make_engine,
    open_database,
    session_factory,
    transaction,
    upgrade,
)
from forecaster.storage.schema import Base


@pytest.mark.both_databases
def test_models_and_migrations_do_not_drift(engine):
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == []


def _schema_objects(engine: Engine) -> dict[str, set[str]]:
    """Tables, views, and (PostgreSQL) the functions and triggers the migrations made."""
    found = {"tables": set(inspect(engine).get_table_names()), "views": set(inspect(engine).get_view_names())}
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            found["functions"] = set(
                conn.scalars(text("select proname from pg_proc where pronamespace = 'public'::regnamespace"))
            )
            found["triggers"] = set(conn.scalars(text("select tgname from pg_trigger where not tgisinternal")))
    else:
        with engine.connect() as conn:
            found["triggers"] = set(conn.scalars(text("select name from sqlite_master where type = 'trigger'")))
    return found


@pytest.mark.both_databases
def test_upgrade_downgrade_upgrade(db_url: str):
    engine = open_database(db_url)
    made = _schema_objects(engine)
    assert {"bars", "adj_factors", "ingest_log", "latest_as_of"} <= made["tables"]
    views = {"v_bars", "v_forecasts", "v_accuracy", "v_latest_forecasts", "v_accuracy_windows", "v_interval_windows"}
    assert views | {"v_champion"} == made["views"]
    assert {"trg_forecasts_latest_insert", "trg_forecasts_latest_delete"} == made["triggers"]
    assert current_revision(engine) == head_revision()
    downgrade(engine, "base")
    assert current_revision(engine) is None
    left = _schema_objects(engine)
    assert left["tables"] <= {"alembic_version"}
    assert all(not names for kind, names in left.items() if kind != "tables"), left
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert _schema_objects(engine) == made
    engine.dispose()


@pytest.mark.both_databases
def test_0007_fills_the_summary_from_forecasts_already_there(db_url: str):
    engine = make_engine(db_url)
    upgrade(engine, "0006")
    with engine.begin() as conn:
        for model, as_of in [("naive", "2020-01-02"), ("naive", "2020-01-03"), ("rnn", "2020-01-02")]:
            conn.execute(
                text(
                    "insert into forecasts (ticker, model, as_of, target_date, horizon, target, yhat, last_close,"
                    " created_at) values ('600519.SH', :m, :d, '2020-01-06', 1, 'close', 1.0, 1.0, :d)"
                ),
                {"m": model, "d": date.fromisoformat(as_of)},
            )
    upgrade(engine)
    with engine.connect() as conn:
        rows = conn.execute(text("select model, as_of from latest_as_of order by model")).all()
    assert [(m, str(d)) for m, d in rows] == [("naive", "2020-01-03"), ("rnn", "2020-01-02")]
    engine.dispose()


@pytest.mark.both_databases
def test_a_database_from_a_newer_version_is_refused(db_url: str):
    open_database(db_url).dispose()
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("update alembic_version set version_num = 'ffff9999'"))
    engine.dispose()
    with pytest.raises(DatabaseError, match="newer version"):
        open_database(db_url)


def test_sqlite_pragmas_are_set(engine):
    with engine.connect() as conn:
        assert conn.execute(text("pragma journal_mode")).scalar() == "wal"
        assert conn.execute(text("pragma foreign_keys")).scalar() == 1


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path):
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(DatabaseError, match="cannot open the database"):
        open_database(f"sqlite:///{path}")


def test_a_locked_database_gives_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    open_database(url).dispose()
    monkeypatch.setattr("forecaster.storage.db.BUSY_TIMEOUT_MS", 200)
    engine = open_database(url)  # at head already: opening needs no write lock
    holder = sqlite3.connect(tmp_path / "x.db")
    holder.execute("begin immediate")  # another process holds the write lock
    try:
        with pytest.raises(DatabaseError, match="database is locked"), transaction(session_factory(engine)) as s:
            s.execute(text("insert into adj_factors values ('600519.SH', '2020-01-02', 1.0, 'x', '2020-01-02')"))
    finally:
        holder.rollback()
        holder.close()
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from adj_factors")).scalar() == 0


def test_an_unreachable_postgresql_server_is_one_clear_line_without_the_password():
    from click.testing import CliRunner

    from forecaster.cli import cli

    closed_port = _free_port()  # nothing listens there
    url = f"postgresql+psycopg://forecaster:pw-s3cret-42@127.0.0.1:{closed_port}/forecaster"
    for args in (["status"], ["db", "current"], ["run", "--no-ingest"]):
        result = CliRunner().invoke(cli, args, env={"FORECASTER_DATABASE_URL": url}, catch_exceptions=False)
        assert result.exit_code == 1, (args, result.output)
        assert result.stdout == "" and len(result.stderr.splitlines()) == 1, (args, result.output)
        assert result.stderr.startswith("Error: cannot ") and "Connection refused" in result.stderr, result.stderr
        assert "s3cret" not in result.output


def test_driver_messages_become_one_line_without_the_password():
    from sqlalchemy import exc as sa_exc

    from forecaster.storage.db import reason

    driver_error = Exception('connection failed: bad "password=pw-123"\n\tIs the server running?')
    exc = sa_exc.OperationalError("select 1", {}, driver_error)
    url = make_url("postgresql+psycopg://u:pw-123@db.example/forecaster")
    assert reason(exc, url) == 'connection failed: bad "password=***" Is the server running?'


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://u:p@localhost/db", "unsupported database URL mysql://"),
        ("postgresql+psycopg2://u:secret@localhost/db", "unsupported database URL postgresql+psycopg2://"),
        ("not a url", "is not a database URL"),
    ],
)
def test_unsupported_urls_are_refused_by_name(url: str, message: str):
    from click.testing import CliRunner

    from forecaster.cli import cli

    with pytest.raises(DatabaseError, match=re.escape(message)) as refused:
        make_engine(url)
    assert "secret" not in str(refused.value)
    result = CliRunner().invoke(cli, ["run"], env={"FORECASTER_DATABASE_URL": url}, catch_exceptions=False)
    assert result.exit_code == 1 and result.stderr == f"Error: {refused.value}\n"


def test_a_plain_postgresql_url_means_psycopg_3():
    assert make_engine("postgresql://u:p@127.0.0.1:1/db").dialect.driver == "psycopg"


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_wrong_password_is_refused_without_repeating_it(db_url: str):
    wrong = make_url(db_url).set(password="wrong-pw-7f3a9")
    engine = make_engine(wrong.render_as_string(hide_password=False))
    try:
        current_revision(engine)
    except DatabaseError as exc:
        refused = str(exc)
    else:
        pytest.skip("this server lets the role in without checking its password (trust)")
    assert refused.startswith("cannot open the database: ") and "password authentication failed" in refused
    assert "wrong-pw" not in refused


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_ingests_of_one_ticker_at_once_do_not_collide(factory):
    # SQLite admits one writer at a time; on PostgreSQL the second ingest waits for the first
    # (store's per-ticker advisory lock) and then finds its bars stored, instead of inserting
    # the same days again and failing on the primary key.
    import threading

    import pandas as pd

    from forecaster.storage.bars import WriteCounts, upsert_bars

    bars = pd.DataFrame(
        {"trade_date": pd.to_datetime(["2021-03-01", "2021-03-02"]), "open": [1.0, 2.0], "high": [1.0, 2.0],
         "low": [1.0, 2.0], "close": [1.0, 2.0], "pre_close": [None, 1.0], "volume": [1.0, 1.0], "amount": [None, None]}
    )  # fmt: skip
    now = datetime(2021, 3, 2, 18, 0, tzinfo=UTC)
    second: list[WriteCounts] = []
    with transaction(factory) as first:
        assert upsert_bars(first, "600519.SH", bars, "csv", now) == WriteCounts(new=2)
        other = threading.Thread(
            target=lambda: second.append(_upsert_in_own_transaction(factory, bars, now)), daemon=True
        )
        other.start()
        other.join(0.5)
        assert other.is_alive()  # waiting for the first transaction
    other.join(10)
    assert second == [WriteCounts(unchanged=2)]


def _upsert_in_own_transaction(factory, bars, now):
    from forecaster.storage.bars import upsert_bars

    with transaction(factory) as session:
        return upsert_bars(session, "600519.SH", bars, "csv", now)


@pytest.mark.slow
def test_plain_alembic_from_the_repository_uses_forecasters_database(tmp_path: Path):
    """pyproject.toml configures Alembic without an alembic.ini; `alembic upgrade head` and
    `alembic current` must work there, on the database forecaster's settings name."""
    import subprocess
    import sys

    repo = Path(__file__).resolve().parent.parent
    env = {**os.environ, "FORECASTER_DATA_DIR": str(tmp_path)}

    def alembic(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "alembic", *args], cwd=repo, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    alembic("upgrade", "head")
    assert (tmp_path / "forecaster.db").is_file()
    head = alembic("heads").split()[0]
    assert alembic("current").split()[0] == head
