"""The command line, driven in-process."""

import stat
from collections.abc import Iterator
from datetime import date

import click
import pytest
from click.testing import CliRunner

from forecaster.cli import cli
from forecaster.cli.routine import RUN_TABLE, run_columns, run_rows
from forecaster.model.forecasting import Point
from forecaster.model.intervals import Interval
from forecaster.model.spec import BASELINES
from forecaster.routine.driver import TickerReport
from forecaster.routine.pipeline import RunReport
from forecaster.routine.task_results import ModelOutcome
from tests.helpers import strict_loads, tiny_env
from tests.tushare_server import FakeTushare, serve


def invoke(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def _all_commands(group: click.Group, prefix: str = "") -> Iterator[tuple[str, click.Command]]:
    for name, command in group.commands.items():
        yield f"{prefix}{name}", command
        if isinstance(command, click.Group):
            yield from _all_commands(command, f"{prefix}{name} ")


def test_every_command_has_help_text():
    commands = dict(_all_commands(cli))
    assert {"ingest", "status", "db upgrade", "db current"} <= set(commands)
    for name, command in commands.items():
        assert command.help and len(command.help.strip()) > 20, f"{name} lacks help"
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"{name} {param.opts} lacks help"
        result = invoke(*name.split(), "--help")
        assert result.exit_code == 0 and "Usage:" in result.output


@pytest.mark.both_databases
@pytest.mark.usefixtures("db_url")  # a PostgreSQL variant runs with FORECASTER_DATABASE_URL set
def test_ingest_then_status_on_the_bundled_csv():
    first = invoke("ingest")
    assert first.exit_code == 0, first.output
    assert "no tushare token set" in first.output
    assert "600519.SH: 2426 new, 0 revised, 0 unchanged" in first.output
    again = invoke("ingest")
    assert again.exit_code == 0 and "600519.SH: 0 new, 0 revised" in again.output
    status = invoke("status")
    assert status.exit_code == 0
    line = next(ln for ln in status.output.splitlines() if ln.startswith("600519.SH"))
    assert line.split()[:5] == ["600519.SH", "贵州茅台", "2426", "2010-04-26", "2020-04-24"]  # name: bundled listings


def test_bad_date_is_a_usage_error():
    result = invoke("ingest", "--start", "2020-13-01")
    assert result.exit_code == 2 and "is not a date" in result.stderr


def test_start_after_end_is_a_usage_error():
    result = invoke("ingest", "--start", "2020-02-01", "--end", "2020-01-01")
    assert result.exit_code == 2 and "after --end" in result.stderr


def test_failed_ingest_exits_non_zero_with_one_line():
    result = invoke("ingest", "--ticker", "000001.SZ")
    assert result.exit_code == 1
    assert "000001.SZ: FAILED" in result.output
    errors = [ln for ln in result.stderr.splitlines() if ln.startswith("Error:")]
    assert errors == ["Error: 1 of 1 ticker(s) failed to ingest"]
    assert "Traceback" not in result.stderr


def test_not_a_ticker_is_one_line():
    result = invoke("ingest", "--ticker", "AAPL")
    assert result.exit_code == 1 and result.stderr.strip().startswith("Error: not a ticker: 'AAPL'")


def test_bad_config_file_is_one_line(tmp_path):
    (tmp_path / "bad.toml").write_text("tickers = [")
    result = invoke("--config", str(tmp_path / "bad.toml"), "status")
    assert result.exit_code == 1 and "not valid TOML" in result.stderr and "Traceback" not in result.stderr


def test_tushare_source_without_token_is_refused():
    result = invoke("ingest", "--source", "tushare")
    assert result.exit_code == 1 and "no tushare token" in result.stderr


@pytest.mark.both_databases
def test_db_commands(db_url: str):
    from sqlalchemy import make_url

    up = invoke("db", "upgrade")
    assert up.exit_code == 0 and "at schema revision" in up.output
    current = invoke("db", "current")
    assert current.exit_code == 0 and "code head" in current.output
    password = make_url(db_url).password
    if password:  # shown as *** wherever the URL is printed
        assert str(password) not in up.output + current.output and ":***@" in current.output


@pytest.mark.slow
def test_ingest_from_tushare_never_prints_the_token():
    with serve(FakeTushare()) as fake:
        rows = fake.add_bars("600519.SH", date(2024, 1, 2), date(2024, 6, 27))
        env = {"TUSHARE_TOKEN": fake.token, "FORECASTER_TUSHARE_API_URL": fake.url}
        result = invoke("-v", "ingest", "--start", "2024-01-01", "--end", "2024-06-27", env=env)
        assert result.exit_code == 0, result.output + result.stderr
        assert "source: tushare Pro at http://127.0.0.1" in result.output
        assert f"600519.SH: {len(rows)} new" in result.stdout
        bad = invoke("-vv", "ingest", "--end", "2024-06-28", env={**env, "TUSHARE_TOKEN": "secret-wrong-token"})
        assert bad.exit_code == 1
    assert fake.token not in result.output + result.stderr
    assert "secret-wrong-token" not in bad.output + bad.stderr
    assert "refused the token" in bad.output


@pytest.mark.parametrize("command", [["status"], ["db", "upgrade"]])
def test_database_newer_than_code_is_refused(command, tmp_path):
    assert invoke("db", "upgrade").exit_code == 0
    import sqlite3

    with sqlite3.connect(tmp_path / "data" / "forecaster.db") as conn:
        conn.execute("update alembic_version set version_num='zzzz'")
    result = invoke(*command)
    assert result.exit_code == 1 and "newer version" in result.stderr


TINY = tiny_env()


@pytest.mark.slow
def test_run_prints_the_forecast_table_and_records_the_run(tmp_path):
    result = invoke("run", "--as-of", "2011-06-30", "--models", "rnn,gru", "--format", "json", env=TINY)
    assert result.exit_code == 0, result.output
    table = {r["model"]: r for r in strict_loads(result.stdout) if r["ticker"] == "600519.SH"}
    assert set(table) == {*BASELINES, "rnn", "gru", "ensemble"}
    assert table["rnn"]["action"] == "retrain" and table["rnn"]["target_date"] == "2011-07-01"
    assert table["naive"]["forecast"] == table["naive"]["last_close"]  # naive forecast == last close
    gru = table["gru"]
    assert (gru["as_of"], gru["horizon"]) == ("2011-06-30", 1)
    assert gru["lo95"] <= gru["lo80"] <= gru["forecast"] <= gru["hi80"] <= gru["hi95"]
    assert not {"error", "failure", "plot"} & set(gru)  # a failure is `failure`; plots are listed once, below
    plots = [ln.removeprefix("plot: ") for ln in result.stderr.splitlines() if ln.startswith("plot: ")]
    assert len(plots) == len(set(plots)) and any(p.endswith("2011-06-30-forecast.png") for p in plots)
    assert "run 1: ok" in result.stderr  # in JSON, stdout holds the rows alone
    for written in (tmp_path / plots[0], tmp_path / "data" / "report" / "index.html"):
        assert stat.S_IMODE(written.stat().st_mode) & 0o044 == 0o044, written  # a web server may read it
    again = invoke("run", "--as-of", "2011-06-30", "--models", "rnn", "--no-ingest", env=TINY)
    assert again.exit_code == 0 and " reuse " in again.stdout
    lines = again.stdout.splitlines()
    header = next(ln for ln in lines if ln.startswith("ticker "))
    assert header.split() == ["ticker", "name", "model", "action", "as_of", "target_date", "horizon", "forecast",
                              "lo80", "hi80", "lo95", "hi95"]  # fmt: skip
    rnn = next(ln.split() for ln in lines if ln.startswith("600519.SH ") and " rnn " in ln)
    assert rnn[:7] == ["600519.SH", "贵州茅台", "rnn", "reuse", "2011-06-30", "2011-07-01", "1"]
    assert float(rnn[8]) <= float(rnn[7]) <= float(rnn[9])  # lo80 <= forecast <= hi80
    plot_lines = [i for i, ln in enumerate(lines) if ln.startswith("plot: ")]
    assert plot_lines and min(plot_lines) > lines.index(header)  # after the table, not on its rows
    status = invoke("status").stdout
    models = {
        ln.split()[1]: ln.split() for ln in status.splitlines() if ln.startswith("@") and "retrain" in ln
    }  # one line of versions per (training universe, kind)
    assert set(models) == {"rnn", "gru"} and models["rnn"][4] == "2011-06-30"
    (last_run,) = [ln for ln in status.splitlines() if ln.startswith("last run: ")]
    assert last_run.startswith("last run: 2 (run)") and last_run.endswith(" ok")
    assert "next daily_update" in status  # the daemon's schedule closes the status


def test_run_rows_carry_both_intervals_and_call_a_failure_failure():
    day, target = date(2020, 4, 24), date(2020, 4, 27)
    band = Interval(lo80=9.0, hi80=11.0, lo95=8.0, hi95=12.0)
    ok = ModelOutcome("gru", "finetune", version_id=3, forecast=[Point(target, 1, 10.0)], intervals=[band])
    plain = ModelOutcome("naive", "baseline", forecast=[Point(target, 1, 9.5)])  # no intervals issued
    failed = ModelOutcome("lstm", "retrain", error="model file not saved: disk full")
    ticker = TickerReport("600519.SH", day, 9.5, [plain, ok, failed], plots={"forecast": "p.png"})
    rows = run_rows(RunReport(1, [], [ticker], {}))
    assert rows[1] == {"ticker": "600519.SH", "as_of": day, "last_close": 9.5, "model": "gru", "version": 3,
                       "action": "finetune", "target_date": target, "horizon": 1, "forecast": 10.0,
                       "lo80": 9.0, "hi80": 11.0, "lo95": 8.0, "hi95": 12.0}  # fmt: skip
    assert rows[0]["lo80"] is None and rows[0]["forecast"] == 9.5
    assert rows[2]["failure"] == "model file not saved: disk full" and "error" not in rows[2]
    assert run_columns(rows) == [*RUN_TABLE, "failure"] and run_columns(rows[:2]) == RUN_TABLE


def test_run_refuses_unknown_models_before_any_work(tmp_path):
    result = invoke("run", "--models", "rnn,transformer")
    assert result.exit_code == 2 and "unknown model kind(s) transformer" in result.stderr
    assert not (tmp_path / "data").exists()  # no database was created


def test_run_without_bars_fails_cleanly():
    result = invoke("run", "--no-ingest", env=TINY)
    assert result.exit_code == 1
    assert "no bars stored; run ingest" in result.stdout
    assert result.stderr.strip().splitlines()[-1].startswith("Error: run 1 finished with failures")


@pytest.mark.parametrize(
    "args",
    [("daemon", "--list"), ("run",), ("backfill", "--start", "2020-01-02", "--end", "2020-01-03"), ("evaluate",)],
)
def test_a_misspelt_model_kind_is_refused_by_every_entry_point_before_any_work(args, tmp_path):
    result = invoke(*args, env={"FORECASTER_MODELS": "rnn,bogus"})
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: bad setting models (FORECASTER_MODELS): Input should be 'rnn', 'lstm' or 'gru' (got 'bogus')"
    ]
    assert not (tmp_path / "data").exists()  # refused before the database was even created


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("FORECASTER_SCALING", "logrets", "'logrets'"),
        ("FORECASTER_TARGET", "high", "'high'"),
        ("FORECASTER_FEATURES", "close,vol", "'vol'"),
    ],
)
def test_misspelt_scaling_target_and_features_are_refused_when_settings_load(variable, value, named):
    result = invoke("status", env={variable: value})
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
    assert named in result.output and variable in result.output


def test_features_without_the_target_are_refused_when_settings_load():
    result = invoke("status", env={"FORECASTER_FEATURES": "open"})
    assert result.exit_code == 1
    assert "include the target 'close'" in result.output


def test_a_misspelt_models_option_names_the_bad_kind():
    result = CliRunner().invoke(cli, ["run", "--models", "rnn,gruu"])
    assert result.exit_code == 2 and "unknown model kind(s) gruu" in result.output
