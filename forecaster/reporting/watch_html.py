"""The watch-list as the report's first table, sortable by any column in the browser.

Sorting is a few lines of inline script (no framework, nothing fetched): a click on a heading
sorts by that column, a second click reverses; cells sort by their `data-v` value (numbers as
numbers, '-' last). Each ticker's code links to its section, or to its own page.
"""

import html
from collections.abc import Callable, Sequence
from typing import Any

from forecaster.reporting.watchlist import WatchRow

# Past this many tickers, each ticker's sentences and plots get a page of their own: one column
# of 30 sections buries the table's answer under scrolling.
OWN_PAGES_ABOVE = 10

_HEADINGS = [
    ("ticker", "code"), ("name", "name"), ("last_close", "last close"), ("close_date", "on"),
    ("target_date", "for"), ("forecast", "forecast"), ("range80", "80 % range"), ("range95", "95 % range"),
    ("move_pct", "move %"), ("champion", "champion"), ("status", "status"),
]  # fmt: skip

SORT_SCRIPT = """
document.querySelectorAll("table.sortable th").forEach(function (th, col) {
  th.addEventListener("click", function () {
    var body = th.closest("table").tBodies[0], down = th.dataset.dir !== "asc";
    th.closest("tr").querySelectorAll("th").forEach(function (h) { delete h.dataset.dir; });
    th.dataset.dir = down ? "asc" : "desc";
    var key = function (tr) { var v = tr.cells[col].dataset.v; return v === "" ? null : isNaN(v) ? v : +v; };
    Array.from(body.rows).sort(function (a, b) {
      var x = key(a), y = key(b);
      if (x === null || y === null) { return (x === null) - (y === null); }
      return (x < y ? -1 : x > y ? 1 : 0) * (down ? 1 : -1);
    }).forEach(function (tr) { body.appendChild(tr); });
  });
});
"""


def page_name(ticker: str) -> str:
    """The file of a ticker's own page, beside index.html (so its images' paths stay the same)."""
    return f"ticker-{ticker.replace('/', '_')}.html"


def anchor(ticker: str) -> str:
    return f"t-{ticker.replace('/', '_').replace('.', '-')}"


def watch_table(rows: Sequence[WatchRow], link: Callable[[str], str]) -> str:
    """The table, each code linked to `link(ticker)`; a note under it explains a status."""
    if not rows:
        return '<p id="watchlist">no tickers yet</p>'
    head = "".join(f'<th title="sort by {label}">{html.escape(label)}</th>' for _, label in _HEADINGS)
    body = "".join(_tr(r, link(r.ticker)) for r in rows)
    return (
        f'<table id="watchlist" class="sortable"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
        "<p>The forecast is the ensemble's median for the next trading day, else the champion's; move %: from "
        "the last close. Status: ok; young (a network skipped: too few bars yet); suspended (no bar on the run's "
        "day: not forecast, the forecast shown is the old one); delisted (likewise, and it will not trade "
        "again); not listed yet (its listing is to come); failed (the ticker's last run failed). "
        "Click a heading to sort.</p>"
    )


def _tr(row: WatchRow, href: str) -> str:
    code = f'<a href="{html.escape(href)}">{html.escape(row.ticker)}</a>'
    by = "" if row.by in (None, "ensemble") else f" ({row.by})"
    cells: dict[str, tuple[str, Any]] = {
        "ticker": (code, row.ticker),
        "name": (html.escape(row.name or "-"), row.name or ""),
        "last_close": (_num(row.last_close), row.last_close),
        "close_date": (_text(row.close_date), row.close_date),
        "target_date": (_text(row.target_date), row.target_date),
        "forecast": (f"<strong>{_num(row.forecast)}</strong>{html.escape(by)}", row.forecast),
        "range80": (_range(row.lo80, row.hi80), row.lo80),
        "range95": (_range(row.lo95, row.hi95), row.lo95),
        "move_pct": (_num(row.move_pct, signed=True), row.move_pct),
        "champion": (html.escape(row.champion), row.champion),
        "status": (_status(row), row.status),
    }
    tds = "".join(
        f'<td data-v="{html.escape("" if v is None else str(v))}">{shown}</td>'
        for shown, v in (cells[key] for key, _ in _HEADINGS)
    )
    return f'<tr class="status-{html.escape(row.status.replace(" ", "-"))}">{tds}</tr>'


def _status(row: WatchRow) -> str:
    if not row.detail:
        return html.escape(row.status)
    # The reason in short (a failure's text can be long); all of it on hover and in the section.
    short = row.detail if len(row.detail) <= 60 else row.detail[:59] + "…"
    return f'<span title="{html.escape(row.detail)}">{html.escape(row.status)}: {html.escape(short)}</span>'


def _num(value: float | None, *, signed: bool = False) -> str:
    if value is None:
        return "-"
    shown = round(value, 2) + 0.0  # + 0.0: a move that rounds to nothing is 0.00, not -0.00
    return f"{shown:+.2f}" if signed else f"{shown:.2f}"


def _text(value: Any) -> str:
    return "-" if value is None else html.escape(str(value))


def _range(lo: float | None, hi: float | None) -> str:
    return "-" if lo is None or hi is None else f"{lo:.2f}–{hi:.2f}"


WATCH_CSS = """
table.sortable th { cursor: pointer; user-select: none; }
table.sortable th[data-dir=asc]::after { content: " ▲"; }
table.sortable th[data-dir=desc]::after { content: " ▼"; }
tr.status-failed td:last-child { color: #a40000; font-weight: bold; }
tr.status-suspended td:last-child, tr.status-delisted td:last-child, tr.status-young td:last-child { color: #8a5a00; }
"""
