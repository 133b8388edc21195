"""Retention (routine/retention.py) and the health check (routine/health.py, `forecaster health`),
on databases built through the migrations; no Keras: model files are plain bytes here."""

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy.orm import Session, sessionmaker

from forecaster.cli import cli
from forecaster.config import Settings, load_settings
from forecaster.market.calendar import trading_days
from forecaster.routine.health import CRITICAL, OK, WARNING, overall, run_checks
from forecaster.routine.retention import prune
from forecaster.storage.db import transaction
from forecaster.storage.schema import Bar, Forecast, ModelVersion, Plot
from forecaster.storage.schema_runs import Run, SmokeRun

NOW = datetime(2020, 4, 1, tzinfo=UTC)
DAYS = trading_days(date(2020, 3, 23), date(2020, 3, 31))  # a week and a bit of daily fine-tunes


def _version(session: Session, data_dir: Path, kind: str, day: date, parent: int | None) -> ModelVersion:
    path = f"models/600519.SH/{kind}/{day}.keras"
    (data_dir / path).parent.mkdir(parents=True, exist_ok=True)
    (data_dir / path).write_bytes(b"x" * 1000)
    version = ModelVersion(
        ticker="600519.SH", kind=kind, parent_id=parent, action="finetune" if parent else "retrain", as_of=day,
        train_start=date(2010, 1, 4), train_end=day, path=path, sha256="0" * 64, spec="{}", training="{}",
        scaler="{}", seed=7, epochs_run=1, created_at=NOW,
    )  # fmt: skip
    session.add(version)
    session.flush()
    session.add(
        Forecast(
            ticker="600519.SH", model=kind, model_version_id=version.id, as_of=day, target_date=day + timedelta(1),
            horizon=1, target="close", yhat=1.0, last_close=1.0, created_at=NOW,
        )
    )  # fmt: skip
    return version


def _week(settings: Settings, factory: sessionmaker[Session]) -> None:
    with transaction(factory) as session:
        for kind in ("rnn", "gru"):
            parent = None
            for day in DAYS:
                parent = _version(session, settings.data_dir, kind, day, parent).id
        for day in (date(2020, 1, 2), date(2020, 3, 30)):
            path = settings.data_dir / f"plots/600519.SH/{day}-forecast.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"p" * 10)
            session.add(Plot(ticker="600519.SH", as_of=day, kind="forecast", path=f"plots/600519.SH/{day}-forecast.png",
                             created_at=NOW))  # fmt: skip


def test_two_kept_versions_leave_two_files_per_model_and_every_row(tmp_path: Path, factory: sessionmaker[Session]):
    settings = load_settings(data_dir=tmp_path / "data", keep_model_versions=2)
    _week(settings, factory)
    dry = prune(settings, factory, dry_run=True)
    assert [r.what for r in dry.removals].count("model") == 2 * (len(DAYS) - 2)
    assert dry.bytes == 1000 * 2 * (len(DAYS) - 2) + 10  # and the January plot, 60+ days before March's
    assert len(list((settings.data_dir / "models").rglob("*.keras"))) == 2 * len(DAYS)  # nothing removed yet
    report = prune(settings, factory)
    assert report.bytes == dry.bytes
    for kind in ("rnn", "gru"):
        kept = sorted(p.name for p in (settings.data_dir / "models/600519.SH" / kind).glob("*.keras"))
        assert kept == [f"{DAYS[-2]}.keras", f"{DAYS[-1]}.keras"]
    with factory() as session:
        versions = session.query(ModelVersion).order_by(ModelVersion.id).all()
        assert len(versions) == 2 * len(DAYS)  # rows stay; forecasts still cite them
        assert sum(v.pruned_at is not None for v in versions) == 2 * (len(DAYS) - 2)
        assert session.query(Forecast).count() == 2 * len(DAYS)
        assert [p.as_of for p in session.query(Plot)] == [date(2020, 3, 30)]
    assert prune(settings, factory).removals == []  # idempotent


def test_protected_versions_keep_their_file(tmp_path: Path, factory: sessionmaker[Session]):
    settings = load_settings(data_dir=tmp_path / "data", keep_model_versions=1)
    _week(settings, factory)
    with factory() as session:
        oldest = session.query(ModelVersion).filter_by(kind="rnn", as_of=DAYS[0]).one()
    prune(settings, factory, protect={oldest.id})
    assert (settings.data_dir / oldest.path).is_file()
    assert len(list((settings.data_dir / "models/600519.SH/rnn").glob("*.keras"))) == 2


def _good_evening(settings: Settings, factory: sessionmaker[Session], day: date) -> None:
    with transaction(factory) as session:
        for d in trading_days(day - timedelta(days=10), day):
            session.add(Bar(ticker="600519.SH", trade_date=d, open=1, high=1, low=1, close=1, volume=1, source="t",
                            ingested_at=NOW))  # fmt: skip
        started = datetime(day.year, day.month, day.day, 9, 30, tzinfo=UTC)  # 17:30 in Beijing, in UTC
        session.add(Run(command="daemon", as_of=day, tickers="600519.SH", status="ok", started_at=started,
                        finished_at=started))  # fmt: skip
        session.add(SmokeRun(started_at=started, finished_at=started, ok=True, seconds=1.0, details="[]",
                             keras_version="3", tf_version="2"))  # fmt: skip


def test_health_is_ok_the_evening_after_a_good_daily_run_and_critical_when_bars_are_stale(
    tmp_path: Path, factory: sessionmaker[Session]
):
    settings = load_settings(data_dir=tmp_path / "data", health_min_free_gb=0)
    day = date(2026, 6, 3)  # a Wednesday, months before the calendar's end
    _good_evening(settings, factory, day)
    evening = datetime(2026, 6, 3, 12, 0, tzinfo=UTC)  # 20:00 in Beijing
    with factory() as session:
        checks = run_checks(settings, session, evening)
        assert [(c.name, c.status) for c in checks] == [
            ("last daily run", OK), ("newest bar", OK), ("calendar coverage", OK), ("free space", OK),
            ("last smoke test", OK), ("database", OK),
        ]  # fmt: skip
        assert overall(checks) == OK
        # The Friday after, nothing new came: two trading days behind, and the run 2 days old.
        friday = run_checks(settings, session, datetime(2026, 6, 5, 12, 0, tzinfo=UTC))
        assert {c.name: c.status for c in friday}["newest bar"] == CRITICAL
        assert overall(friday) == CRITICAL
        # Thursday morning, before the day's bar is due: still fine.
        morning = run_checks(settings, session, datetime(2026, 6, 4, 1, 0, tzinfo=UTC))
        assert overall(morning) == OK
        # Within 20 trading days of the official calendar's end (2026-12-31) the coverage line
        # warns (issue 16's rule), and once estimated days are in use it is critical.
        december = {c.name: c.status for c in run_checks(settings, session, datetime(2026, 12, 10, 12, tzinfo=UTC))}
        assert december["calendar coverage"] == WARNING
        january = {c.name: c.status for c in run_checks(settings, session, datetime(2027, 1, 5, 12, tzinfo=UTC))}
        assert january["calendar coverage"] == CRITICAL


def test_health_command_exits_critical_on_stale_bars_and_speaks_json(tmp_path: Path, factory: sessionmaker[Session]):
    settings = load_settings(data_dir=tmp_path / "data", health_min_free_gb=0)
    _good_evening(settings, factory, date(2020, 4, 24))  # the wall clock is years later
    env = {"FORECASTER_DATA_DIR": str(settings.data_dir), "FORECASTER_HEALTH_MIN_FREE_GB": "0"}
    table = CliRunner().invoke(cli, ["health"], env=env)
    assert table.exit_code == CRITICAL, table.output
    assert table.output.splitlines()[1].startswith("CRITICAL  newest bar")
    result = CliRunner().invoke(cli, ["health", "--format", "json"], env=env)
    data = json.loads(result.output)
    assert result.exit_code == CRITICAL and data["status"] == "CRITICAL"
    assert data["checks"][0]["name"] == "last daily run"


def test_prune_command_says_what_it_removes(tmp_path: Path, factory: sessionmaker[Session]):
    settings = load_settings(data_dir=tmp_path / "data", keep_model_versions=2)
    _week(settings, factory)
    env = {"FORECASTER_DATA_DIR": str(settings.data_dir), "FORECASTER_KEEP_MODEL_VERSIONS": "2"}
    dry = CliRunner().invoke(cli, ["prune", "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert dry.output.splitlines()[-1] == f"would remove {2 * (len(DAYS) - 2)} model file(s) and 1 plot(s), " + (
        f"{1000 * 2 * (len(DAYS) - 2) + 10:,} bytes"
    )
    done = CliRunner().invoke(cli, ["prune"], env=env)
    assert done.exit_code == 0 and done.output.splitlines()[-1].startswith("removed ")
    assert len(list((settings.data_dir / "models").rglob("*.keras"))) == 4


def test_an_unreachable_dask_scheduler_is_one_error_within_the_connect_timeout():
    import socket
    import time

    import pytest

    from forecaster.errors import ConfigError
    from forecaster.routine.executor import dask_client

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.perf_counter()
    with pytest.raises(ConfigError, match=r"no Dask scheduler answers at tcp://127\.0\.0\.1:\d+ within 1 s"):  # noqa: SIM117
        with dask_client(f"tcp://127.0.0.1:{port}", timeout_s=1):
            pass
    assert time.perf_counter() - started < 15  # Dask's default would wait 30 s
