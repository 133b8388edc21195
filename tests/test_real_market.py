"""The real market through the CLI: a watch-list of 30 tickers served by the tushare stand-in
with every case a user meets (an index, a listing in the future, a listing 40 trading days old, a
30-day suspension, a delisting, a *ST stock closing at its limit, a ChiNext stock on its first
days, ordinary stocks), ingested and run to exit 0 with the right status per ticker, no forecast
dated on or before its as-of day, none outside the day's limit prices, the watch-list first in the
report; and an unknown code refused in under a second."""

import re
import time
from datetime import date

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from forecaster.cli import cli
from forecaster.market.calendar import trading_days
from forecaster.market.limits import limit_prices
from forecaster.storage.db import open_database, session_factory
from forecaster.storage.quantiles import QUANTILE_COLUMNS
from forecaster.storage.schema import Forecast, LimitPrice, NamePeriod
from tests.tushare_server import FakeTushare, serve

DAYS = trading_days(date(2024, 1, 2), date(2024, 6, 28))
START, END = DAYS[0], DAYS[-1]
INDEX, FUTURE, YOUNG, SUSPENDED = "000300.SH", "688999.SH", "603999.SH", "600200.SH"
DELISTED, ST, CHINEXT = "600300.SH", "600400.SH", "301999.SZ"
ORDINARY = [f"{600500 + i:06d}.SH" for i in range(23)]
WATCH = [INDEX, FUTURE, YOUNG, SUSPENDED, DELISTED, ST, CHINEXT, *ORDINARY]
ST_SINCE = date(2023, 5, 4)
LIMIT = {ST: 0.05, **{t: 0.10 for t in (YOUNG, *ORDINARY)}}  # the limits of the forecast ones; none: no limit


def _market(fake: FakeTushare) -> None:
    fake.add_index(INDEX, START, END, "沪深300")
    fake.add_listing(FUTURE, "未来科技", date(2099, 1, 5), status="G", board="科创板")
    fake.add_listing(YOUNG, "新股份", DAYS[-40])
    fake.add_bars(YOUNG, DAYS[-40], END, seed=1, price=12.0)
    fake.add_listing(SUSPENDED, "停牌股份", date(2001, 3, 1))
    fake.add_bars(SUSPENDED, START, DAYS[-31], seed=2, price=8.0)  # no bar for the last 30 trading days
    fake.add_listing(DELISTED, "退市股份", date(1999, 7, 1), status="D", delisted=DAYS[-10])
    fake.add_bars(DELISTED, START, DAYS[-11], seed=3, price=3.0)
    fake.add_listing(ST, "*ST某某", date(2000, 5, 8))
    fake.add_names(ST, [("某某股份", date(2000, 5, 8), ST_SINCE - date.resolution), ("*ST某某", ST_SINCE, None)])
    rows = fake.add_bars(ST, START, END, seed=4, price=5.76)
    last = rows[-1]  # the last day closes at its limit-down: 5 %, as ST
    last[5] = last[4] = limit_prices(last[6], 0.05)[0]
    fake.add_listing(CHINEXT, "创新科技", DAYS[-3], board="创业板")
    fake.add_bars(CHINEXT, DAYS[-3], END, seed=5, price=30.0)
    for i, ticker in enumerate(ORDINARY):
        fake.add_listing(ticker, f"股份{i:02d}", date(2005, 1, 4))
        fake.add_bars(ticker, START, END, seed=10 + i, price=10.0 + i)
    for ticker, pct in LIMIT.items():
        fake.add_limits(ticker, pct)
    fake.add_limits(SUSPENDED, 0.10)
    fake.add_limits(DELISTED, 0.10)


def _env(fake: FakeTushare, tmp_path) -> dict[str, str]:
    return {
        "TUSHARE_TOKEN": fake.token,
        "FORECASTER_TUSHARE_API_URL": fake.url,
        "FORECASTER_DATA_DIR": str(tmp_path / "data"),
        "FORECASTER_TICKERS": ",".join(WATCH),
        "FORECASTER_HISTORY_START": str(START),
        # One small network, one epoch: a window of 45 bars, more than the young one has (40).
        "FORECASTER_MODELS": "gru",
        "FORECASTER_WINDOW": "45",
        "FORECASTER_UNITS": "4,4",
        "FORECASTER_MAX_EPOCHS": "1",
        "FORECASTER_PATIENCE": "1",
        "NO_PROXY": "127.0.0.1,localhost",
    }


def invoke(env: dict[str, str], *args: str):
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


@pytest.mark.slow
def test_a_watch_list_of_the_whole_market_runs_to_exit_0_with_each_case_right(tmp_path):
    with serve(FakeTushare()) as fake:
        _market(fake)
        env = _env(fake, tmp_path)
        ingest = invoke(env, "ingest", "--end", str(END))
        run = invoke(env, "run")
        started = time.perf_counter()
        unknown = invoke(env, "ingest", "--ticker", "600001.SH")
        unknown_s = time.perf_counter() - started
    assert "tushare calls" in ingest.stdout and "refused" not in ingest.stdout.split("tushare calls")[-1]
    assert run.exit_code == 0, run.output
    assert unknown.exit_code == 1 and unknown_s < 1.0 and "not listed" in unknown.output
    page = (tmp_path / "data" / "report" / "index.html").read_text(encoding="utf-8")
    statuses = _statuses(page)
    assert {t: statuses[t] for t in (FUTURE, YOUNG, SUSPENDED, DELISTED, CHINEXT)} == {
        FUTURE: "not listed yet",
        YOUNG: "young",
        SUSPENDED: "suspended",
        DELISTED: "delisted",
        CHINEXT: "young",
    }
    assert {statuses[t] for t in (INDEX, ST, *ORDINARY)} == {"ok"}
    assert page.index('id="watchlist"') < min(page.index(f"<h2>{h}") for h in ("Latest forecasts", "Champion"))
    with session_factory(open_database(f"sqlite:///{tmp_path / 'data' / 'forecaster.db'}"))() as session:
        forecasts = session.scalars(select(Forecast)).all()
        st_names = session.scalars(select(NamePeriod.name).where(NamePeriod.ticker == ST)).all()
        limits_stored = session.scalar(select(LimitPrice).where(LimitPrice.ticker == ST, LimitPrice.trade_date == END))
    assert sorted(st_names) == ["*ST某某", "某某股份"] and limits_stored is not None
    assert {f.ticker for f in forecasts} == {INDEX, YOUNG, ST, CHINEXT, *ORDINARY}
    assert all(f.target_date > f.as_of == END for f in forecasts)
    assert {f.model for f in forecasts if f.ticker == ST} >= {"gru", "naive"}
    for f in forecasts:
        _within_limits(f)


def _within_limits(f: Forecast) -> None:
    """Every stored value of `f` inside its target day's limits: for horizon 1 the day's limit
    prices from the last close; h days on, the most h limit moves allow (to the cent)."""
    pct = LIMIT.get(f.ticker)
    if pct is None:  # an index, a listing's first days: no limit
        return
    values = [f.yhat, *(getattr(f, c) for c in QUANTILE_COLUMNS if getattr(f, c) is not None)]
    down, up = limit_prices(f.last_close, pct)
    if f.horizon > 1:
        down, up = f.last_close * (1 - pct) ** f.horizon - 0.01, f.last_close * (1 + pct) ** f.horizon + 0.01
    assert all(down <= v <= up for v in values), (f.ticker, f.model, f.horizon, down, up, values)


def _statuses(page: str) -> dict[str, str]:
    """code -> status of the report's watch-list (the first and last cells of each row)."""
    table = re.search(r'<table id="watchlist" class="sortable">.*?<tbody>(.*?)</tbody>', page, flags=re.S)
    assert table
    rows = [re.findall(r'<td data-v="([^"]*)"', tr) for tr in table.group(1).split("</tr>") if tr]
    return {cells[0]: cells[-1] for cells in rows if cells}
