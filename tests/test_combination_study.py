"""The combination study's members and averages, with made-up network quantiles (no fit)."""

import numpy as np
import pandas as pd
import pytest

import bench.studies.combination as study
from bench.studies.inputs import FOLDS, Forecasts
from forecaster.model import garch
from forecaster.scoring.intervals import pinball_each

Z = np.array([-1.96, -1.645, -1.2816, -0.6745, 0.0, 0.6745, 1.2816, 1.645, 1.96])


def _history(days: pd.DatetimeIndex, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"close": 10 * np.exp(np.cumsum(rng.normal(0, 0.02, len(days))))}, index=days)


def test_the_combinations_average_the_networks_and_take_garch_only_where_it_has_quantiles(monkeypatch):
    days = pd.bdate_range(end=FOLDS[0].first, periods=garch.MIN_RETURNS + 3)
    targets = days[-2:]
    histories = {"OLD": _history(days, 1), "YOUNG": _history(days[-100:], 2)}  # too young for garch
    tickers = np.array(["OLD", "OLD", "YOUNG", "YOUNG"])
    when = pd.DatetimeIndex([*targets, *targets])
    actual = np.array([histories[t]["close"][d] for t, d in zip(tickers, when, strict=True)])
    centre = {"rnn": 10.0, "lstm": 11.0, "gru": 12.0}

    def fake_fit(variant, fold, hist, quick, kind):
        quantiles = np.tile(centre[kind] + Z, (4, 1))
        return Forecasts(tickers, when, quantiles, actual, np.full(4, 10.0), epochs=1, seconds=0.0)

    monkeypatch.setattr(study, "fit_and_forecast", fake_fit)
    frame = study.fold_frame(FOLDS[0], histories, quick=True, seed=7)
    rows = frame.set_index(["variant", "ticker", "target"])["loss"]
    assert set(frame.loc[frame["variant"] == "garch", "ticker"]) == {"OLD"}  # none for the young one
    for target in targets.date:
        young = ("YOUNG", target)
        # the young ticker: every combination is the networks' mean (11 + Z) alone
        assert rows[("half garch", *young)] == pytest.approx(rows[("ensemble", *young)])
        assert rows[("ensemble+garch", *young)] == pytest.approx(rows[("ensemble", *young)])
    old = ("OLD", targets[0].date())
    g = garch.garch_quantiles(histories["OLD"]["close"][: targets[0]].to_numpy()[:-1], 1)[0]  # up to the as-of day
    half = ((11.0 + Z) + g) / 2
    expected = pinball_each(half[None, :], actual[:1])[0] / 10.0  # over the as-of close
    assert rows[("half garch", *old)] == pytest.approx(expected)
    quarter = (10.0 + 11.0 + 12.0 + Z * 3 + g) / 4
    assert rows[("ensemble+garch", *old)] == pytest.approx(pinball_each(quarter[None, :], actual[:1])[0] / 10.0)
