"""Intervals widen with the horizon: per-horizon calibration (conformal offsets from a small
validation slice, online factors from few matured forecasts) must not make a longer horizon's
interval narrower than a shorter one's."""

from datetime import date
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from forecaster.model.intervals import QUANTILE_LEVELS, Interval, widen_with_horizon, widened
from forecaster.storage.quantiles import QUANTILE_COLUMNS
from forecaster.storage.schema import Forecast
from tests.helpers import pipeline_settings, ready_db, routine

NEXT_DAY = date(2011, 7, 1)  # the trading day after AS_OF: the network is fine-tuned
Z = np.array([-1.96, -1.645, -1.2816, -0.6745, 0.0, 0.6745, 1.2816, 1.645, 1.96])


def test_a_pinched_horizon_is_widened_to_the_one_before() -> None:
    sigma = np.array([[1.0], [2.0], [1.5], [3.0]])  # day 3 is narrower than day 2
    rows = 100.0 + np.arange(4)[:, None] + sigma * Z
    wide = widen_with_horizon(rows)
    dist = wide - wide[:, [4]]
    assert np.allclose(wide[2], 102.0 + 2.0 * Z)  # day 3 takes day 2's distances about its own median
    assert np.array_equal(wide[[0, 1, 3]], rows[[0, 1, 3]])  # rows already wider are untouched
    assert np.all(np.diff(np.abs(dist), axis=0) >= 0)
    assert np.all(np.diff(wide, axis=1) >= 0)  # each row still in level order


def test_one_horizon_comes_back_bit_for_bit() -> None:
    row = np.array([[3.1, 7.3, 9.9, 10.1, 10.7, 11.3, 12.9, 14.0, 19.5]])
    assert len(row[0]) == len(QUANTILE_LEVELS)
    assert widen_with_horizon(row).tobytes() == row.tobytes()


def test_issued_intervals_keep_their_factors_and_widen() -> None:
    day1 = Interval(lo80=95.0, hi80=105.0, lo95=90.0, hi95=110.0, scale80=1.1, scale95=0.9)
    day2 = Interval(lo80=97.0, hi80=104.0, lo95=96.0, hi95=109.0, scale80=0.8, scale95=0.7)
    out = widened([day1, day2], [100.0, 101.0])
    assert out[0] == day1
    assert out[1] == Interval(lo80=96.0, hi80=106.0, lo95=91.0, hi95=111.0, scale80=0.8, scale95=0.7)


@pytest.mark.slow
def test_stored_intervals_never_narrow_with_the_horizon(tmp_path: Path) -> None:
    """Five-day forecasts from a trained and then a fine-tuned network (the parent's conformal
    offsets on moved weights), the baselines and the ensemble."""
    settings = pipeline_settings(tmp_path, horizon=5)
    factory = ready_db(settings)
    first = routine(settings, factory, kinds=("gru",), plots=False)
    second = routine(settings, factory, as_of=NEXT_DAY, kinds=("gru",), plots=False, between="finetune")
    assert [o.action for o in first.tickers[0].outcomes + second.tickers[0].outcomes if o.model == "gru"] == [
        "retrain",
        "finetune",
    ]
    with factory() as session:
        rows = session.execute(select(Forecast).order_by(Forecast.as_of, Forecast.model, Forecast.horizon)).scalars()
        by_forecast: dict[tuple[object, str], list[Forecast]] = {}
        for row in rows:
            by_forecast.setdefault((row.as_of, row.model), []).append(row)
    assert len(by_forecast) >= 2 * 3  # gru, a baseline with intervals and the ensemble, on both days
    for key, days in by_forecast.items():
        assert [d.horizon for d in days] == [1, 2, 3, 4, 5], key
        if days[0].lo80 is None:
            continue
        bands = np.array([[d.lo95, d.lo80, d.yhat, d.hi80, d.hi95] for d in days], dtype=np.float64)
        w80, w95 = bands[:, 3] - bands[:, 1], bands[:, 4] - bands[:, 0]
        assert np.all(np.diff(w80) >= -1e-9) and np.all(np.diff(w95) >= -1e-9), (key, w80, w95)
        assert np.all(np.diff(bands, axis=1) >= 0), key  # the 95 % interval contains the 80 % one
        q = np.array([[getattr(d, c) for c in QUANTILE_COLUMNS] for d in days], dtype=np.float64)
        assert np.all(np.diff(np.abs(q - q[:, [4]]), axis=0) >= -1e-9), key  # every stored level too
