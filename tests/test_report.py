"""The static HTML report: its content, its images, and that a real browser renders it from disk."""

import logging
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from forecaster.cli import cli
from forecaster.reporting.html import refresh_report, write_report
from forecaster.reporting.plotting import rolling_error_figure
from forecaster.storage.db import transaction
from forecaster.storage.schema import Forecast, ModelVersion
from tests.helpers import BARS, DAYS, MODELS, TICKERS, recorded_plot, seed_forecasts

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def reported(factory: sessionmaker[Session], settings) -> sessionmaker[Session]:
    with transaction(factory) as session:
        seed_forecasts(session)
        for ticker in TICKERS:
            recorded_plot(settings.data_dir, ticker, "forecast", session)
        recorded_plot(settings.data_dir, TICKERS[0], f"backfill-{DAYS[0].isoformat()}", session)
    return factory


def table_rows(page: str, table_id: str) -> int:
    match = re.search(rf'<table id="{table_id}">(.*?)</table>', page, flags=re.S)
    assert match, f"no table {table_id}"
    return match.group(1).count("<tr>") - 1  # minus the header row


@pytest.mark.slow
def test_report_has_the_tables_and_copies_the_images(reported, settings, tmp_path):
    with reported() as session:
        page = write_report(session, settings.data_dir, tmp_path / "out")
    html = page.read_text(encoding="utf-8")
    assert table_rows(html, "latest-forecasts") == len(TICKERS) * len(MODELS) * 2
    assert table_rows(html, "accuracy") == len(TICKERS) * len(MODELS) * 2  # (ticker, model, horizon)
    # No quantiles in these forecasts: naive is every (ticker, horizon)'s champion, on 0 forecasts.
    assert table_rows(html, "champion") == len(TICKERS) * 2
    champion = re.search(r'<table id="champion">(.*?)</table>', html, flags=re.S)
    assert champion and champion.group(1).count("<td>naive</td>") == len(TICKERS) * 2
    assert "<th>lo80</th>" in html and "<th>coverage_80</th>" in html and "<th>rel_pinball</th>" in html
    images = re.findall(r'<img src="([^"]+)"', html)
    # Each ticker: its forecast plot; the first also its backfill plot; then one rolling-error
    # figure and one equity figure, each of every ticker together.
    assert table_rows(html, "backtest") == len(TICKERS) * len(MODELS) * 5  # 3 rules, buy-and-hold, flat
    assert len(images) == len(TICKERS) + 1 + 2 and all(src.startswith("img/") for src in images)
    assert images[-2:] == ["img/rolling-error.png", "img/backtest.png"] and f"{len(TICKERS)} tickers, " in html
    for src in images:
        assert (page.parent / src).read_bytes().startswith(PNG_MAGIC)
    with reported() as session:  # a narrower report drops the other ticker's images
        write_report(session, settings.data_dir, tmp_path / "out", tickers=[TICKERS[1]])
    assert sorted(p.name for p in (tmp_path / "out" / "img").iterdir()) == [
        f"{TICKERS[1]}-forecast.png",
        "backtest.png",
        "rolling-error.png",
    ]


def test_the_rolling_error_figure_is_each_models_error_over_naives_on_the_same_tickers_and_days():
    d0, d1, d2 = pd.date_range("2024-01-02", periods=3).date
    rows = [  # model, ticker, day, yhat, actual (A's actual 100, B's 10: errors in %)
        ("gru", "A", d0, 110.0, 100.0),  # day 0: gru 10 % and 30 %, naive 5 % and 15 %
        ("gru", "B", d0, 13.0, 10.0),
        ("naive", "A", d0, 105.0, 100.0),
        ("naive", "B", d0, 11.5, 10.0),
        ("gru", "A", d1, 80.0, 100.0),  # day 1: gru 20 % and 0 %, naive 10 % and 30 %
        ("gru", "B", d1, 10.0, 10.0),
        ("naive", "A", d1, 90.0, 100.0),
        ("naive", "B", d1, 13.0, 10.0),
        ("ewma", "A", d2, 99.0, 100.0),  # day 2: ewma 1 % against naive's 2 %
        ("naive", "A", d2, 98.0, 100.0),
        ("gru", "B", d2, 11.0, 10.0),  # no naive for B that day: nothing to compare with
        ("gru", "A", d1, 1.0, 2.0),  # a two-day horizon: not mixed with the one-day ones
    ]
    frame = pd.DataFrame(rows, columns=["model", "ticker", "target_date", "yhat", "actual"])
    frame["horizon"] = [1] * (len(rows) - 1) + [2]
    ax = rolling_error_figure(frame).axes[0]
    lines = {line.get_label(): np.asarray(line.get_ydata(), dtype=float) for line in ax.get_lines()}
    # gru: day means 20 / 10, then (20 + 10) / (10 + 20) over the rolling window
    np.testing.assert_allclose(lines["gru"], np.array([2.0, 1.0]))
    np.testing.assert_allclose(lines["ewma"], np.array([0.5]))
    np.testing.assert_allclose(lines["naive"], np.array([1.0, 1.0]))  # the reference line
    assert ax.get_title().startswith("2 tickers: ")
    assert rolling_error_figure(frame[frame["ticker"] == "A"]).axes[0].get_title().startswith("A: ")


def test_report_command_writes_to_the_data_dir_by_default(reported, settings):
    result = CliRunner().invoke(cli, ["report", "--ticker", TICKERS[0]], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    page = settings.data_dir.resolve() / "report" / "index.html"
    assert result.stdout.strip() == f"report: {Path('data') / 'report' / 'index.html'}"
    assert page.is_file() and TICKERS[0] in page.read_text(encoding="utf-8")


def test_a_failing_report_is_a_warning_not_an_error(reported, settings, monkeypatch, caplog):
    def broken(*args: object, **kwargs: object) -> Path:
        raise OSError("disk full")

    monkeypatch.setattr("forecaster.reporting.html.write_report", broken)
    with caplog.at_level(logging.WARNING, logger="forecaster.reporting.html"):
        assert refresh_report(settings.data_dir, reported) is None
    assert "report was not updated: OSError: disk full" in caplog.text


# Added to a copy of the page (same folder, so the same relative paths): after the load event,
# write each image's decoded width and each table's row count into the DOM that is dumped.
PROBE = """<script>
window.addEventListener("load", () => {
  const out = document.createElement("pre");
  out.id = "probe";
  const widths = [...document.images].map((i) => (i.complete ? i.naturalWidth : 0));
  const rows = [...document.querySelectorAll("table")].map((t) => t.id + "=" + t.tBodies[0].rows.length);
  out.textContent = "widths:" + widths.join(",") + " rows:" + rows.join(",");
  document.body.appendChild(out);
});
</script>"""


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium; .ci/run does)")
def test_headless_chromium_renders_the_report_from_disk(reported, settings, tmp_path):
    with reported() as session:
        page = write_report(session, settings.data_dir, tmp_path / "out")
    probe = page.with_name("probe.html")
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    assert CHROMIUM is not None
    result = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'chromium-profile'}",
            "--virtual-time-budget=5000",
            "--dump-dom",
            probe.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    match = re.search(r'<pre id="probe">widths:([\d,]*) rows:([^<]*)</pre>', result.stdout)
    assert match, f"no probe output; chromium said: {result.stderr[-2000:]}"
    widths = [int(w) for w in match.group(1).split(",") if w]
    assert len(widths) == len(TICKERS) + 1 + 2 and all(w > 0 for w in widths), widths  # rolling error, backtest
    rows = dict(item.split("=") for item in match.group(2).split(","))
    n = len(TICKERS) * len(MODELS) * 2
    pooled = len(MODELS) * 2  # the significance table adds a row per (model, horizon) with ticker "all"
    assert rows == {"watchlist": str(len(TICKERS)), "latest-forecasts": str(n), "accuracy": str(n),
                    "champion": str(len(TICKERS) * 2), "significance": str(n + pooled),
                    "backtest": str(n * 5 // 2)}  # fmt: skip


def test_model_versions_print_as_integers(reported, settings, tmp_path):
    with transaction(reported) as session:
        when = datetime(2024, 4, 1, tzinfo=UTC)
        version = ModelVersion(
            ticker=TICKERS[0], kind="rnn", action="retrain", as_of=DAYS[BARS - 1], train_start=DAYS[0],
            train_end=DAYS[BARS - 1], path="models/x.keras", sha256="0" * 64, spec="{}", training="{}", scaler="{}",
            seed=7, epochs_run=1, train_loss=None, val_loss=None, train_seconds=None, created_at=when,
        )  # fmt: skip
        session.add(version)
        session.flush()
        session.execute(
            update(Forecast)
            .where(Forecast.ticker == TICKERS[0], Forecast.model == "rnn")
            .values(model_version_id=version.id)
        )
        page = write_report(session, settings.data_dir, tmp_path / "out")
    table = re.search(r'<table id="latest-forecasts">(.*?)</table>', page.read_text(encoding="utf-8"), flags=re.S)
    assert table
    cells = re.findall(r"<tr><td>([^<]+)</td><td>([^<]+)</td><td>([^<]+)</td>", table.group(1))
    shown = {(ticker, model): v for ticker, model, v in cells}
    assert shown[(TICKERS[0], "rnn")] == str(version.id)
    assert shown[(TICKERS[0], "naive")] == "-"
