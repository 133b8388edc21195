"""The read side: `queries.forecasts`, the SQL views, the queries in docs/querying.md, the `forecasts` command."""

import csv
import io
import json
import re
import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from forecaster import clock
from forecaster.cli import cli
from forecaster.storage.db import transaction
from forecaster.storage.queries import forecasts, latest_forecasts, ticker_summaries
from forecaster.storage.schema import Bar
from tests.helpers import BARS, DAYS, MODELS, RNN_BIAS, TICKERS, close_of, seed_forecasts

QUERYING = Path(__file__).resolve().parent.parent / "docs" / "querying.md"


@pytest.fixture
def seeded(factory: sessionmaker[Session]) -> sessionmaker[Session]:
    with transaction(factory) as session:
        seed_forecasts(session)
    return factory


@pytest.mark.both_databases
def test_forecasts_carry_actuals_and_errors(seeded):
    with seeded() as s:
        frame = forecasts(s, tickers=["600519.SH"], models=["rnn"], as_of=DAYS[10])
    assert list(frame["horizon"]) == [1, 2]
    assert list(frame["target_date"]) == [DAYS[11], DAYS[12]]
    assert frame["actual"].tolist() == [close_of("600519.SH", 11), close_of("600519.SH", 12)]
    assert frame["error"].tolist() == pytest.approx((frame["yhat"] - frame["actual"]).tolist())
    assert frame["abs_error"].tolist() == pytest.approx(frame["error"].abs().tolist())
    assert frame["pct_error"].iloc[0] == pytest.approx(100 * frame["error"].iloc[0] / frame["actual"].iloc[0])
    with seeded() as s:
        pending = forecasts(s, tickers=["600519.SH"], models=["naive"], as_of=DAYS[BARS - 1])
    assert pending["actual"].isna().all() and pending["error"].isna().all()
    assert pending["model_version"].tolist() == [None, None]


@pytest.mark.both_databases
def test_since_until_filter_on_the_as_of_day(seeded):
    with seeded() as s:
        frame = forecasts(s, tickers=["000001.SZ"], since=DAYS[5], until=DAYS[7])
    assert sorted(set(frame["as_of"])) == DAYS[5:8]
    assert len(frame) == 3 * len(MODELS) * 2


@pytest.mark.both_databases
def test_latest_is_the_newest_as_of_of_each_ticker_and_model_and_matches_the_view(seeded):
    with seeded() as s:
        frame = latest_forecasts(s)
        view = s.execute(text("select * from v_latest_forecasts order by ticker, model, target_date")).all()
        until = forecasts(s, tickers=["600519.SH"], until=DAYS[20], latest=True)
    assert set(frame["as_of"]) == {DAYS[BARS - 1]}
    assert len(frame) == len(TICKERS) * len(MODELS) * 2  # both horizons of the newest as-of
    got = sorted(zip(frame["ticker"], frame["model"], frame["target_date"].map(str), frame["yhat"], strict=True))
    assert got == sorted((r.ticker, r.model, str(r.target_date), r.yhat) for r in view)
    assert all(r.forecast == r.yhat for r in view)  # the CLI's name for the value, beside SQL's
    assert set(until["as_of"]) == {DAYS[20]} and set(until["model"]) == set(MODELS)


def test_the_one_ticker_latest_query_is_index_seeks_only(seeded):
    # The performance design (see bench/queries.py): no full pass over forecasts for one ticker.
    with seeded() as s:
        plan = s.execute(text("explain query plan select * from v_latest_forecasts where ticker = 'x'")).all()
    details = [str(row[-1]) for row in plan]
    assert not [d for d in details if d.startswith("SCAN forecasts") or d.startswith("SCAN f ")], details


@pytest.mark.both_databases
def test_accuracy_windows_agree_with_v_accuracy_and_take_the_newest_days(seeded):
    with seeded() as s:
        full = {(r.ticker, r.model, r.horizon): r for r in s.execute(text("select * from v_accuracy")).all()}
        windows = s.execute(text("select * from v_accuracy_windows")).all()
        last20 = forecasts(s, tickers=["600519.SH"], models=["drift"])
    assert {r.window for r in windows} == {"all", "last_20", "last_60"}
    for r in windows:
        ref = full[(r.ticker, r.model, r.horizon)]
        if r.window in ("all", "last_60"):  # fewer than 60 matured: the same set
            assert (r.n, r.first_target, r.hit_rate) == (ref.n, ref.first_target, ref.hit_rate)
            assert (r.mae, r.rmse) == pytest.approx((ref.mae, ref.rmse))
        else:
            assert r.n == 20 and r.last_target == ref.last_target and r.first_target > ref.first_target
    matured = last20[(last20["horizon"] == 1) & last20["actual"].notna()].sort_values("target_date").tail(20)
    (row,) = [r for r in windows if (r.ticker, r.model, r.horizon, r.window) == ("600519.SH", "drift", 1, "last_20")]
    assert row.mae == pytest.approx(matured["abs_error"].mean())


def _readme_queries() -> list[str]:
    """Every SQL example of docs/querying.md's "Views" section: ```sql blocks and the
    `sqlite3 data/forecaster.db "..."` lines of ```sh blocks."""
    section = QUERYING.read_text(encoding="utf-8").split("## Views", 1)[1].split("\n## ", 1)[0]
    queries: list[str] = []
    for lang, body in re.findall(r"```(\w+)\n(.*?)```", section, flags=re.S):
        if lang == "sql":
            queries += [q.strip() for q in body.split(";") if q.strip()]
        elif lang == "sh":
            queries += re.findall(r'sqlite3 data/forecaster\.db "(.*?)"', body, flags=re.S)
    return queries


def test_the_readme_queries_run_and_return_rows(seeded, settings):
    queries = _readme_queries()
    assert len(queries) >= 5 and any("v_latest_forecasts" in q for q in queries)
    assert any("v_accuracy_windows" in q for q in queries)
    assert any("v_interval_windows" in q for q in queries) and any("v_champion" in q for q in queries)
    db = sqlite3.connect(settings.data_dir / "forecaster.db")
    try:
        for query in queries:
            assert db.execute(query).fetchall(), f"no rows from the docs' query: {query}"
    finally:
        db.close()


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.mark.both_databases
def test_forecasts_command_formats_are_machine_clean(seeded):
    as_json = invoke("-v", "forecasts", "--ticker", "600519.SH", "--latest", "--format", "json")
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.stdout)  # logging (-v) goes to stderr, never into the JSON
    assert len(data) == len(MODELS) * 2 and {d["as_of"] for d in data} == {DAYS[BARS - 1].isoformat()}
    assert all(d["actual"] is None and d["error"] is None for d in data)
    as_csv = invoke("forecasts", "-t", "600519.SH", "-m", "rnn", "--as-of", DAYS[3].isoformat(), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert list(rows[0]) == ["ticker", "model", "model_version", "as_of", "target_date", "horizon", "target", "yhat",
                             "forecast", "last_close", "actual", "error", "abs_error", "pct_error",
                             "lo80", "hi80", "lo95", "hi95"]  # fmt: skip
    assert rows[0]["lo80"] == "" and rows[0]["forecast"] == rows[0]["yhat"]  # no quantiles seeded: no interval
    expected = close_of("600519.SH", 3) + RNN_BIAS - close_of("600519.SH", 4)
    assert len(rows) == 2 and float(rows[0]["error"]) == pytest.approx(expected) and rows[0]["model_version"] == ""
    table = invoke("forecasts", "--model", "naive", "--latest").stdout.splitlines()
    assert table[0].split() == ["ticker", "model", "model_version", "as_of", "target_date", "horizon", "forecast",
                                "lo80", "hi80", "lo95", "hi95", "actual", "error"]  # fmt: skip
    assert len(table) == 1 + len(TICKERS) * 2 and table[1].split()[-1] == "-"


def test_forecasts_command_usage_errors(seeded):
    both = invoke("forecasts", "--as-of", "2024-01-02", "--since", "2024-01-02")
    assert both.exit_code == 2 and "not both" in both.stderr
    unknown = invoke("forecasts", "--model", "transformer")
    assert unknown.exit_code == 2 and "unknown model" in unknown.stderr
    none = invoke("forecasts", "--ticker", "600000.SH")
    assert none.exit_code == 0 and none.stdout.strip() == "no forecasts match"


@pytest.mark.both_databases
def test_evaluate_takes_the_model_filter(seeded):
    result = invoke("evaluate", "--model", "rnn", "--model", "drift", "--format", "json")
    rows = json.loads(result.stdout)
    # with several tickers the pooled rows (ticker "all") follow the per-ticker ones
    assert {(r["ticker"], r["model"]) for r in rows} == {(t, m) for t in (*TICKERS, "all") for m in ("rnn", "drift")}
    everything = json.loads(invoke("evaluate", "--format", "json").stdout)
    # Filtered after scoring: the same numbers, rel_mae still against naive on the same days.
    assert rows == [r for r in everything if r["model"] in ("rnn", "drift")]


@pytest.mark.both_databases
def test_latest_as_of_follows_inserts_replacements_and_deletes(factory):

    from sqlalchemy import text

    from forecaster.model.forecasting import Point
    from forecaster.storage.db import transaction
    from forecaster.storage.records import write_forecasts

    def write(as_of: date, yhat: float) -> None:
        with transaction(factory) as s:
            write_forecasts(
                s,
                ticker="600519.SH",
                model="naive",
                model_version_id=None,
                run_id=None,
                as_of=as_of,
                target="close",
                last_close=1.0,
                forecast=[Point(date(2030, 1, 1), 1, yhat)],
                now=clock.now(),
            )

    def latest() -> list[tuple[object, ...]]:
        with factory() as s:
            rows = s.execute(text("select ticker, model, as_of from latest_as_of")).all()
        return [(ticker, model, str(as_of)) for ticker, model, as_of in rows]  # text or date: ISO

    write(date(2020, 1, 3), 1.0)
    write(date(2020, 1, 2), 1.0)  # an older as-of (a backfill) does not move it back
    assert latest() == [("600519.SH", "naive", "2020-01-03")]
    write(date(2020, 1, 3), 2.0)  # replaced in place
    assert latest() == [("600519.SH", "naive", "2020-01-03")]
    with factory() as s:
        assert [(str(d), y) for d, y in s.execute(text("select as_of, yhat from v_latest_forecasts"))] == [
            ("2020-01-03", 2.0)
        ]
    with transaction(factory) as s:
        s.execute(text("delete from forecasts where as_of = :d"), {"d": date(2020, 1, 3)})
    assert latest() == [("600519.SH", "naive", "2020-01-02")]


@pytest.mark.both_databases
def test_ticker_summaries_count_bars_per_ticker_with_their_sources(factory):
    with transaction(factory) as session:
        seed_forecasts(session, models=("naive",), horizons=(1,))
        values = {"open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0, "pre_close": None, "volume": 1.0, "amount": None}
        stamp = datetime(2024, 4, 1, tzinfo=UTC)
        session.add(Bar(ticker="000001.SZ", trade_date=DAYS[BARS], source="csv", ingested_at=stamp, **values))
    with factory() as s:
        summaries = {t.ticker: t for t in ticker_summaries(s)}
    assert sorted(summaries) == sorted(TICKERS)
    other = summaries["000001.SZ"]
    assert (other.bars, other.first, other.last, other.sources) == (BARS + 1, DAYS[0], DAYS[BARS], "csv,test")
    assert (summaries["600519.SH"].bars, summaries["600519.SH"].sources) == (BARS, "test")
