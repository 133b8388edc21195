"""The issue's "done when", end to end: a week of daily jobs as the daemon runs them (ingest one new
bar, fine-tune, forecast, plot, report, retention) with FORECASTER_KEEP_MODEL_VERSIONS=2 leaves at
most two files per (ticker, model), every query command still answers, and the health check is
ok the evening after the last good run and critical once the bars are stale. Tiny networks."""

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from bench.memory import CutSource
from forecaster.cli import cli
from forecaster.daemon.jobrun import JobContext
from forecaster.market.calendar import trading_days
from forecaster.routine.health import CRITICAL, OK, overall, run_checks
from forecaster.routine.task_inputs import universe_key
from forecaster.storage.db import open_database, session_factory, transaction
from forecaster.storage.schema import ModelVersion
from forecaster.storage.schema_runs import SmokeRun
from jobs import daily_update
from tests.helpers import SYNTHETIC_TICKER as TICKER
from tests.helpers import synthetic_csv, tiny_env, tiny_settings
from tests.invariants import check_invariants

KINDS = ["rnn", "gru"]
WEEK = trading_days(date(2023, 8, 25), date(2023, 8, 31))  # five runs: the first trains, four fine-tune
# Fine-tuned daily (not the default), so that each day makes a version for retention to prune.
EXTRA = {"models": KINDS, "tickers": [TICKER], "keep_model_versions": 2, "retrain_every": 50, "finetune_days": 60}
EXTRA["between_retrains"] = "finetune"


def _files(data_dir: Path) -> dict[str, int]:
    # One line of versions per (training universe, kind): the universe is the watch-list's one ticker.
    universe = universe_key([TICKER])
    return {kind: len(list((data_dir / "models" / universe / kind).glob("*.keras"))) for kind in KINDS}


@pytest.mark.slow
def test_a_week_of_daily_jobs_keeps_two_files_per_model_queries_work_and_health_follows_the_bars(tmp_path):
    settings = tiny_settings(tmp_path, **EXTRA, health_min_free_gb=0)
    factory = session_factory(open_database(settings.db_url))
    clock = {"today": WEEK[0]}
    ctx = JobContext(settings, factory, CutSource(synthetic_csv(tmp_path), TICKER), today=lambda: clock["today"])
    seen: list[dict[str, int]] = []
    for day in WEEK:
        clock["today"] = day  # the source answers up to "today": one new bar a run
        record = daily_update.run(ctx)
        assert record.status == "ok", record.error
        seen.append(_files(settings.data_dir))
    assert seen == [{"rnn": 1, "gru": 1}] + [{"rnn": 2, "gru": 2}] * (len(WEEK) - 1)
    with factory() as session:
        versions = session.scalars(select(ModelVersion).order_by(ModelVersion.id)).all()
        assert [v.action for v in versions if v.kind == "rnn"] == ["retrain"] + ["finetune"] * (len(WEEK) - 1)
        assert sum(v.pruned_at is not None for v in versions) == len(KINDS) * (len(WEEK) - 2)
    assert check_invariants(settings.data_dir / "forecaster.db", settings.data_dir) == []

    env = {**tiny_env(**EXTRA), "FORECASTER_DATA_DIR": str(settings.data_dir), "FORECASTER_HEALTH_MIN_FREE_GB": "0"}
    runner = CliRunner()
    for args in (["forecasts", "--champion"], ["evaluate"], ["status"], ["report"], ["prune", "--dry-run"]):
        result = runner.invoke(cli, args, env=env)
        assert result.exit_code == 0, (args, result.output)
    shown = runner.invoke(cli, ["forecasts", "--model", "rnn", "--format", "json"], env=env)
    assert shown.exit_code == 0, shown.output
    rows = json.loads(shown.output)
    assert sorted({date.fromisoformat(r["as_of"]) for r in rows}) == WEEK  # the pruned versions' forecasts too
    assert (settings.data_dir / "report" / "index.html").is_file()

    with transaction(factory) as session:  # a smoke test passed that day (its training is not this test's)
        at = datetime(2023, 8, 31, 9, tzinfo=UTC)
        session.add(SmokeRun(started_at=at, finished_at=at, ok=True, seconds=1.0, details="[]", keras_version="3",
                             tf_version="2"))  # fmt: skip
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(SmokeRun)) == 1
        # The run rows carry the wall clock; the bars' and the calendar's clock is the week's.
        evening = run_checks(settings, session, datetime(2023, 8, 31, 12, 30, tzinfo=UTC))  # 20:30 in Beijing
        assert overall(evening) == OK, [(c.name, c.detail) for c in evening if c.status]
        stale = run_checks(settings, session, datetime(2023, 9, 6, 12, 30, tzinfo=UTC))  # 4 trading days later
        assert {c.name: c.status for c in stale}["newest bar"] == CRITICAL and overall(stale) == CRITICAL
    assert runner.invoke(cli, ["health"], env=env).exit_code == CRITICAL  # today, years after the last bar
