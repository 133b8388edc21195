"""Metrics against values computed by hand."""

import math

import numpy as np
import pytest

from forecaster.scoring.metrics import hit_rate, mae, mape, mse, naive_scale, rmse, score

YHAT = np.array([101.0, 99.0, 103.0, 100.0])
ACTUAL = np.array([102.0, 97.0, 103.0, 104.0])
LAST = np.array([100.0, 100.0, 103.0, 101.0])


def test_point_metrics_by_hand():
    # errors: -1, 2, 0, -4
    assert mae(YHAT, ACTUAL) == 7 / 4
    assert mse(YHAT, ACTUAL) == (1 + 4 + 0 + 16) / 4
    assert rmse(YHAT, ACTUAL) == math.sqrt(21 / 4)
    assert mape(YHAT, ACTUAL) == pytest.approx((1 / 102 + 2 / 97 + 0 + 4 / 104) / 4 * 100)


def test_hit_rate_excludes_and_counts_ties():
    # directions: up/up (hit), down/down (hit), flat/flat (tie), down/up (miss)
    rate, ties = hit_rate(YHAT, ACTUAL, LAST)
    assert (rate, ties) == (2 / 3, 1)


def test_naive_scale_and_mase():
    closes = np.array([10.0, 11.0, 10.5, 12.0])
    assert naive_scale(closes[1:], closes[:-1]) == (1 + 0.5 + 1.5) / 3
    s = score(YHAT, ACTUAL, LAST, scale=0.5)
    assert s.n == 4 and s.mase == (7 / 4) / 0.5 and s.ties == 1


def test_naive_scores_one_on_its_own_training_scale():
    closes = np.array([10.0, 11.0, 10.5, 12.0, 11.0])
    scale = naive_scale(closes[1:], closes[:-1])
    s = score(closes[:-1], closes[1:], closes[:-1], scale)  # the naive forecast itself
    assert s.mase == pytest.approx(1.0)
    assert math.isnan(s.hit_rate) and s.ties == 4  # naive never predicts a direction


def test_empty_input_scores_nan():
    s = score(np.array([]), np.array([]), np.array([]), 1.0)
    assert s.n == 0 and math.isnan(s.mae)
