"""Every `--format json` is strict JSON: null for unknown values, never NaN or Infinity."""

import math

import click
import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session, sessionmaker

from forecaster.cli import cli
from forecaster.cli.output import strict_json
from forecaster.storage.db import transaction
from tests.helpers import seed_forecasts, strict_loads

# The commands whose JSON is parsed below; `forecaster run --format json` is parsed strictly in
# tests/test_cli.py (it trains), and `evaluate --split/--preset` prints through the same writer.
PARSED_HERE = {"evaluate", "forecasts", "calendar", "health", "status", "backtest"}
PARSED_ELSEWHERE = {"run", "backfill", "prune", "daemon", "smoke"}  # test_cli, test_formats


def json_commands(group: click.Group, prefix: str = "") -> set[str]:
    found = set()
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found |= json_commands(command, f"{prefix}{name} ")
        for param in command.params:
            if isinstance(param.type, click.Choice) and "json" in param.type.choices:
                found.add(f"{prefix}{name}")
    return found


def test_every_json_command_is_parsed_strictly_somewhere():
    assert json_commands(cli) == PARSED_HERE | PARSED_ELSEWHERE


def test_strict_json_writes_null_for_nan_and_infinity():
    text = strict_json([{"a": math.nan, "b": [math.inf, 1.5], "c": {"d": -math.inf}}])
    assert strict_loads(text) == [{"a": None, "b": [None, 1.5], "c": {"d": None}}]


def test_the_strict_parser_refuses_nan():
    with pytest.raises(ValueError, match="NaN is not JSON"):
        strict_loads('[{"hit_rate": NaN}]')


@pytest.mark.usefixtures("seeded")
def test_health_json_is_strict():
    result = CliRunner().invoke(cli, ["health", "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 2  # no daily run recorded: critical
    report = strict_loads(result.stdout)
    assert report["code"] == 2 and {c["name"] for c in report["checks"]} >= {"last daily run", "database"}


@pytest.mark.usefixtures("seeded")
def test_status_json_is_strict():
    result = CliRunner().invoke(cli, ["status", "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    report = strict_loads(result.stdout)
    assert report["database"].startswith("database: sqlite:///") and report["calendar"][0].startswith("calendar:")
    assert isinstance(report["tickers"], list) and isinstance(report["models"], list)


@pytest.fixture
def seeded(factory: sessionmaker[Session]) -> sessionmaker[Session]:
    with transaction(factory) as session:
        seed_forecasts(session)
    return factory


@pytest.mark.usefixtures("seeded")
@pytest.mark.parametrize(
    "args",
    [
        ("evaluate",),
        ("forecasts",),
        ("forecasts", "--latest"),
        ("calendar", "--since", "2026-12-28", "--until", "2027-01-05"),
    ],
)
def test_command_json_is_strict(args):
    result = CliRunner().invoke(cli, [*args, "--format", "json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = strict_loads(result.stdout)
    assert rows and all(isinstance(r, dict) for r in rows)
    if args == ("evaluate",):
        naive = [r for r in rows if r["model"] == "naive"]
        assert naive and all(r["hit_rate"] is None for r in naive)  # NaN before: naive never moves
    elif args[0] == "calendar":
        assert [r["open"] for r in rows if r["date"] == "2027-01-01"] == [0]  # New Year's Day
    else:
        pending = [r for r in rows if r["actual"] is None]
        assert pending and all(r["error"] is None for r in pending)
        assert all(r["forecast"] == r["yhat"] and {"lo95", "hi95"} <= set(r) for r in rows)


@pytest.mark.usefixtures("seeded")
def test_backtest_json_is_strict_and_trades_every_rule_beside_buy_and_hold(tmp_path):
    png = tmp_path / "equity.png"
    args = ["backtest", "--ticker", "600519.SH", "--format", "json", "--plot", str(png)]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = strict_loads(result.stdout)
    # One row per (model, rule) for the seeded models, and the two references on the same days.
    models = {(r["model"], r["rule"]) for r in rows}
    assert {("rnn", rule) for rule in ("median", "prob", "cautious")} <= models
    assert {r["rule"] for r in rows} >= {"buy_and_hold", "flat"}
    flat = next(r for r in rows if r["rule"] == "flat")
    assert flat["total_return"] == 0 and flat["round_trips"] == 0
    assert "stamp_duty 0.0005" in result.stderr  # the rates that applied (2024: after the cut) are said
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
