"""Quantiles and intervals in the database (migration 0010): the columns, v_forecasts' bands,
v_interval_windows, v_champion, and the interval scores of `forecaster evaluate`, on both databases."""

import json
from datetime import UTC, date, datetime

import numpy as np
import pytest
from click.testing import CliRunner
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from forecaster.cli import cli
from forecaster.market.calendar import trading_days
from forecaster.model.forecasting import Point
from forecaster.model.intervals import QUANTILE_LEVELS, calibrated
from forecaster.scoring.evaluation import accuracy
from forecaster.scoring.intervals import bounds, coverage, pinball, width, winkler
from forecaster.storage.db import transaction
from forecaster.storage.quantiles import QUANTILE_COLUMNS, champions, interval_tallies
from forecaster.storage.records import fill_actuals, write_forecasts
from forecaster.storage.schema import Bar, Forecast

pytestmark = pytest.mark.both_databases

TICKER = "600519.SH"
DAYS = trading_days(date(2024, 1, 2), date(2024, 6, 28))
N = 90  # bars on the first N days; one forecast a day, one day ahead
NOW = datetime(2024, 7, 1, tzinfo=UTC)
Z = np.array([-1.96, -1.645, -1.2816, -0.6745, 0.0, 0.6745, 1.2816, 1.645, 1.96])  # normal quantiles


def closes() -> list[float]:
    rng = np.random.default_rng(5)
    return [float(x) for x in 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, N)))]


def quantiles(centre: float, spread: float) -> tuple[float, ...]:
    return tuple(float(centre + spread * z) for z in Z)


def seed(factory: sessionmaker[Session], *, rnn_spread: float = 1.0, with_rnn: bool = True) -> list[float]:
    """Bars, and as of each day but the last: naive (last close, spread 1.0 a day), rnn (the next
    close itself as its median: a cheat that must win) and lstm without quantiles."""
    c = closes()
    with transaction(factory) as s:
        for i, close in enumerate(c):
            s.add(Bar(ticker=TICKER, trade_date=DAYS[i], open=close, high=close, low=close, close=close,
                      pre_close=None, volume=1.0, amount=None, source="test", ingested_at=NOW))  # fmt: skip
        s.flush()
        models: dict[str, object] = {"naive": lambda i: (c[i], quantiles(c[i], 1.0)), "lstm": lambda i: (c[i], None)}
        if with_rnn:
            models["rnn"] = lambda i: (c[i + 1], quantiles(c[i + 1], rnn_spread))
        for model, make in models.items():
            for i in range(N - 1):
                yhat, q = make(i)  # type: ignore[operator]
                write_forecasts(s, ticker=TICKER, model=model, model_version_id=None, run_id=None, as_of=DAYS[i],
                                target="close", last_close=float(c[i]), forecast=[Point(DAYS[i + 1], 1, yhat, q)],
                                now=NOW)  # fmt: skip
        fill_actuals(s, TICKER, revisit_days=400)
    return c


def test_quantiles_and_bands_are_stored_and_shown_in_v_forecasts(factory):
    c = seed(factory)
    with factory() as s:
        row = s.execute(select(Forecast).where(Forecast.model == "naive", Forecast.as_of == DAYS[3])).scalar_one()
        band = s.execute(text("select lo80, hi80, lo95, hi95 from v_forecasts where model = 'naive' and as_of = :d"),
                         {"d": DAYS[3]}).one()  # fmt: skip
        none = s.execute(text("select lo80, hi95 from v_forecasts where model = 'lstm' and as_of = :d"),
                         {"d": DAYS[3]}).one()  # fmt: skip
        latest = s.execute(text("select lo80 from v_latest_forecasts where model = 'naive'")).scalar_one()
    assert [getattr(row, col) for col in QUANTILE_COLUMNS] == pytest.approx(quantiles(c[3], 1.0))
    assert (row.scale80, row.scale95) == (1.0, 1.0)  # written without calibration: the model's own
    assert tuple(band) == pytest.approx((c[3] - 1.2816, c[3] + 1.2816, c[3] - 1.96, c[3] + 1.96))
    assert tuple(none) == (None, None)
    assert latest == pytest.approx(c[N - 2] - 1.2816)


def test_interval_windows_agree_with_the_python_scores(factory):
    seed(factory)
    with factory() as s:
        rows = s.execute(text("select * from v_interval_windows where model = 'naive'")).all()
        frame = s.execute(select(Forecast).where(Forecast.model == "naive").order_by(Forecast.target_date)).scalars()
        stored = list(frame)
        lstm = s.execute(text("select count(*) from v_interval_windows where model = 'lstm'")).scalar_one()
    assert lstm == 0  # no quantiles, no interval rows
    q = np.array([[getattr(f, col) for col in QUANTILE_COLUMNS] for f in stored])
    actual = np.array([f.actual for f in stored])
    by_window = {r.window: r for r in rows}
    assert set(by_window) == {"all", "last_20", "last_60"}
    for name, size in (("all", len(stored)), ("last_60", 60), ("last_20", 20)):
        r, qs, ys = by_window[name], q[-size:], actual[-size:]
        lo, hi = bounds(qs, 0.80)
        assert r.n == size
        assert r.pinball == pytest.approx(pinball(qs, ys))
        assert r.coverage_80 == pytest.approx(coverage(lo, hi, ys))
        assert r.width_80 == pytest.approx(width(lo, hi))
        assert r.winkler_80 == pytest.approx(winkler(lo, hi, ys, 0.80))
        assert r.coverage_95 == pytest.approx(coverage(*bounds(qs, 0.95), ys))


def test_the_champion_beats_naive_on_its_last_60_or_is_naive(factory):
    seed(factory)
    with factory() as s:
        (champ,) = champions(s)
        ref = s.execute(text("select pinball from v_interval_windows where model = 'rnn' and \"window\" = 'last_60'"))
        rnn_pinball = ref.scalar_one()
    assert (champ["ticker"], champ["horizon"], champ["model"], champ["n"]) == (TICKER, 1, "rnn", 60)
    assert champ["pinball"] == pytest.approx(rnn_pinball)
    assert champ["rel_pinball"] < 1.0 and champ["pinball"] < champ["naive_pinball"]
    out = CliRunner().invoke(cli, ["forecasts", "--champion", "--format", "json"], catch_exceptions=False)
    assert out.exit_code == 0, out.output
    (shown,) = json.loads(out.stdout)
    assert (shown["model"], shown["as_of"], shown["horizon"]) == ("rnn", DAYS[N - 2].isoformat(), 1)
    assert shown["lo80"] is not None and shown["champion_n"] == 60
    bad = CliRunner().invoke(cli, ["forecasts", "--champion", "--latest"])
    assert bad.exit_code == 2 and "--champion" in bad.stderr


def test_naive_is_the_champion_while_none_beats_it(factory):
    seed(factory, rnn_spread=40.0)  # the right median, but an interval 40x too wide
    with factory() as s:
        (champ,) = champions(s)
    assert champ["model"] == "naive" and champ["rel_pinball"] == pytest.approx(1.0)


def test_evaluate_has_the_interval_scores_as_strict_json(factory):
    c = seed(factory)
    out = CliRunner().invoke(cli, ["evaluate", "--format", "json"], catch_exceptions=False)
    assert out.exit_code == 0, out.output
    assert "NaN" not in out.stdout
    rows = {r["model"]: r for r in json.loads(out.stdout)}
    assert rows["lstm"]["pinball"] is None and rows["lstm"]["coverage_80"] is None and rows["lstm"]["mae"] > 0
    assert rows["naive"]["rel_pinball"] == 1.0
    assert rows["rnn"]["rel_pinball"] < 1.0 and rows["rnn"]["coverage_80"] == 1.0  # its median is the actual
    actual = np.array(c[1:])
    naive_q = np.array([quantiles(x, 1.0) for x in c[:-1]])
    assert rows["naive"]["pinball"] == pytest.approx(pinball(naive_q, actual))
    assert rows["naive"]["width_80"] == pytest.approx(2 * 1.2816)
    with factory() as s:
        scored = {r.model: r for r in accuracy(s)}
    assert scored["naive"].intervals.n == N - 1


def test_tallies_count_misses_of_the_issued_intervals_known_at_the_as_of(factory):
    c = seed(factory, with_rnn=False)
    with factory() as s:
        tally = interval_tallies(s, TICKER, "naive", as_of=DAYS[40])[1]
        nothing = interval_tallies(s, TICKER, "lstm", as_of=DAYS[40])
    moves = np.abs(np.diff(c))[:40]  # targets DAYS[1..40]
    assert tally.n == 40
    assert tally.misses80 == int(np.sum(moves > 1.2816)) and tally.misses95 == int(np.sum(moves > 1.96))
    assert nothing == {}


def test_an_interval_that_is_issued_calibrated_is_stored_as_issued(factory):
    q = quantiles(100.0, 1.0)
    issued = calibrated(q, {0.80: 2.0, 0.95: 0.5})
    with transaction(factory) as s:
        write_forecasts(s, ticker=TICKER, model="ewma", model_version_id=None, run_id=None, as_of=DAYS[0],
                        target="close", last_close=100.0, forecast=[Point(DAYS[1], 1, 100.0, q)], now=NOW,
                        intervals=[issued])  # fmt: skip
    with factory() as s:
        row = s.execute(select(Forecast)).scalar_one()
    assert (row.lo80, row.hi80) == pytest.approx((100 - 2 * 1.2816, 100 + 2 * 1.2816))
    # 0.5 x the 95 % interval would sit inside the 80 %: it is widened to contain it.
    assert (row.lo95, row.hi95, row.scale80, row.scale95) == pytest.approx((row.lo80, row.hi80, 2.0, 0.5))
    assert len(QUANTILE_COLUMNS) == len(QUANTILE_LEVELS)
