"""The report's first screen (reporting/headline.py): per ticker, the champion's forecast for the
next trading day with its issued 80 % range, which models beat naive over the last 60 matured
forecasts, and the last run; above every table of the page."""

from datetime import UTC, date, datetime

import numpy as np
import pytest
from sqlalchemy.orm import Session, sessionmaker

from forecaster.reporting.headline import RECENT, headline, headline_html
from forecaster.reporting.html import write_report
from forecaster.storage.db import transaction
from forecaster.storage.queries import latest_forecasts
from forecaster.storage.records import recent_mae_ratio
from forecaster.storage.schema_runs import Run
from tests.helpers import BARS, DAYS, RNN_BIAS, TICKERS, Z, close_of, seed_forecasts

TICKER = TICKERS[0]


def _mae_ratio(offset: float, horizon: int) -> float:
    """MAE of last close + `offset` over naive's, `horizon` days ahead, on seed_forecasts' matured
    targets: the headline's rule computed from the closes by hand."""
    closes = np.array([close_of(TICKER, i) for i in range(BARS)])
    moves = (closes[horizon:] - closes[:-horizon])[-RECENT:]  # actual - last close
    return float(np.mean(np.abs(moves - offset)) / np.mean(np.abs(moves)))


def test_recent_mae_ratio_of_one_horizon_is_not_pooled_with_the_others(seeded):
    # The seeded rnn (last close + 0.3) loses to naive one day ahead and beats it two days ahead.
    assert _mae_ratio(RNN_BIAS, 1) > 1 > _mae_ratio(RNN_BIAS, 2)
    with seeded() as session:
        for h in (1, 2):
            got = recent_mae_ratio(session, TICKER, "rnn", until=date.max, count=RECENT, horizon=h)
            assert got == pytest.approx(_mae_ratio(RNN_BIAS, h))
        pooled = recent_mae_ratio(session, TICKER, "rnn", until=date.max, count=RECENT)  # both horizons
        assert pooled is not None and _mae_ratio(RNN_BIAS, 2) < pooled < _mae_ratio(RNN_BIAS, 1)


def test_recent_mae_ratio_after_a_day_reads_only_the_forecasts_made_after_it(seeded):
    # The drift rule after a retrain: the forecasts of the version it replaced no longer count.
    with seeded() as session:
        whole = recent_mae_ratio(session, TICKER, "rnn", until=date.max, count=RECENT, horizon=1)
        day = DAYS[BARS - 10]  # 8 one-day forecasts made after it have matured
        recent = recent_mae_ratio(session, TICKER, "rnn", until=date.max, count=4, horizon=1, after=day)
        too_few = recent_mae_ratio(session, TICKER, "rnn", until=date.max, count=RECENT, horizon=1, after=day)
    closes = np.array([close_of(TICKER, i) for i in range(BARS)])
    moves = (closes[1:] - closes[:-1])[-4:]
    assert whole is not None and recent == pytest.approx(np.mean(np.abs(moves - RNN_BIAS)) / np.mean(np.abs(moves)))
    assert too_few is None  # fewer than half the window made since: no verdict yet, so no retrain


@pytest.fixture
def seeded(factory: sessionmaker[Session]) -> sessionmaker[Session]:
    with transaction(factory) as session:
        seed_forecasts(session)
        finished = datetime(2024, 3, 8, 10, 5, tzinfo=UTC)
        session.add(Run(command="daemon", as_of=DAYS[BARS - 1], tickers=",".join(TICKERS), status="ok",
                        started_at=finished, finished_at=finished))  # fmt: skip
    return factory


def test_the_headline_gives_the_champions_next_day_forecast_its_range_and_the_last_run(seeded):
    with seeded() as session:
        item = headline(session, TICKER, latest_forecasts(session))
    last = close_of(TICKER, BARS - 1)
    # Only naive has quantiles in the seeded rows, so the pinball champion is naive: its point is the
    # last close and its band the one it was issued with (0.2 a day at the 10 % and 90 % levels).
    assert item.champion == "naive" and item.target_date == DAYS[BARS]
    assert item.yhat == pytest.approx(last) and item.last_close == pytest.approx(last)
    assert item.interval == pytest.approx((last + 0.2 * Z[2], last + 0.2 * Z[6]))
    expected = sorted(m for m, off in (("rnn", RNN_BIAS), ("drift", 0.05)) if _mae_ratio(off, 1) < 1)
    assert item.beat_naive == expected == ["drift"]  # rnn beats naive only two days out
    assert item.last_run == "daemon ok, 2024-03-08 10:05 UTC"
    block = headline_html(item)
    lo, hi = last + 0.2 * Z[2], last + 0.2 * Z[6]
    lo95, hi95 = last + 0.2 * Z[0], last + 0.2 * Z[8]
    assert item.interval95 == pytest.approx((lo95, hi95))
    assert f"<strong>{last:.2f}</strong>" in block and f"80 % range {lo:.2f}–{hi:.2f}" in block
    assert f"95 % range {lo95:.2f}–{hi95:.2f}" in block
    assert "Beat naive (MAE) over the last 60 matured one-day forecasts: drift" in block
    assert item.matured == BARS - 1  # naive's own matured one-day forecasts (fewer than 60 so far)
    assert f"naive is the champion: no model beat it over the last {BARS - 1} matured forecasts" in block
    assert "at least 20 matured forecasts" in block and 'class="warning"' not in block  # no today: no stale check


def test_a_ticker_without_forecasts_or_runs_says_so(factory: sessionmaker[Session]):
    with factory() as session:
        item = headline(session, TICKER, latest_forecasts(session))
    assert (item.champion, item.yhat, item.interval, item.beat_naive) == ("naive", None, None, [])
    assert item.last_run == "no run yet" and item.matured == 0
    block = headline_html(item)
    assert "no forecast yet" in block and "naive over the last" not in block  # none has matured: nothing beat
    assert "naive is the champion: no forecast has matured yet (a model replaces naive once it has at least 20" in block


def test_the_headline_warns_when_the_newest_bar_is_older_than_the_last_trading_day(seeded):
    newest = DAYS[BARS - 1]
    with seeded() as session:
        latest = latest_forecasts(session)
        fresh = headline(session, TICKER, latest, today=DAYS[BARS])  # the bar of the day before is in
        stale = headline(session, TICKER, latest, today=DAYS[-1])
    assert fresh.warnings == []
    (warning,) = stale.warnings
    assert warning.startswith(f"The newest bar is from {newest}, older than the last trading day ({DAYS[-2]})")
    assert f'<p class="warning">{warning}</p>' in headline_html(stale)


def test_the_headline_says_when_the_tickers_last_run_failed(seeded):
    with transaction(seeded) as session:
        later = datetime(2024, 3, 9, 10, 0, tzinfo=UTC)
        session.add(Run(command="run", as_of=DAYS[BARS - 1], tickers=",".join(TICKERS), status="partial",
                        error=f"{TICKERS[1]} gru: disk full\n{TICKER} gru: out of memory",
                        started_at=later, finished_at=later))  # fmt: skip
    with seeded() as session:
        item = headline(session, TICKER, latest_forecasts(session))
        other = headline(session, TICKERS[1], latest_forecasts(session))
    assert item.warnings == [f"The last run (run 2) failed for this ticker: {TICKER} gru: out of memory."]
    assert other.warnings == [f"The last run (run 2) failed for this ticker: {TICKERS[1]} gru: disk full."]


def test_the_headlines_come_after_the_watch_list_and_before_the_other_tables(seeded, settings):
    with seeded() as session:
        page = write_report(session, settings.data_dir, settings.data_dir / "report").read_text()
    assert page.index("<table") == page.index('<table id="watchlist"')
    for ticker in TICKERS:
        at = page.index(f'<section class="headline"><h2>{ticker}</h2>')
        assert page.index('<table id="watchlist"') < at < page.index('<table id="latest-forecasts"')
