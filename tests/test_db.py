"""Migrations are the only way the schema is made; they must agree with the ORM models."""

import sqlite3
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from forecaster.db import (
    current_revision,
    downgrade,
    head_revision,
    open_database,
    session_factory,
    transaction,
    upgrade,
)
from forecaster.errors import DatabaseError
from forecaster.schema import Base


def test_models_and_migrations_do_not_drift(engine):
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == []


def test_upgrade_downgrade_upgrade(tmp_path: Path):
    engine = open_database(f"sqlite:///{tmp_path / 'x.db'}")
    tables = set(inspect(engine).get_table_names())
    assert {"bars", "adj_factors", "ingest_log"} <= tables
    assert current_revision(engine) == head_revision()
    downgrade(engine, "base")
    assert current_revision(engine) is None
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from sqlite_master where type='view'")).scalar() == 0
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    assert set(inspect(engine).get_table_names()) == tables


def test_a_database_from_a_newer_version_is_refused(tmp_path: Path):
    engine = open_database(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.begin() as conn:
        conn.execute(text("update alembic_version set version_num = 'ffff9999'"))
    with pytest.raises(DatabaseError, match="newer version"):
        open_database(f"sqlite:///{tmp_path / 'x.db'}")


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
    monkeypatch.setattr("forecaster.db.BUSY_TIMEOUT_MS", 200)
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
