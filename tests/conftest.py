"""Shared fixtures: every test gets its own temporary database built through the migrations,
a clean environment (no real token, no proxy, a throw-away HOME), and its own working folder."""

import os
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from forecaster.config import Settings, load_settings
from forecaster.db import open_database, session_factory


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
def settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path / "data")


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    eng = open_database(settings.db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)


def poison_after(factory: sessionmaker[Session], day: date, factor: float = 100.0) -> None:
    """Multiply every price after `day` by `factor`: a future no forecast as of `day` may see."""
    from sqlalchemy import text

    from forecaster.db import transaction

    with transaction(factory) as session:
        session.execute(
            text(
                "update bars set open = open * :f, high = high * :f, low = low * :f, close = close * :f "
                "where trade_date > :d"
            ),
            {"f": factor, "d": day.isoformat()},
        )


# Tiny networks for tests (seconds, not minutes): one source for the settings object and for the
# environment that subprocess and CLI tests pass.
TINY: dict[str, Any] = {"window": 10, "units": [4, 4], "max_epochs": 1, "patience": 1, "finetune_epochs": 1}


def tiny_settings(tmp_path: Path, **extra: Any) -> Settings:
    return load_settings(data_dir=tmp_path / "data", **{**TINY, **extra})


def tiny_env(**extra: Any) -> dict[str, str]:
    """TINY (and `extra`) as FORECASTER_* environment variables."""
    return {
        f"FORECASTER_{key.upper()}": ",".join(map(str, value)) if isinstance(value, list) else str(value)
        for key, value in {**TINY, **extra}.items()
    }
