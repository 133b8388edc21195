"""The static HTML report: latest forecasts, accuracy beside the baselines, and the plots.

One `index.html` with its images in `img/` next to it, referenced relatively, so the folder
opens from disk (or is copied anywhere) without a server. The plots the routine and backfill
recorded are copied in; the rolling-error figure (all tickers in one) is drawn here. Read-only on
the database.
"""

import html
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session, sessionmaker

from forecaster import clock
from forecaster.reporting.backtest_plot import backtest_section
from forecaster.reporting.headline import headline, headline_html
from forecaster.reporting.plotting import rolling_error_figure, save_png
from forecaster.reporting.watch_html import OWN_PAGES_ABOVE, SORT_SCRIPT, WATCH_CSS, anchor, page_name, watch_table
from forecaster.reporting.watchlist import WatchRow, watchlist
from forecaster.scoring.comparison import SIGNIFICANCE_COLUMNS
from forecaster.scoring.evaluation import SCORE_COLUMNS, evaluation_rows_of, matured_forecasts
from forecaster.storage.files import make_dirs, write_atomic
from forecaster.storage.quantiles import CHAMPION_COLUMNS, champions
from forecaster.storage.queries import FORECAST_COLUMNS, latest_forecasts, newest_run
from forecaster.storage.records import recent_plots
from forecaster.storage.schema import Plot

log = logging.getLogger(__name__)

ROLLING_IMAGE = "rolling-error.png"
# The page shows forecasts and outcomes; the error columns are left to the accuracy table, and
# the value is shown once, as `forecast` (`yhat` is its name in SQL).
_LATEST_COLUMNS = [c for c in FORECAST_COLUMNS if c not in ("target", "yhat", "error", "abs_error", "pct_error")]


@dataclass(frozen=True)
class Figures:
    """The images of one ticker, as paths relative to the report folder (None: none yet)."""

    ticker: str
    forecast: str | None
    backfill: str | None


def write_report(
    session: Session, data_dir: Path, out_dir: Path, *, tickers: Sequence[str] | None = None, today: date | None = None
) -> Path:
    """Write `out_dir/index.html` and its images; returns the page's path. `today` (at the
    exchange) lets the headlines warn about stale bars; None: no such warning."""
    latest = latest_forecasts(session, tickers=tickers)
    matured = matured_forecasts(session, tickers=tickers)  # read once: the scores, images and backtest
    scores = evaluation_rows_of(session, matured)
    best = champions(session, tickers=tickers)
    # "all" in the scores is the pooled row, not a ticker.
    scored = {str(r["ticker"]) for r in scores if r["ticker"] != "all"}
    # The watch-list's every ticker: also those with nothing to show (suspended, not listed yet),
    # as the newest run named them when no tickers are given.
    run = newest_run(session) if tickers is None else None
    named = tickers or ([] if run is None or not run.tickers else run.tickers.split(","))
    shown = sorted(set(latest["ticker"]) | scored | set(named))
    img = out_dir / "img"
    make_dirs(img)
    figures = [_figures(session, data_dir, img, t) for t in shown]
    written = {Path(p).name for f in figures for p in (f.forecast, f.backfill) if p}
    for old in img.glob("*.png"):  # images of tickers no longer shown would only mislead
        if old.name not in written:
            old.unlink()
    # After the clean-up: these add their own images. One rolling-error figure for all tickers,
    # as one equity figure: a figure per ticker was a quarter of a daily run's cost per ticker.
    rolling = _rolling_error(img, matured)
    backtest = backtest_section(session, img, matured, _table)
    sections = {f.ticker: _section(headline_html(headline(session, f.ticker, latest, today)), f) for f in figures}
    body = _watch_and_sections(out_dir, watchlist(session, shown, latest), sections)
    page = out_dir / "index.html"
    write_atomic(page, _html("forecaster report", _page(latest, scores, body, best, rolling, backtest)))
    return page


def _watch_and_sections(out_dir: Path, rows: list[WatchRow], sections: dict[str, str]) -> str:
    """The watch-list with the tickers' sections under it, or with a page per ticker beside the
    index when there are many (the old pages are removed either way)."""
    for old in out_dir.glob(page_name("*")):
        old.unlink()
    if len(sections) <= OWN_PAGES_ABOVE:
        return watch_table(rows, lambda t: f"#{anchor(t)}") + "\n" + "\n".join(sections.values())
    back = '<p><a href="index.html">all tickers</a></p>'
    for ticker, section in sections.items():
        write_atomic(out_dir / page_name(ticker), _html(ticker, back + section))
    return watch_table(rows, page_name)


def refresh_report(data_dir: Path, factory: sessionmaker[Session], today: date | None = None) -> Path | None:
    """Regenerate the default report after a run; a failure is logged, never raised.

    The report is a view of what the run already recorded: it must not turn a good run into a
    failed one, so this is a deliberate broad catch at that boundary.
    """
    try:
        with factory() as session:
            return write_report(session, data_dir, data_dir / "report", today=today)
    except Exception as exc:
        log.warning("the HTML report was not updated: %s: %s", type(exc).__name__, exc, exc_info=True)
        return None


def _figures(session: Session, data_dir: Path, img: Path, ticker: str) -> Figures:
    safe = ticker.replace("/", "_")
    forecast = _copy_plot(session, data_dir, img, ticker, Plot.kind == "forecast", f"{safe}-forecast.png")
    backfill = _copy_plot(session, data_dir, img, ticker, Plot.kind.like("backfill-%"), f"{safe}-backfill.png")
    return Figures(ticker, forecast, backfill)


def _rolling_error(img: Path, matured: pd.DataFrame) -> str:
    """The rolling-error figure of every model over the shown tickers, as a figure element
    ("" before any forecast has matured)."""
    if matured.empty:
        return ""
    save_png(rolling_error_figure(matured), img / ROLLING_IMAGE)
    alt = "rolling error by model"
    return f'<figure><img src="img/{ROLLING_IMAGE}" alt="{alt}"><figcaption>{alt}</figcaption></figure>'


def _copy_plot(
    session: Session, data_dir: Path, img: Path, ticker: str, kind: ColumnElement[bool], name: str
) -> str | None:
    """Copy the newest recorded plot of that kind whose file still exists."""
    for plot in recent_plots(session, ticker, kind):
        source = data_dir / plot.path
        if source.is_file():
            write_atomic(img / name, source.read_bytes())
            return f"img/{name}"
    return None


def _page(
    latest: pd.DataFrame,
    scores: list[dict[str, Any]],
    watch: str,
    best: list[dict[str, Any]],
    rolling: str = "",
    backtest: str = "",
) -> str:
    """The index's body: the watch-list (and the tickers' sections under it), then the tables behind it."""
    generated = clock.now().strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        f"<h1>forecaster report</h1><p>Generated {generated}.</p>",
        watch,  # the answer first: tomorrow's number per ticker, then the tables behind it
        "<h2>Latest forecasts</h2>",
        _table(
            [{str(k): v for k, v in r.items()} for r in latest.to_dict("records")],
            _LATEST_COLUMNS,
            "latest-forecasts",
            "no forecasts yet",
        ),
        "<p>lo80 .. hi80 and lo95 .. hi95: each model's 80 % and 95 % intervals as issued (after the online "
        "calibration); '-' for a model without intervals.</p>",
        "<h2>Champion</h2>",
        "<p>Per ticker and horizon, the model whose mean pinball loss over its last 60 matured forecasts is "
        "furthest below naive's on the same days (naive while none is below).</p>",
        _table(best, CHAMPION_COLUMNS, "champion", "no forecasts yet"),
        "<h2>Accuracy beside the baselines</h2>",
        "<p>All matured forecasts. rel_mae is MAE divided by naive's MAE on the same days: below 1 beats naive. "
        "coverage_80 / coverage_95: share of actuals inside the issued intervals (nominal 0.80 / 0.95); width_80 "
        "and winkler_80 in price units; pinball: mean pinball loss of the quantiles, rel_pinball against naive's "
        "on the same days.</p>",
        _table([r for r in scores if r["ticker"] != "all"], SCORE_COLUMNS, "accuracy", "no matured forecasts yet"),
        rolling,
        "<h2>Is a difference real?</h2>",
        "<p>dm_naive / dm_garch: Diebold-Mariano statistic of the model's pinball loss against naive's / garch's "
        "on the same days (negative: the model's loss is lower; |DM| above about 2, p below 0.05, is the usual "
        "bar), with its two-sided p-value. kupiec: is the interval's miss rate the nominal one; christoffersen "
        "(one day ahead): do misses cluster; small p-values reject. Rows with ticker 'all' pool the tickers: the "
        "differentials per as-of close, averaged over tickers per day.</p>",
        _table(scores, _SIGNIFICANCE_TABLE, "significance", "no matured forecasts yet"),
        backtest,
    ]
    return "\n".join(parts)


def _section(headline_block: str, f: Figures) -> str:
    """One ticker's sentences and plots, under an anchor the watch-list links to."""
    parts = [f'<div id="{anchor(f.ticker)}">', headline_block]
    for path, caption in ((f.forecast, "newest forecast"), (f.backfill, "predicted vs actual (newest backfill)")):
        if path:
            alt = html.escape(f"{f.ticker} {caption}")
            parts.append(f'<figure><img src="{html.escape(path)}" alt="{alt}"><figcaption>{alt}</figcaption></figure>')
    return "\n".join([*parts, "</div>"])


def _html(title: str, body: str) -> bytes:
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>\n'
        f"<style>{_CSS}{WATCH_CSS}</style></head><body>\n{body}\n<script>{SORT_SCRIPT}</script></body></html>\n"
    ).encode()


def _table(rows: list[dict[str, Any]], columns: list[str], css_id: str, empty: str) -> str:
    if not rows:
        return f'<p id="{css_id}">{html.escape(empty)}</p>'
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{_cell(r.get(c))}</td>" for c in columns) + "</tr>" for r in rows)
    return f'<table id="{css_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):  # NaN: not known yet
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 10 else f"{value:.2f}"
    return html.escape(str(value))


_SIGNIFICANCE_TABLE = ["ticker", "model", "horizon", "n", "rel_pinball", *SIGNIFICANCE_COLUMNS]

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
.warning { color: #a40000; font-weight: bold; }
th:nth-child(-n+2), td:nth-child(-n+2) { text-align: left; }
img { max-width: 100%; border: 1px solid #eee; }
"""
