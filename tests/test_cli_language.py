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
    result = invoke("calendar", "--since", "2020-01-02", "--until", "2020-01-03", env={"FORECASTER_MODLES": "rnn"})
    assert result.exit_code == 0, result.output
    warnings = [ln for ln in result.stderr.splitlines() if "FORECASTER_MODLES" in ln]
    assert warnings == ["WARNING forecaster.config: unknown variable FORECASTER_MODLES ignored; did you mean 'FORECASTER_MODELS'?"]
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
