"""Many tickers: a named set in a file, tushare calls paced within a per-minute budget, and one
ticker's failure (suspended, delisted, bad data) recorded without stopping the others."""

import time
from datetime import date

import pandas as pd
import pytest
from click.testing import CliRunner
from sqlalchemy import select, text

from forecaster.cli import cli
from forecaster.config import load_settings
from forecaster.errors import ConfigError
from forecaster.ingest.sources.tushare_pro import CallBudget, TushareSource
from forecaster.market.tickers import read_tickers_file
from forecaster.routine.driver import RoutineOptions
from forecaster.routine.pipeline import run_routine
from forecaster.storage.schema import IngestLog
from forecaster.storage.schema_runs import Run
from tests.helpers import tiny_settings
from tests.tushare_server import DAILY_FIELDS, FakeTushare, serve, synthetic_daily

TODAY = date(2024, 6, 28)
GOOD, SUSPENDED, BROKEN = "600000.SH", "000002.SZ", "300750.SZ"

# --- a named set of tickers -------------------------------------------------------------------


def test_a_tickers_file_with_comments_blanks_bare_codes_and_repeats(tmp_path):
    path = tmp_path / "watch.txt"
    path.write_text("# my watch-list\n600519\n\n000001.SZ   # a bank\n  300750.sz\n600519.SH\n")
    assert read_tickers_file(path) == ["600519.SH", "000001.SZ", "300750.SZ"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("600519.SH\n000001.SZ\nAAPL  # not ours\n", "line 3: not a ticker: 'AAPL'"),
        ("600519.SH, 000001.SZ\n", "line 1: not a ticker"),
        ("# only comments\n\n", "lists no ticker"),
    ],
)
def test_a_bad_tickers_file_is_one_line_naming_the_line(tmp_path, content, message):
    path = tmp_path / "watch.txt"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message) as caught:
        read_tickers_file(path)
    assert "\n" not in str(caught.value) and str(path) in str(caught.value)


def test_the_tickers_file_setting_replaces_the_list_and_refuses_both(tmp_path, monkeypatch):
    path = tmp_path / "watch.txt"
    path.write_text("sz000001\n300750\n")
    monkeypatch.setenv("FORECASTER_TICKERS_FILE", str(path))
    assert load_settings().tickers == ["000001.SZ", "300750.SZ"]
    monkeypatch.setenv("FORECASTER_TICKERS", "600519.SH")
    with pytest.raises(ConfigError, match="not both"):
        load_settings()


def test_the_cli_reads_a_tickers_file_and_names_a_bad_line(tmp_path):
    csv = tmp_path / "bars.csv"
    rows = [r for seed, t in enumerate((GOOD, BROKEN)) for r in synthetic_daily(t, date(2024, 5, 6), TODAY, seed=seed)]
    pd.DataFrame(rows, columns=DAILY_FIELDS).to_csv(csv, index=False)
    watch = tmp_path / "watch.txt"
    watch.write_text(f"{GOOD}\n{SUSPENDED}  # not in the file: fails alone\n{BROKEN}\n")
    result = CliRunner().invoke(cli, ["ingest", "--tickers-file", str(watch), "--csv", str(csv)])
    lines = result.stdout.splitlines()
    assert result.exit_code == 1 and "1 of 3 ticker(s) failed to ingest" in result.stderr
    assert [ln.split(":")[0] for ln in lines[1:]] == [GOOD, SUSPENDED, BROKEN]
    assert "FAILED" in lines[2] and "new" in lines[1] and "new" in lines[3]
    watch.write_text("600519.SH\nAAPL\n")
    bad = CliRunner().invoke(cli, ["forecasts", "--tickers-file", str(watch)])
    assert bad.exit_code == 1
    expected = f"Error: tickers file {watch} line 2: not a ticker: 'AAPL' (expected a ts_code such as 600519.SH)"
    assert bad.stderr.strip() == expected


# --- the tushare call budget ------------------------------------------------------------------


class FakeClock:
    """Time that moves only when someone sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_the_budget_allows_n_calls_in_any_minute_and_waits_for_the_oldest_to_age_out():
    clock = FakeClock()
    budget = CallBudget(3, clock=clock, sleep=clock.sleep)
    times = []
    for advance in (0, 10, 10, 0, 0, 0):  # calls at t = 0, 10, 20, then three more at once
        clock.now += advance
        budget.acquire()
        times.append(clock.now)
    assert times == [0, 10, 20, 60, 70, 80]
    # Never more than 3 calls within any 60 s.
    assert all(sum(1 for u in times if t <= u < t + 60) <= 3 for t in times)


def test_ingest_of_many_tickers_shares_one_budget(tmp_path, factory):
    clock = FakeClock()
    with serve(FakeTushare()) as fake:
        tickers = [f"60000{i}.SH" for i in range(4)]
        for i, t in enumerate(tickers):
            fake.add_bars(t, date(2024, 5, 6), date(2024, 6, 27), seed=i)
        source = TushareSource(
            fake.token, fake.url, history_start=date(2024, 5, 6), sleep=clock.sleep, clock=clock, calls_per_minute=5
        )
        settings, options = tiny_settings(tmp_path), RoutineOptions(kinds=(), plots=False)
        report = run_routine(settings, factory, tickers=tickers, options=options, source=source, today=TODAY)
    assert all(i.ok for i in report.ingests)
    apis = [c["api"] for c in fake.calls]
    # daily + adj_factor per ticker, the calendar once, the listings once, namechange and
    # stk_limit once each (all refused, as by default: a refusal is not asked again)
    assert len(apis) == 12 and apis.count("trade_cal") == 1 and apis.count("stock_basic") == 1
    assert apis.count("namechange") == 1 and apis.count("stk_limit") == 1
    # the 6th call waited for the first to age out, the 11th for the 6th
    assert clock.now == 120.0 and clock.sleeps == [60.0, 60.0]


# --- one ticker's failure ---------------------------------------------------------------------


def test_a_suspended_and_a_broken_ticker_fail_alone_and_the_others_are_forecast(tmp_path, factory):
    settings = tiny_settings(tmp_path)
    with serve(FakeTushare()) as fake:
        fake.add_bars(GOOD, date(2024, 1, 2), date(2024, 6, 27), seed=1)
        broken = fake.add_bars(BROKEN, date(2024, 1, 2), date(2024, 6, 27), seed=2)
        broken[10][3] = broken[10][4] / 2  # high below low: the whole batch is refused
        source = TushareSource(
            fake.token,
            fake.url,
            retry_base_s=0.0,
            retry_total_s=0.0,
            history_start=date(2024, 1, 2),
            sleep=lambda s: None,
            calls_per_minute=500,
        )
        started = time.perf_counter()
        report = run_routine(
            settings,
            factory,
            tickers=[SUSPENDED, BROKEN, GOOD],
            options=RoutineOptions(kinds=("rnn",), plots=False),
            source=source,
            today=TODAY,
        )
    assert time.perf_counter() - started < 120
    ingests = {i.ticker: i for i in report.ingests}
    assert "returned nothing" in (ingests[SUSPENDED].error or "") and not ingests[BROKEN].ok
    assert ingests[GOOD].ok
    tickers = {t.ticker: t for t in report.tickers}
    assert "no bars stored" in (tickers[SUSPENDED].error or "") and "no bars stored" in (tickers[BROKEN].error or "")
    assert tickers[GOOD].ok and {o.model for o in tickers[GOOD].outcomes} == {"naive", "ewma", "drift", "garch", "rnn"}
    with factory() as s:
        logs = {e.ticker: e.status for e in s.scalars(select(IngestLog))}
        assert logs == {SUSPENDED: "error", BROKEN: "error", GOOD: "ok"}
        run = s.scalars(select(Run)).one()
        assert run.status == "partial" and SUSPENDED in (run.error or "") and BROKEN in (run.error or "")
        assert s.execute(text("select distinct ticker from forecasts")).scalars().all() == [GOOD]
