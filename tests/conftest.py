"""Shared fixtures: every test gets its own temporary database built through the migrations,
a clean environment (no real token, no proxy, a throw-away HOME), and its own working folder.

Storage tests marked `both_databases` run twice: on SQLite and on PostgreSQL, each time in a
database of their own (for PostgreSQL, a new database on the server named by
FORECASTER_TEST_PG_URL, dropped afterwards; `tests/pg_server.sh run ...` starts such a server).
Without that URL the PostgreSQL variants are skipped, saying so; under CI (CI=true) they fail,
so that a green CI always means both databases passed.
"""

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, NullPool, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from forecaster.config import Settings, load_settings
from forecaster.storage.db import open_database, parse_url, session_factory

# Read once at import: the autouse `_clean_env` below removes every FORECASTER_* variable.
PG_ADMIN_URL = os.environ.get("FORECASTER_TEST_PG_URL") or None
IN_CI = os.environ.get("CI", "").lower() == "true"
NO_PG = "PostgreSQL variant: FORECASTER_TEST_PG_URL is not set (tests/pg_server.sh run CMD starts a server)"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "both_databases: run on SQLite and on PostgreSQL (the db_url fixture)")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "db_url" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_databases"):
        metafunc.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
def db_url(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The test's database URL: SQLite in its data folder unless the test is a PostgreSQL variant.
    A PostgreSQL URL is also put in FORECASTER_DATABASE_URL, for CLI calls made in the test."""
    if getattr(request, "param", "sqlite") == "sqlite":
        yield f"sqlite:///{tmp_path / 'data' / 'forecaster.db'}"
        return
    if PG_ADMIN_URL is None:
        if IN_CI:
            pytest.fail(f"CI=true, so PostgreSQL must be tested: {NO_PG}", pytrace=False)
        pytest.skip(NO_PG)
    with fresh_pg_database(PG_ADMIN_URL) as url:
        monkeypatch.setenv("FORECASTER_DATABASE_URL", url)
        yield url


@contextmanager
def fresh_pg_database(admin_url: str) -> Iterator[str]:
    """A new, empty database on the server of `admin_url` (whose role may CREATE DATABASE);
    dropped afterwards even if connections to it are still open (FORCE, PostgreSQL 13+)."""
    url = parse_url(admin_url)  # as forecaster reads URLs: `postgresql://` means psycopg 3
    admin = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    name = f"forecaster_test_{uuid.uuid4().hex[:16]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(autouse=True)
def _clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("FORECASTER_") or name in {"TUSHARE_TOKEN", "TS_TOKEN"}:
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    # tushare reads and writes ~/tk.csv; requests would send 127.0.0.1 through a proxy.
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return load_settings(data_dir=tmp_path / "data", database_url=db_url)


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    eng = open_database(settings.db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)
