"""Fault injection: after every fault the invariants of tests/invariants.py hold, a failed step
writes nothing half-way, and a clean re-run completes. `python -m bench.faults` runs the
process-killing faults many more times; this module keeps a few fast trials of each kind.

Related faults tested elsewhere, not repeated here: one backfill SIGKILL-and-resume
(test_backfill), SIGTERM to the daemon mid-step (test_daemon), a flipped byte in a model file
(test_pipeline), a database newer than the code (test_db, test_cli), the database locked for a
single transaction (test_db). Those tests call `check_invariants` too.
"""

import errno
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import keras
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure
from sqlalchemy import select, text

from bench import faults as bench_faults
from forecaster.cli import cli
from forecaster.config import Settings
from forecaster.errors import DatabaseError
from forecaster.ingest.sources.csvfile import CsvSource
from forecaster.ingest.update import ingest_ticker
from forecaster.market.calendar import previous_trading_days
from forecaster.model.forecasting import Point
from forecaster.storage.db import downgrade, head_revision, open_database, session_factory
from forecaster.storage.records import write_forecasts
from forecaster.storage.schema import IngestLog, ModelVersion
from forecaster.storage.schema_runs import Run
from tests.helpers import make_source, pipeline_settings, ready_db, routine
from tests.invariants import bar_rows, check_invariants, forecast_rows
from tests.tushare_server import RATE_LIMIT_MSG, FakeTushare, Fault, serve

TS_TICKER = "600519.SH"
TS_TODAY = date(2024, 6, 28)
STAMP = datetime(2024, 6, 28, 12, 0, tzinfo=UTC)


def db_of(settings: Settings) -> Path:
    return settings.data_dir / "forecaster.db"


def assert_sound(settings: Settings) -> None:
    assert check_invariants(db_of(settings), settings.data_dir) == []


# --- kill -9 --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_kill_9_of_a_run_at_a_random_moment_then_a_clean_rerun(tmp_path):
    """One trial of bench.faults' kill trial: SIGKILL `forecaster run` at a random moment of its
    training / saving / writing, check the invariants, re-run, get a never-faulted run's rows."""
    expected, wall = bench_faults.reference("run", tmp_path)
    assert len(expected) == 7  # naive, ewma, drift, garch, rnn, gru and their ensemble: one day ahead
    delay = random.Random(10).uniform(bench_faults.KILL_FROM * wall, wall)
    trial = bench_faults.kill_trial("run", tmp_path, 0, delay, expected)
    assert trial.problems == [], (trial.phase, trial.problems)


def test_a_run_left_running_by_a_killed_process_is_closed_by_the_next_run(settings, factory):
    """The bug the kill trials found: `forecaster run` never closed a `running` row a SIGKILLed
    run left behind (only the daemon did, and only for its own jobs)."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with factory() as s, s.begin():
        s.add(Run(command="run", tickers=TS_TICKER, status="running", pid=dead.pid, started_at=STAMP))
        s.add(Run(command="run", tickers=TS_TICKER, status="running", pid=None, started_at=STAMP))
    assert len(check_invariants(db_of(settings), settings.data_dir)) == 2
    assert ingest_ticker(factory, CsvSource(bench_faults.REPO / "data" / "SH600519.csv"), TS_TICKER, today=TS_TODAY).ok
    assert routine(settings, factory, kinds=()).ok  # baselines only: no training needed
    with factory() as s:
        statuses = s.execute(text("select status, error is not null from runs order by id")).all()
    assert statuses == [("interrupted", 1), ("interrupted", 1), ("ok", 0)]
    assert_sound(settings)


# --- tushare faults ---------------------------------------------------------------------------------


@pytest.fixture
def fake():
    with serve(FakeTushare()) as server:
        yield server


def _tushare_db(fake: FakeTushare, settings: Any, factory: Any) -> None:
    fake.add_bars(TS_TICKER, date(2024, 1, 2), date(2024, 6, 27))
    source, _ = make_source(fake)
    assert ingest_ticker(factory, source, TS_TICKER, today=TS_TODAY, end=date(2024, 6, 14)).ok


PERSISTENT = {
    "timeout": [Fault("sleep", seconds=1.0)] * 20,
    "http 500": [Fault("http", status=500)] * 20,
    "rate limit": [Fault("code", code=40203, msg=RATE_LIMIT_MSG)] * 20,
    "dropped connection": [Fault("drop")] * 20,
    "dropped on adj_factor": [Fault("drop", api="adj_factor")] * 20,
}


@pytest.mark.slow
@pytest.mark.parametrize("fault", sorted(PERSISTENT))
def test_a_failing_tushare_changes_no_bar_and_a_later_ingest_completes(fault, fake, settings, factory):
    _tushare_db(fake, settings, factory)
    before = bar_rows(db_of(settings))
    fake.faults = list(PERSISTENT[fault])
    source, _ = make_source(fake, total=0.05, timeout=0.3)
    failed = ingest_ticker(factory, source, TS_TICKER, today=TS_TODAY, end=date(2024, 6, 27))
    assert not failed.ok and failed.error
    assert bar_rows(db_of(settings)) == before
    with factory() as s:
        assert s.scalars(select(IngestLog.status).order_by(IngestLog.id.desc())).first() == "error"
    assert_sound(settings)
    fake.faults.clear()
    source, _ = make_source(fake)
    done = ingest_ticker(factory, source, TS_TICKER, today=TS_TODAY, end=date(2024, 6, 27))
    assert done.ok and done.counts.new == 9  # 2024-06-17 .. 06-27
    assert_sound(settings)


def test_a_network_failure_on_adj_factor_fails_the_ingest_rather_than_dropping_factors(fake, settings, factory):
    """Found by this suite: any adj_factor failure was taken for a tier refusal, so a dropped
    connection stored the bars without their factors, a gap no later ingest refilled."""
    _tushare_db(fake, settings, factory)
    fake.faults = [Fault("drop", api="adj_factor")] * 20
    source, _ = make_source(fake, total=0.05, timeout=0.3)
    failed = ingest_ticker(factory, source, TS_TICKER, today=TS_TODAY, end=date(2024, 6, 27))
    assert not failed.ok and "adj_factor" in (failed.error or "") and failed.warnings == []
    with factory() as s:
        assert s.scalar(text("select count(*) from adj_factors")) == s.scalar(text("select count(*) from bars"))


def test_bursts_of_each_fault_are_retried_within_one_ingest(fake, settings, factory):
    _tushare_db(fake, settings, factory)
    fake.faults = [
        *[Fault("code", code=40203, msg=RATE_LIMIT_MSG)] * 4,
        Fault("http", status=500),
        Fault("drop"),
        Fault("sleep", seconds=1.0),
        Fault("drop", api="adj_factor"),
    ]
    source, sleeps = make_source(fake, total=60.0, timeout=0.3)
    done = ingest_ticker(factory, source, TS_TICKER, today=TS_TODAY, end=date(2024, 6, 27))
    assert done.ok, done.error
    assert done.counts.new == 9 and fake.faults == [] and len(sleeps) == 8
    assert_sound(settings)


def test_an_answer_missing_a_day_stores_what_came_and_the_next_overlapping_ingest_fills_it(fake, settings, factory):
    """Decided behaviour: a day absent from an answer is not detectable from the answer itself
    (suspensions are real), so the bars that came are stored; the next incremental ingest re-reads
    the last `ingest_overlap_days` trading days and fills a gap among them."""
    _tushare_db(fake, settings, factory)
    rows = fake.daily[TS_TICKER]
    hole = next(r for r in rows if r[1] == "20240625")
    rows.remove(hole)
    source, _ = make_source(fake)
    first = ingest_ticker(factory, source, TS_TICKER, today=TS_TODAY, end=date(2024, 6, 27))
    assert first.ok and first.counts.new == 8
    rows.append(hole)
    second = ingest_ticker(factory, source, TS_TICKER, today=TS_TODAY, end=date(2024, 6, 27), overlap_days=5)
    assert second.ok and second.counts.new == 1 and second.counts.changed == 0
    days = [r[1] for r in bar_rows(db_of(settings))]
    assert "2024-06-25" in days and len(days) == len(set(days)) == len(rows)
    assert_sound(settings)


def test_a_revised_bar_is_counted_and_refreshes_recent_actuals_only(fake, settings, factory):
    """A revised historical bar is updated (counted as revised); forecasts whose target day is
    within the 15-day revisit window of fill_actuals get the new actual, older ones keep theirs."""
    fake.add_bars(TS_TICKER, date(2024, 1, 2), date(2024, 6, 27))
    source, _ = make_source(fake)
    assert ingest_ticker(factory, source, TS_TICKER, today=TS_TODAY, end=date(2024, 6, 27)).ok
    recent, old = date(2024, 6, 21), date(2024, 5, 6)
    with factory() as s, s.begin():
        for target in (recent, old):
            write_forecasts(
                s,
                ticker=TS_TICKER,
                model="naive",
                model_version_id=None,
                run_id=None,
                # The trading day before: target dates are re-derived from as_of and horizon.
                as_of=previous_trading_days(target, 1)[0],
                target="close",
                last_close=1.0,
                forecast=[Point(target, 1, 1.0)],
                now=STAMP,
            )
    first = routine(settings, factory, as_of=None, kinds=(), plots=False)
    assert first.ok
    revised = {}
    for day in ("20240621", "20240506"):
        row = next(r for r in fake.daily[TS_TICKER] if r[1] == day)
        row[5] = round(row[5] * 1.01, 2)
        row[3] = max(row[3], row[5])
        revised[day] = row[5]
    source, _ = make_source(fake, history_start=date(2024, 5, 1))
    result = ingest_ticker(factory, source, TS_TICKER, today=TS_TODAY, start=date(2024, 5, 1), end=date(2024, 6, 27))
    assert result.ok and result.counts.changed == 2 and result.counts.new == 0
    assert routine(settings, factory, as_of=None, kinds=(), plots=False).ok
    with factory() as s:
        actual = dict(s.execute(text("select target_date, actual from forecasts where last_close = 1.0")).all())
    assert actual["2024-06-21"] == revised["20240621"]
    assert actual["2024-05-06"] != revised["20240506"]  # outside the revisit window: as first filled
    assert_sound(settings)


# --- disk full, read-only, locked ------------------------------------------------------------------


def _half_write_then(error: int) -> Any:
    def fail(self: Any, path: Any, *args: Any, **kwargs: Any) -> None:
        target = path if not hasattr(path, "write") else None
        if target is not None:
            Path(target).write_bytes(b"PK\x03\x04 half a file")
        else:
            path.write(b"\x89PNG half a file")
        raise OSError(error, "simulated: " + ("No space left on device" if error == errno.ENOSPC else "Read-only"))

    return fail


@pytest.mark.slow
@pytest.mark.parametrize("error", [errno.ENOSPC, errno.EROFS])
def test_a_full_or_read_only_disk_while_saving_a_model_leaves_no_half_file_or_row(error, tmp_path, monkeypatch):
    settings = pipeline_settings(tmp_path)
    factory = ready_db(settings)
    monkeypatch.setattr(keras.Model, "save", _half_write_then(error))
    report = routine(settings, factory, kinds=("rnn",), plots=False)
    (rnn,) = [o for o in report.tickers[0].outcomes if o.model == "rnn"]
    assert not report.ok and "simulated" in (rnn.error or "")
    models = settings.data_dir / "models"
    assert not models.exists() or [p for p in models.rglob("*") if p.is_file()] == []
    with factory() as s:
        assert s.scalar(text("select count(*) from model_versions")) == 0
        assert s.scalar(text("select count(*) from forecasts where model = 'rnn'")) == 0
        assert s.scalar(select(Run.status)) == "partial"
    assert_sound(settings)
    monkeypatch.undo()
    assert routine(settings, factory, kinds=("rnn",), plots=False).ok
    assert_sound(settings)


def test_a_full_disk_while_saving_a_plot_is_recorded_and_keeps_the_forecasts(tmp_path, monkeypatch):
    """Found by this suite: an OSError from a plot escaped the routine, so the CLI showed a
    traceback and the run row said `error` with no reason. Now the ticker reports it, the run is
    `partial` with the reason, and the forecasts already written stay."""
    settings = pipeline_settings(tmp_path)
    factory = ready_db(settings)
    monkeypatch.setattr(Figure, "savefig", _half_write_then(errno.ENOSPC))
    report = routine(settings, factory, kinds=())
    assert not report.ok and "No space left on device" in (report.tickers[0].error or "")
    assert [p for p in (settings.data_dir / "plots").rglob("*") if p.is_file()] == []
    with factory() as s:
        run = s.scalars(select(Run)).one()
        assert run.status == "partial" and "No space left on device" in (run.error or "")
        assert s.scalar(text("select count(*) from forecasts")) == 4  # the four baselines, one day ahead
        assert s.scalar(text("select count(*) from plots")) == 0
    monkeypatch.undo()
    assert routine(settings, factory, kinds=()).ok
    assert_sound(settings)


def test_a_read_only_database_is_one_clear_error_and_nothing_is_written(tmp_path, monkeypatch):
    """Tests run as root, where chmod does not stop writes: the database is opened read-only by
    SQLite (`mode=ro`) instead, which refuses every write as a read-only file system would."""
    settings = pipeline_settings(tmp_path)
    factory = ready_db(settings)
    before = bar_rows(db_of(settings))
    monkeypatch.setenv("FORECASTER_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("FORECASTER_DATABASE_URL", f"sqlite:///file:{db_of(settings)}?mode=ro&uri=true")
    result = CliRunner().invoke(cli, ["run", "--source", "csv", "--models", "rnn"])
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == ["Error: database write failed: attempt to write a readonly database"]
    assert bar_rows(db_of(settings)) == before
    with factory() as s:
        assert s.scalar(text("select count(*) from runs")) == 0
    assert_sound(settings)


@pytest.mark.slow
def test_a_database_locked_by_another_process_beyond_the_busy_timeout(tmp_path, monkeypatch):
    settings = pipeline_settings(tmp_path)
    factory = ready_db(settings)
    before = bar_rows(db_of(settings))
    monkeypatch.setattr("forecaster.storage.db.BUSY_TIMEOUT_MS", 300)
    locked = session_factory(open_database(settings.db_url))
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1]); c.execute('begin immediate'); "
            "print('locked', flush=True); time.sleep(60)",
            str(db_of(settings)),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(DatabaseError, match="database is locked"):
            routine(settings, locked, kinds=())
        failed = ingest_ticker(
            locked, CsvSource(bench_faults.REPO / "data" / "SH600519.csv"), TS_TICKER, today=TS_TODAY
        )
        assert not failed.ok and "database is locked" in (failed.error or "")
    finally:
        holder.kill()
        holder.wait()
    assert bar_rows(db_of(settings)) == before
    with factory() as s:
        assert s.scalar(text("select count(*) from runs")) == 0
        assert s.scalar(text("select count(*) from forecasts")) == 0
    assert_sound(settings)
    assert routine(settings, locked, kinds=()).ok


# --- damaged files, older schema ------------------------------------------------------------------


@pytest.mark.slow
def test_a_truncated_model_file_is_retrained_even_if_its_hash_was_recorded_truncated(tmp_path):
    """test_pipeline flips a byte (a hash mismatch); here the file is cut in half, once with the
    recorded hash left as it was and once with it matching the cut file (so Keras itself must
    refuse it): both times the model is retrained, and the new version is sound."""
    settings = pipeline_settings(tmp_path)
    factory = ready_db(settings)
    assert routine(settings, factory, kinds=("rnn",), plots=False).ok
    damaged: list[int] = []
    first_path = ""
    for day, rehash, reason in ((date(2011, 7, 1), False, "sha256"), (date(2011, 7, 4), True, "damaged")):
        with factory() as s:
            version = s.scalars(select(ModelVersion).order_by(ModelVersion.id.desc())).first()
        assert version is not None
        path = settings.data_dir / version.path
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        if rehash:
            import hashlib

            with factory() as s, s.begin():
                sha = hashlib.sha256(path.read_bytes()).hexdigest()
                s.execute(text("update model_versions set sha256 = :h where id = :i"), {"h": sha, "i": version.id})
        report = routine(settings, factory, as_of=day, kinds=("rnn",), plots=False)
        (o,) = [o for o in report.tickers[0].outcomes if o.model == "rnn"]
        assert report.ok and o.action == "retrain" and reason in o.reason, o.reason
        assert o.version_id != version.id
        damaged.append(version.id)
        first_path = first_path or version.path
    # The only problem left is the damaged file itself, which the first day's forecasts still cite
    # (the second one's hash was made to match its damage, so only Keras could tell).
    problems = check_invariants(db_of(settings), settings.data_dir)
    assert problems == [f"model version {damaged[0]}: file {first_path} does not match its sha256"]


def test_a_deleted_plot_is_rewritten_by_the_next_run_and_status_does_not_crash(tmp_path, monkeypatch):
    settings = pipeline_settings(tmp_path)
    factory = ready_db(settings)
    report = routine(settings, factory, kinds=())
    plot = settings.data_dir / report.tickers[0].plots["forecast"]
    plot.unlink()
    monkeypatch.setenv("FORECASTER_DATA_DIR", str(settings.data_dir))
    status = CliRunner().invoke(cli, ["status"])
    assert status.exit_code == 0, status.output
    assert routine(settings, factory, kinds=()).ok
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert_sound(settings)


@pytest.mark.slow
def test_an_older_schema_is_upgraded_by_the_next_command_with_its_data_intact(tmp_path, monkeypatch):
    """(A newer schema is refused: test_db / test_cli.) Downgrade to 0003, the first schema with
    forecasts: `forecaster status` (a read command) refuses and writes nothing; `forecaster db
    upgrade` brings it back to head with every bar and forecast still there."""
    settings = pipeline_settings(tmp_path)
    factory = ready_db(settings)
    assert routine(settings, factory, kinds=()).ok
    bars, forecasts = bar_rows(db_of(settings)), forecast_rows(db_of(settings))
    engine = open_database(settings.db_url)
    downgrade(engine, "0003")
    engine.dispose()
    with sqlite3.connect(db_of(settings)) as conn:
        assert conn.execute("select version_num from alembic_version").fetchone() == ("0003",)
    monkeypatch.setenv("FORECASTER_DATA_DIR", str(settings.data_dir))
    refused = CliRunner().invoke(cli, ["status"])
    assert refused.exit_code == 1 and "forecaster db upgrade" in refused.output, refused.output
    with sqlite3.connect(db_of(settings)) as conn:
        assert conn.execute("select version_num from alembic_version").fetchone() == ("0003",)
    result = CliRunner().invoke(cli, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with sqlite3.connect(db_of(settings)) as conn:
        assert conn.execute("select version_num from alembic_version").fetchone() == (head_revision(),)
    assert bar_rows(db_of(settings)) == bars and forecast_rows(db_of(settings)) == forecasts
    assert_sound(settings)


# --- malformed CSVs (property-based) ---------------------------------------------------------------

CSV_TICKER = "600519.SH"
CSV_TODAY = date(2021, 1, 4)
# What a mutation does to a file: refused (the whole batch), or harmless.
REFUSING = {
    "duplicate date",
    "bad date",
    "non-numeric price",
    "empty price",
    "zero price",
    "negative price",
    "high below max(open, close)",
    "low above min(open, close)",
    "negative volume",
    "future date",
    "ragged row",
}
PRO_HEADER = "ts_code,trade_date,open,high,low,close,pre_close,change,pct_chg,vol,amount"
COURSE_HEADER = ",date,open,close,high,low,volume,code"
HARMLESS = {"blank line", "another ticker (tushare layout)", "spaces after commas"}


@st.composite
def csv_files(draw: Any) -> tuple[str, list[tuple[Any, ...]], bool]:
    """(file text, the bars it should store, whether it must be refused)."""
    layout = draw(st.sampled_from(["course", "pro"]))
    days = draw(
        st.lists(st.dates(date(2015, 1, 1), date(2020, 12, 31)), min_size=1, max_size=8, unique=True).map(sorted)
    )
    money = st.decimals(min_value="1.00", max_value="3000.00", places=2).map(float)
    bars = []
    for day in days:
        o, c = draw(money), draw(money)
        h = max(o, c) + draw(st.sampled_from([0.0, 0.01, 1.5]))
        lo = round(max(0.01, min(o, c) - draw(st.sampled_from([0.0, 0.01, 1.5]))), 2)
        vol = draw(st.sampled_from([0.0, 1.0, 12345.67, 9e6]))
        bars.append([day, o, round(h, 2), lo, c, vol, CSV_TICKER])
    mutations = draw(st.lists(st.sampled_from(sorted(REFUSING | HARMLESS)), max_size=2, unique=True))
    extra: list[str] = []
    i = draw(st.integers(0, len(bars) - 1))
    for m in mutations:
        _mutate(m, bars, i, extra, layout == "pro", days[0])
    refused = bool(set(mutations) & REFUSING)
    spaced = "spaces after commas" in mutations
    text_rows = [_csv_line(layout, r, spaced) for r in bars] + extra
    header = (
        "ts_code,trade_date,open,high,low,close,pre_close,change,pct_chg,vol,amount"
        if layout == "pro"
        else ",date,open,close,high,low,volume,code"
    )
    content = "\n".join([header, *text_rows]) + "\n"
    expected = [] if refused else sorted((str(r[0]), r[1], r[2], r[3], r[4], r[5]) for r in bars)
    return content, expected, refused


def _mutate(m: str, bars: list[list[Any]], i: int, extra: list[str], pro: bool, first: date) -> None:
    """Apply mutation `m` to row `i` of `bars` (or add a line to `extra`)."""
    row = bars[i]
    close = row[4] if isinstance(row[4], float) else None
    prices = {"non-numeric price": "abc", "empty price": "", "zero price": 0.0, "negative price": -1.0}
    lines = {"ragged row": "1,2,3,4,5,6,7,8,9,10,11,12,13", "blank line": ""}
    if pro:
        lines["another ticker (tushare layout)"] = f"000001.SZ,{first:%Y%m%d},10,11,9,10.5,10,0.5,5,100,1000"
    if m == "duplicate date":
        bars.append(list(row))
    elif m in prices:
        row[4] = prices[m]
    elif m in lines:
        extra.append(lines[m])
    else:
        column, value = {
            "bad date": (0, "2019-13-45"),
            "future date": (0, date(2021, 1, 5)),
            "negative volume": (5, -1.0),
            "high below max(open, close)": (2, round(max(row[1], close or 0) - 0.5, 2)),
            "low above min(open, close)": (3, round(min(row[1], close or 1e9) + 0.5, 2)),
        }.get(m, (None, None))
        if column is not None:
            row[column] = value


def _csv_line(layout: str, row: list[Any], spaced: bool) -> str:
    day, o, h, lo, c, vol, code = row
    sep = ", " if spaced else ","
    if layout == "pro":
        when = day.strftime("%Y%m%d") if isinstance(day, date) else day.replace("-", "")
        return sep.join(map(str, [code, when, o, h, lo, c, "", "", "", vol, ""]))
    return sep.join(map(str, [0, day, o, c, h, lo, vol, code[:6]]))


@pytest.fixture(scope="module")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "empty.db"
    open_database(f"sqlite:///{path}").dispose()
    return path


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=csv_files())
def test_a_random_csv_ingests_exactly_or_is_refused_with_nothing_written(case, template_db):
    content, expected, refused = case
    folder = Path(tempfile.mkdtemp(prefix="csvprop-"))
    try:
        db = folder / "x.db"
        shutil.copy(template_db, db)
        engine = open_database(f"sqlite:///{db}")
        factory = session_factory(engine)
        path = folder / "bars.csv"
        path.write_text(content)
        result = ingest_ticker(factory, CsvSource(path), CSV_TICKER, today=CSV_TODAY)
        engine.dispose()
        stored = [(d, o, h, lo, c, v) for _t, d, o, h, lo, c, _p, v, _a, _s in bar_rows(db)]
        assert result.ok == (not refused), (result.error, content)
        assert stored == expected, content
        assert check_invariants(db, folder) == []
    finally:
        shutil.rmtree(folder, ignore_errors=True)
