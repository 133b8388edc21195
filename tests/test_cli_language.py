"""What the user types: misspelt settings named, files with a byte-order mark read, and one
spelling for each option across the commands (in-process, with click's CliRunner)."""

from datetime import date

import pytest
from click.testing import CliRunner

from forecaster.cli import cli
from forecaster.config import load_settings, warn_unknown_environment
from forecaster.errors import ConfigError
from forecaster.market.override import read_override
from forecaster.market.tickers import read_tickers_file
from tests.helpers import strict_loads

BOM = "\ufeff"


def invoke(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


# --- no silent typos -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "named"),
    [
        ("max_epoch = 1", "unknown setting 'max_epoch'; did you mean 'max_epochs'?"),
        ("unit = [4, 4]", "unknown setting 'unit'; did you mean 'units'?"),
        ('modles = ["rnn"]', "unknown setting 'modles'; did you mean 'models'?"),
        ("[forecaster]\nmax_epoch = 1", "unknown setting 'max_epoch'"),
        ("zzzz = 1", "unknown setting 'zzzz'"),
    ],
)
def test_an_unknown_key_in_the_settings_file_is_an_error_naming_the_closest(tmp_path, line, named):
    path = tmp_path / "f.toml"
    path.write_text(line + "\n")
    with pytest.raises(ConfigError, match=named.replace("?", r"\?")) as caught:
        load_settings(path)
    if "zzzz" in line:
        assert "did you mean" not in str(caught.value)  # nothing near: no guess


def test_an_unknown_key_is_one_error_line_from_the_cli(tmp_path):
    (tmp_path / "f.toml").write_text("max_epoch = 1\n")
    result = invoke("--config", str(tmp_path / "f.toml"), "status")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        f"Error: config file {tmp_path / 'f.toml'}: unknown setting 'max_epoch'; did you mean 'max_epochs'?"
    ]


def test_an_unknown_variable_is_warned_with_the_closest_name(caplog):
    env = {"FORECASTER_MAX_EPOCH": "1", "FORECASTER_MODELS": "rnn", "FORECASTER_CONFIG": "x", "PATH": "/bin"}
    env["FORECASTER_TEST_PG_URL"] = "postgresql://"  # the tests' own variable is not a typo
    assert warn_unknown_environment(env) == ["FORECASTER_MAX_EPOCH"]
    assert caplog.messages == ["unknown variable FORECASTER_MAX_EPOCH ignored; did you mean 'FORECASTER_MAX_EPOCHS'?"]


def test_the_cli_warns_about_an_unknown_variable_on_stderr_and_still_runs():
    assert invoke("db", "upgrade").exit_code == 0  # read commands never create a database
    result = invoke("calendar", "--since", "2020-01-02", "--until", "2020-01-03", env={"FORECASTER_MODLES": "rnn"})
    assert result.exit_code == 0, result.output
    warnings = [ln for ln in result.stderr.splitlines() if "FORECASTER_MODLES" in ln]
    assert warnings == [
        "WARNING forecaster.config: unknown variable FORECASTER_MODLES ignored; did you mean 'FORECASTER_MODELS'?"
    ]
    assert "FORECASTER" not in result.stdout


# --- byte-order marks --------------------------------------------------------------------------


def test_a_tickers_file_with_a_bom_is_read(tmp_path):
    path = tmp_path / "list.txt"
    path.write_text(f"{BOM}600519.SH\n000858.SZ\n", encoding="utf-8")
    assert read_tickers_file(path) == ["600519.SH", "000858.SZ"]


def test_a_settings_file_with_a_bom_is_read(tmp_path):
    path = tmp_path / "f.toml"
    path.write_text(f'{BOM}tickers = ["000001.SZ"]\n', encoding="utf-8")
    assert load_settings(path).tickers == ["000001.SZ"]


def test_a_calendar_file_with_a_bom_is_read(tmp_path):
    path = tmp_path / "days.csv"
    path.write_text(f"{BOM}date,open\n2027-02-15,0\n", encoding="utf-8")
    (day,) = read_override(path)
    assert (day.day, day.is_open, day.source) == (date(2027, 2, 15), False, "override")


# --- no silent moves ---------------------------------------------------------------------------


def test_an_as_of_after_today_is_refused_before_any_work(tmp_path):
    result = invoke("run", "--as-of", "2999-01-04")
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("Error: Invalid value for --as-of: 2999-01-04 is after today (")
    assert not (tmp_path / "data").exists()


def test_an_as_of_without_a_bar_says_the_day_used_on_stderr_and_in_the_run_row(tmp_path):
    import sqlite3

    # 2011-07-02 is a Saturday: the forecasts are made as of Friday's bar, and say so.
    result = invoke("run", "--as-of", "2011-07-02", "--models", "", "--no-plots", "--format", "csv")
    assert result.exit_code == 0, result.output
    note = "600519.SH: no bar on 2011-07-02; forecast as of 2011-07-01, its newest bar before"
    assert f"note: {note}" in result.stderr.splitlines()
    with sqlite3.connect(tmp_path / "data" / "forecaster.db") as conn:
        assert conn.execute("select as_of, note from runs").fetchall() == [("2011-07-02", note)]
        assert conn.execute("select distinct as_of from forecasts").fetchall() == [("2011-07-01",)]


def test_a_backfill_range_without_a_stored_trading_day_is_an_error():
    result = invoke("backfill", "--start", "2021-01-04", "--end", "2021-01-08", "--models", "", "--no-ingest")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: no stored trading day of 600519.SH in 2021-01-04..2021-01-08; nothing to replay"
    )


def test_an_ingest_range_that_ends_before_it_starts_is_an_error(tmp_path):
    result = invoke("ingest", "--start", "2999-01-01")
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert "--start 2999-01-01 is after --end " in line and "(today)" in line
    assert not (tmp_path / "data").exists()


# --- one CLI language --------------------------------------------------------------------------


def test_version_comes_from_the_package_metadata():
    from importlib.metadata import version

    result = invoke("--version")
    assert result.exit_code == 0 and result.stdout.strip().endswith(f" {version('forecaster')}")


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("run", "--retrain", "--finetune"), "give either --retrain or --finetune, not both"),
        (("ingest", "--start", "2020-13-01"), "Invalid value for '--start': '2020-13-01' is not a date"),
        (("--bogus",), "No such option '--bogus'"),
        (("nosuch",), "No such command 'nosuch'"),
        (("db", "nosuch"), "No such command 'nosuch'"),
        (("forecasts", "--models", ""), "Invalid value for '--models': names no model"),
        (("evaluate", "--seeds", "3"), "--seeds and --epochs train the course experiment; give them with --preset"),
        (("evaluate", "--epochs", "2"), "--seeds and --epochs train the course experiment; give them with --preset"),
        (("smoke", "--ask", "--format", "json"), "--ask talks to a person; give it without --format csv/json"),
    ],
)
def test_a_usage_error_is_one_line_with_a_hint(args, said, tmp_path):
    result = invoke(*args)
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"Error: {said}") and line.endswith("--help')")
    assert not (tmp_path / "data").exists()


def test_help_is_unchanged_by_the_one_line_errors():
    result = invoke("run", "--help")
    assert result.exit_code == 0 and result.stdout.startswith("Usage: ")


def test_old_spellings_still_work_but_are_not_taught():
    assert invoke("db", "upgrade").exit_code == 0  # read commands never create a database
    new = invoke("calendar", "--since", "2027-02-04", "--until", "2027-02-12", "--format", "csv")
    old = invoke("calendar", "--from", "2027-02-04", "--to", "2027-02-12", "--format", "csv")
    assert new.exit_code == old.exit_code == 0 and new.stdout == old.stdout
    assert new.stdout.splitlines()[1].startswith("2027-02-04,")
    shown = {cmd: invoke(cmd, "--help").stdout for cmd in ("calendar", "forecasts", "evaluate")}
    assert "--from" not in shown["calendar"] and "--since" in shown["calendar"]
    for command in ("forecasts", "evaluate"):
        assert "--models" in shown[command] and "--model " not in shown[command] and "-m," not in shown[command]


def test_models_is_one_option_comma_separated_or_repeated():
    from forecaster.cli.options import parse_kinds

    settings = load_settings()
    assert parse_kinds(None, settings) == ("rnn", "lstm", "gru")  # not given: the settings
    assert parse_kinds((), settings) == ()  # given empty: the baselines only, as FORECASTER_MODELS=
    assert load_settings(models="").models == []
    assert invoke("db", "upgrade").exit_code == 0  # read commands never create a database
    old = invoke("forecasts", "-m", "rnn", "--model", "naive", "--format", "json")
    new = invoke("forecasts", "--models", "rnn,naive", "--format", "json")
    assert old.exit_code == new.exit_code == 0 and old.stdout == new.stdout == "[]\n"


@pytest.mark.slow
def test_the_old_model_filter_spellings_select_what_models_does():
    """On stored forecasts (the baselines of a run), the hidden `-m/--model` pick the same rows
    as `--models`, and only the models named: the filter is applied, not just parsed."""
    assert invoke("run", "--models", "", "--no-plots").exit_code == 0
    old = invoke("forecasts", "-m", "naive", "--model", "drift", "--format", "json")
    new = invoke("forecasts", "--models", "naive,drift", "--format", "json")
    assert old.exit_code == new.exit_code == 0 and old.stdout == new.stdout
    assert sorted({row["model"] for row in strict_loads(new.stdout)}) == ["drift", "naive"]


def test_status_and_health_print_csv_and_json(tmp_path):
    import csv
    import io
    import json

    assert invoke("ingest").exit_code == 0
    as_csv = invoke("status", "--format", "csv")
    assert as_csv.exit_code == 0
    stored = {r["ticker"]: r for r in csv.DictReader(io.StringIO(as_csv.stdout))}
    assert len(stored) == 12  # offline, the bundled training universe is ingested beside the watch-list
    row = stored["600519.SH"]
    assert (row["ticker"], row["bars"], row["first"], row["last"]) == ("600519.SH", "2426", "2010-04-26", "2020-04-24")
    as_json = json.loads(invoke("status", "--format", "json").stdout)
    moutai = next(t for t in as_json["tickers"] if t["ticker"] == "600519.SH")
    assert moutai["bars"] == 2426 and as_json["last_run"] is None and as_json["models"] == []
    table, checks, named = (invoke("health", "--format", f) for f in ("table", "csv", "json"))
    assert checks.exit_code == table.exit_code == named.exit_code  # the format never changes the exit code
    rows = list(csv.DictReader(io.StringIO(checks.stdout)))
    assert [r["name"] for r in rows] == [c["name"] for c in json.loads(named.stdout)["checks"]]
    assert len(rows) == len(table.stdout.splitlines()) > 3
    assert {r["code"] for r in rows} <= {"0", "1", "2"}
