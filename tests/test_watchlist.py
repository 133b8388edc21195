"""The watch-list: the report's first table (rows, status, the sort script), the same rows as text,
and plots not redrawn when a ticker's forecasts did not change."""

import json
import re
from datetime import UTC, datetime

from click.testing import CliRunner
from sqlalchemy.orm import Session, sessionmaker

from forecaster.cli import cli
from forecaster.reporting.html import write_report
from forecaster.storage.db import transaction
from forecaster.storage.runs import start_run
from tests.helpers import BARS, DAYS, TICKERS, pipeline_settings, ready_db, recorded_plot, routine, seed_forecasts

QUIET = "300750.SZ"  # bars, no forecast in the newest run: suspended


def seed_run(factory: sessionmaker[Session]) -> None:
    """TICKERS[0] ok, TICKERS[1] failed in the newest run, QUIET suspended in it."""
    with transaction(factory) as session:
        seed_forecasts(session)
        run = start_run(
            session, command="run", as_of=DAYS[BARS - 1], tickers=[*TICKERS, QUIET], pid=1,
            now=datetime(2024, 4, 1, tzinfo=UTC),
        )  # fmt: skip
        run.status = "failed"
        run.error = f"{TICKERS[1]} rnn: ValueError: boom"
        run.note = f"{QUIET}: suspended since {DAYS[BARS - 3]} (last bar {DAYS[BARS - 4]}); not forecast"


def watch_rows(page: str) -> list[list[str]]:
    table = re.search(r'<table id="watchlist" class="sortable">.*?<tbody>(.*?)</tbody>', page, flags=re.S)
    assert table
    return [re.findall(r'<td data-v="([^"]*)"', tr) for tr in table.group(1).split("</tr>") if tr]


def test_the_report_opens_with_the_watch_list(factory, settings, tmp_path):
    seed_run(factory)
    with factory() as session:
        page = write_report(session, settings.data_dir, tmp_path / "out", tickers=[*TICKERS, QUIET])
    html = page.read_text(encoding="utf-8")
    assert html.index('id="watchlist"') < html.index('id="latest-forecasts"')
    rows = {r[0]: r for r in watch_rows(html)}
    assert sorted(rows) == sorted([*TICKERS, QUIET])
    assert [rows[t][-1] for t in (*TICKERS, QUIET)] == ["ok", "failed", "suspended"]
    # naive is the champion and there is no ensemble: its median, the last close, a 0 % move.
    close = 10.0 + 0.1 * (BARS - 1) + (0.25 if (BARS - 1) % 3 == 0 else 0.0)
    assert float(rows[TICKERS[0]][2]) == float(rows[TICKERS[0]][5]) == close
    assert rows[TICKERS[0]][3] == str(DAYS[BARS - 1]) and float(rows[TICKERS[0]][8]) == 0.0
    assert rows[QUIET][5] == "" and rows[QUIET][1] == ""  # no forecast, no name yet
    assert f"since {DAYS[BARS - 3]}" in html and "ValueError: boom" in html
    assert "table.sortable th" in html and "addEventListener" in html  # the sort script
    assert f'href="#t-{TICKERS[0].replace(".", "-")}"' in html


def test_many_tickers_get_a_page_each(factory, settings, tmp_path, monkeypatch):
    monkeypatch.setattr("forecaster.reporting.html.OWN_PAGES_ABOVE", 1)
    seed_run(factory)
    with transaction(factory) as session:
        recorded_plot(settings.data_dir, TICKERS[1], "forecast", session)
    with factory() as session:
        page = write_report(session, settings.data_dir, tmp_path / "out")
    html = page.read_text(encoding="utf-8")
    # Every ticker of the newest run, also the suspended one without a forecast in it.
    pages = sorted(p.name for p in page.parent.glob("ticker-*.html"))
    assert pages == sorted(f"ticker-{t}.html" for t in (*TICKERS, QUIET))
    assert f'href="ticker-{TICKERS[0]}.html"' in html and 'class="headline"' not in html
    own = (page.parent / f"ticker-{TICKERS[1]}.html").read_text(encoding="utf-8")
    assert 'class="headline"' in own and "ValueError: boom" in own
    assert f'src="img/{TICKERS[1]}-forecast.png"' in own  # beside the index: the same relative path


def test_plots_are_not_redrawn_when_the_forecasts_did_not_change(tmp_path):
    settings = pipeline_settings(tmp_path)
    factory = ready_db(settings)
    first = routine(settings, factory, kinds=())
    plots = sorted((settings.data_dir / "plots").rglob("*.png"))
    assert first.ok and plots
    stamps = [p.stat().st_mtime_ns for p in plots]
    again = routine(settings, factory, kinds=())
    assert again.ok and again.tickers[0].plots == first.tickers[0].plots
    assert [p.stat().st_mtime_ns for p in plots] == stamps
    (settings.data_dir / "plots" / again.tickers[0].ticker / "drawn.sha256").write_text("other forecasts")
    routine(settings, factory, kinds=())
    assert [p.stat().st_mtime_ns for p in plots] != stamps


def test_status_and_forecasts_give_the_same_overview_as_text(factory, settings):
    seed_run(factory)
    runner = CliRunner()
    result = runner.invoke(cli, ["forecasts", "--latest", "--overview", "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = {r["ticker"]: r for r in json.loads(result.output)}
    assert {t: r["status"] for t, r in rows.items()} == {TICKERS[0]: "ok", TICKERS[1]: "failed"}
    assert rows[TICKERS[0]]["move_pct"] == 0.0 and rows[TICKERS[0]]["name"] is None
    status = runner.invoke(cli, ["status"], catch_exceptions=False)
    assert status.exit_code == 0, status.output
    assert "watch-list" in status.output and "failed" in status.output and "move_pct" in status.output
    bad = runner.invoke(cli, ["forecasts", "--overview"])
    assert bad.exit_code == 2 and "--overview goes with --latest" in bad.output
