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
from forecaster.storage.schema import Run
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
    assert f"<strong>{last:.2f}</strong>" in block and f"80 % range {lo:.2f}–{hi:.2f}" in block
    assert "beat naive over the last 60 matured forecasts: drift" in block


def test_a_ticker_without_forecasts_or_runs_says_so(factory: sessionmaker[Session]):
    with factory() as session:
        item = headline(session, TICKER, latest_forecasts(session))
    assert (item.champion, item.yhat, item.interval, item.beat_naive) == ("naive", None, None, [])
    assert item.last_run == "no run yet"
    assert "no forecast yet" in headline_html(item)


def test_the_headlines_come_before_every_table(seeded, settings):
    with seeded() as session:
        page = write_report(session, settings.data_dir, settings.data_dir / "report").read_text()
    first_table = page.index("<table")
    for ticker in TICKERS:
        assert page.index(f'<section class="headline"><h2>{ticker}</h2>') < first_table
