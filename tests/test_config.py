"""Settings: environment, TOML file, defaults, and their precedence."""

from datetime import date
from pathlib import Path

import pytest

from forecaster.config import BUNDLED_CSV, TUSHARE_URL, load_settings
from forecaster.errors import ConfigError
from forecaster.market.tickers import normalize_ticker, ticker_in_name


def test_defaults():
    s = load_settings()
    assert s.db_url == "sqlite:///data/forecaster.db"
    assert s.data_dir == Path("data")
    assert s.tickers == ["600519.SH"]
    assert s.tushare_api_url == TUSHARE_URL
    assert s.token() is None
    assert s.bundled_csv == BUNDLED_CSV and BUNDLED_CSV.is_file()


def test_environment(monkeypatch):
    monkeypatch.setenv("FORECASTER_DATABASE_URL", "sqlite:////tmp/x.db")
    monkeypatch.setenv("FORECASTER_TICKERS", "600519.sh, sz000001 ,300750.SZ")
    monkeypatch.setenv("FORECASTER_TUSHARE_API_URL", "http://127.0.0.1:9/dataapi")
    monkeypatch.setenv("FORECASTER_HISTORY_START", "2015-01-01")
    monkeypatch.setenv("TUSHARE_TOKEN", "abc")
    s = load_settings()
    assert s.db_url == "sqlite:////tmp/x.db"
    assert s.tickers == ["600519.SH", "000001.SZ", "300750.SZ"]
    assert s.tushare_api_url == "http://127.0.0.1:9/dataapi"
    assert s.history_start == date(2015, 1, 1)
    assert s.token() == "abc"
    assert "abc" not in repr(s) and "abc" not in str(s.model_dump())


def test_forecaster_token_wins_over_tushare_token(monkeypatch):
    monkeypatch.setenv("TUSHARE_TOKEN", "generic")
    monkeypatch.setenv("FORECASTER_TUSHARE_TOKEN", "ours")
    assert load_settings().token() == "ours"


def test_toml_file_and_precedence(tmp_path, monkeypatch):
    path = tmp_path / "f.toml"
    path.write_text('[forecaster]\ndata_dir = "elsewhere"\ntickers = ["000001.SZ"]\ningest_overlap_days = 3\n')
    s = load_settings(path)
    assert s.data_dir == Path("elsewhere") and s.tickers == ["000001.SZ"] and s.ingest_overlap_days == 3
    assert s.db_url == "sqlite:///elsewhere/forecaster.db"
    monkeypatch.setenv("FORECASTER_INGEST_OVERLAP_DAYS", "7")
    assert load_settings(path).ingest_overlap_days == 7  # environment beats the file
    monkeypatch.setenv("FORECASTER_CONFIG", str(path))
    assert load_settings().tickers == ["000001.SZ"]


def test_forecaster_toml_in_working_folder_is_read(tmp_path):
    (tmp_path / "forecaster.toml").write_text('tickers = "600000.SH"\n')
    assert load_settings().tickers == ["600000.SH"]


@pytest.mark.parametrize(
    ("content", "env", "message"),
    [
        ("tickers = [", {}, "not valid TOML"),
        ("", {"FORECASTER_TICKERS": "AAPL"}, "not a ticker"),
        ("", {"FORECASTER_INGEST_OVERLAP_DAYS": "-1"}, "ingest_overlap_days"),
        ("", {"FORECASTER_HISTORY_START": "yesterday"}, "history_start"),
    ],
)
def test_bad_settings_are_one_clear_error(content, env, message, tmp_path, monkeypatch):
    path = tmp_path / "f.toml"
    path.write_text(content)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(ConfigError, match=message):
        load_settings(path)


def test_missing_config_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings(tmp_path / "absent.toml")


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("600519", "600519.SH"),
        (600519, "600519.SH"),
        ("2594", "002594.SZ"),
        ("sh600519", "600519.SH"),
        ("SH600519", "600519.SH"),
        ("sh.600519", "600519.SH"),
        ("600519.SS", "600519.SH"),
        ("sz000001", "000001.SZ"),
        ("399006", "399006.SZ"),
        ("300750", "300750.SZ"),
        ("688981", "688981.SH"),
        ("830799", "830799.BJ"),
        ("920001", "920001.BJ"),
        ("000001.sz", "000001.SZ"),
    ],
)
def test_ticker_normalisation(raw, code):
    assert normalize_ticker(raw) == code


@pytest.mark.parametrize("raw", ["000001", "000300", "1", 300])
def test_ambiguous_bare_code_is_refused(raw):
    # 000001 is Ping An Bank on SZ and the SSE Composite on SH; 000300 the CSI 300 index.
    code = str(raw).zfill(6)
    with pytest.raises(ConfigError, match=f"code '{code}' is ambiguous: {code}.SZ .* or {code}.SH"):
        normalize_ticker(raw)
    assert normalize_ticker(raw, "SH") == f"{code}.SH"  # the exchange said elsewhere (a file's name)


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("sh600519.csv", "600519.SH"),
        ("SH600519.csv", "600519.SH"),
        ("600519.SH.csv", "600519.SH"),
        ("600519.SS.csv", "600519.SH"),
        ("daily_sz000001.csv", "000001.SZ"),
        ("prices.csv", None),
        ("1600519.csv", None),
    ],
)
def test_ticker_in_a_file_name(name, code):
    assert ticker_in_name(name) == code
