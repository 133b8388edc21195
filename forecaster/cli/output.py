"""Rows on stdout: an aligned table for people, or machine-clean CSV / strict JSON (logs, and a
command's human lines in those formats, go to stderr)."""

import csv
import functools
import json
import math
import sys
import unicodedata
from collections.abc import Callable
from datetime import date
from typing import Any

import click

# `forecast` is the value (v_forecasts' `yhat`); `error` is forecast - actual once the actual is in.
FORECAST_TABLE = [
    "ticker", "model", "model_version", "as_of", "target_date", "horizon", "forecast", "lo80", "hi80", "lo95", "hi95",
    "actual", "error",
]  # fmt: skip


def json_value(value: Any) -> Any:
    """A value strict JSON parsers accept: NaN and infinities (unknown, undefined) become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    return value


def strict_json(rows: Any) -> str:
    # allow_nan=False: a NaN that slipped past json_value is a bug, not output.
    return json.dumps(json_value(rows), indent=2, default=str, allow_nan=False)


def say_for(fmt: str) -> Callable[..., None]:
    """click.echo for a command's lines for people: stdout beside a table, stderr in CSV or JSON,
    whose stdout carries the rows alone."""
    return functools.partial(click.echo, err=fmt != "table")


def echo_rows(rows: list[dict[str, Any]], fmt: str, columns: list[str], *, empty: str) -> None:
    """`rows` in `fmt`; a table shows `columns` (CSV and JSON carry every key), or `empty` if none."""
    if fmt == "json":
        click.echo(strict_json(rows))
    elif fmt == "csv":
        fields = list(rows[0]) if rows else columns
        writer = csv.DictWriter(sys.stdout, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: "" if _unknown(v) else v for k, v in r.items()} for r in rows)
    elif not rows:
        click.echo(empty)
    else:
        _echo_table(rows, columns)


def echo_scores(rows: list[dict[str, Any]], fmt: str, columns: list[str] | None = None) -> None:
    """Scores per (ticker, model, horizon): `evaluate` and the backfill's summary."""
    from forecaster.scoring.evaluation import TABLE_COLUMNS

    echo_rows(rows, fmt, columns or TABLE_COLUMNS, empty="no matured forecasts in that range")


def _unknown(value: Any) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def _cell(value: Any) -> str:
    if _unknown(value):
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 10 else f"{value:.2f}"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _echo_table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    # Text columns (tickers, names, models, dates) read left-aligned; numbers right-aligned.
    cells = [[_cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(_width(c), *(_width(row[i]) for row in cells)) for i, c in enumerate(columns)]
    left = [not any(_numeric(row[i]) for row in cells) for i in range(len(columns))]
    for line in [columns, *cells]:
        padded = [_pad(v, w, lft) for v, w, lft in zip(line, widths, left, strict=True)]
        click.echo("  ".join(padded).rstrip())


def _width(text: str) -> int:
    """Columns a terminal gives `text`: two for each wide (CJK) character, as in a stock's name."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int, left: bool) -> str:
    fill = " " * (width - _width(text))
    return text + fill if left else fill + text


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def forecast_records(frame: Any) -> list[dict[str, Any]]:
    """Rows of a forecasts frame: ISO dates, None for unknown (NaN) values."""
    return [{k: None if _unknown(v) else v for k, v in row.items()} for row in frame.to_dict("records")]
