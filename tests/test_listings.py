"""Listings (tushare stock_basic / index_basic, or the bundled file) and indexes (index_daily),
through the CLI against the local tushare stand-in: an index ingested and forecast, an unknown
and a future code refused at once, names in status and the run table, `000300` resolved."""

import time
from datetime import date

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from forecaster.cli import cli
from forecaster.ingest.listings import BUNDLED_LISTINGS, read_listings_file
from forecaster.storage.listings import ticker_names
from forecaster.storage.schema import Forecast
from tests.tushare_server import FakeTushare, serve

START, END = date(2024, 1, 2), date(2024, 6, 28)
INDEX, STOCK = "000300.SH", "600000.SH"


@pytest.fixture
def market():
    with serve(FakeTushare()) as fake:
        fake.add_index(INDEX, START, END, "沪深300")
        fake.add_listing(STOCK, "浦发银行", date(1999, 11, 10))
        fake.add_bars(STOCK, START, END, seed=2, price=10.0)
        fake.add_listing("688999.SH", "未来科技", date(2099, 1, 5), status="G", board="科创板")
        yield fake


def _env(fake: FakeTushare, tmp_path) -> dict[str, str]:
    return {
        "TUSHARE_TOKEN": fake.token,
        "FORECASTER_TUSHARE_API_URL": fake.url,
        "FORECASTER_DATA_DIR": str(tmp_path / "data"),
        "FORECASTER_MODELS": "",
        "NO_PROXY": "127.0.0.1,localhost",
    }


def invoke(env: dict[str, str], *args: str):
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def test_an_index_is_ingested_through_index_daily_and_forecast_unadjusted(market, tmp_path):
    env = _env(market, tmp_path)
    ingest = invoke(env, "ingest", "--ticker", INDEX, "--start", "2024-01-01", "--end", "2024-06-28")
    assert ingest.exit_code == 0, ingest.output
    assert f"{INDEX}: {len(market.index_daily[INDEX])} new" in ingest.stdout
    assert "0 adj factors" in ingest.stdout
    apis = [c["api"] for c in market.calls]
    assert "index_daily" in apis and "adj_factor" not in apis
    assert not any(c["api"] == "daily" and c["params"].get("ts_code") == INDEX for c in market.calls)
    result = invoke(env, "run", "--ticker", INDEX)
    assert result.exit_code == 0, result.output
    rows = [ln for ln in result.stdout.splitlines() if ln.startswith(f"{INDEX} ")]  # the table, not the ingest
    assert rows and all("沪深300" in ln for ln in rows)
    with _session(tmp_path) as session:
        forecasts = session.scalars(select(Forecast).where(Forecast.ticker == INDEX)).all()
    assert {f.model for f in forecasts} >= {"naive", "drift"}
    last_close = market.index_daily[INDEX][-1][5]
    assert all(f.last_close == pytest.approx(last_close) for f in forecasts)


def _session(tmp_path):
    from forecaster.storage.db import open_database, session_factory

    return session_factory(open_database(f"sqlite:///{tmp_path / 'data' / 'forecaster.db'}"))()


def test_an_unknown_code_is_refused_in_under_a_second_with_one_line(market, tmp_path):
    env = _env(market, tmp_path)
    started = time.perf_counter()
    result = invoke(env, "ingest", "--ticker", "600001.SH", "--end", "2024-06-28")
    seconds = time.perf_counter() - started
    assert result.exit_code == 1
    assert seconds < 1.0, seconds
    line = next(ln for ln in result.stdout.splitlines() if ln.startswith("600001.SH"))
    assert "not listed" in line and "stock_basic" in line
    assert not any(c["api"] == "daily" for c in market.calls)


def test_a_future_listing_is_refused_with_its_list_date(market, tmp_path):
    result = invoke(_env(market, tmp_path), "ingest", "--ticker", "688999.SH", "--end", "2024-06-28")
    assert result.exit_code == 1
    assert "688999.SH: FAILED" in result.stdout and "not listed yet: 未来科技 lists on 2099-01-05" in result.stdout
    assert not any(c["api"] == "daily" for c in market.calls)


def test_listings_are_asked_at_most_once_a_day_and_names_show_in_status(market, tmp_path):
    env = _env(market, tmp_path)
    for _ in range(2):
        assert invoke(env, "ingest", "--ticker", STOCK, "--end", "2024-06-28").exit_code == 0
    assert [c["api"] for c in market.calls].count("index_basic") == 1
    assert [c["params"].get("list_status") for c in market.calls if c["api"] == "stock_basic"] == ["L", "D", "P", "G"]
    status = invoke(env, "status")
    line = next(ln for ln in status.stdout.splitlines() if ln.startswith(STOCK))
    assert "浦发银行" in line and line.split()[1] == "浦发银行"
    assert "name" in status.stdout.splitlines()[1]


def test_a_bare_index_code_is_resolved_through_the_stored_listings(market, tmp_path):
    env = _env(market, tmp_path)
    before = invoke(env, "ingest", "--ticker", "000300", "--end", "2024-06-28")
    assert before.exit_code != 0 and "ambiguous" in before.output  # nothing stored yet: not guessed
    assert invoke(env, "ingest", "--ticker", STOCK, "--end", "2024-06-28").exit_code == 0
    after = invoke(env, "ingest", "--ticker", "000300", "--start", "2024-01-01", "--end", "2024-06-28")
    assert after.exit_code == 0, after.output
    assert f"{INDEX}: {len(market.index_daily[INDEX])} new" in after.stdout


def test_the_bundled_listings_name_the_offline_codes(tmp_path):
    rows = {r["ticker"]: r for r in read_listings_file(BUNDLED_LISTINGS)}
    assert len(rows) == 60
    moutai = rows["600519.SH"]
    assert (moutai["name"], moutai["market"], moutai["exchange"]) == ("贵州茅台", "主板", "SSE")
    assert moutai["list_date"] == date(2001, 8, 27)
    env = {"FORECASTER_DATA_DIR": str(tmp_path / "data")}
    assert invoke(env, "ingest").exit_code == 0  # the bundled CSV: names come from the bundled listings
    with _session(tmp_path) as session:
        assert ticker_names(session, ["600519.SH", "999999.SH"]) == {"600519.SH": "贵州茅台"}
