"""Quantile networks: the head cannot cross, the pinball loss on hand-made numbers, conformal
offsets on a constructed slice, and the calibration travelling with a version."""

import json
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from forecaster.model.intervals import (
    INTERVALS,
    MEDIAN,
    QUANTILE_LEVELS,
    Calibration,
    apply,
    calibrate,
    conformity_offset,
    from_scaler_params,
)
from forecaster.model.networks import PinballLoss, QuantileHead, build_model
from forecaster.model.spec import ModelSpec, TrainSpec
from forecaster.routine.policy import Decision
from forecaster.routine.tasks import KindResult, run_model_task
from tests.helpers import bundled_bars, one_ticker_task, parent_of

LEVELS = len(QUANTILE_LEVELS)
SPEC = ModelSpec(kind="gru", window=10, horizon=2, units=(4, 4), adjust="none")
TRAIN = TrainSpec(max_epochs=1, patience=1, batch_size=64, finetune_epochs=1, finetune_days=60)


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return bundled_bars(300)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_quantile_network_never_crosses_whatever_its_weights(kind):
    model = build_model(kind, window=6, n_features=2, units=(3, 3), outputs=3, quantiles=True)
    rng = np.random.default_rng(1)
    for _ in range(3):
        model.set_weights([rng.normal(scale=4.0, size=w.shape) for w in model.get_weights()])
        q = np.asarray(model(rng.normal(scale=3.0, size=(50, 6, 2)).astype("float32")))
        assert q.shape == (50, 3, LEVELS)
        assert (np.diff(q, axis=-1) >= 0).all()


def test_head_is_median_plus_softplus_steps():
    raw = np.zeros((1, 1, LEVELS), "float32")
    raw[0, 0, MEDIAN] = 2.0
    q = np.asarray(QuantileHead()(raw))[0, 0]
    step = np.log(2.0)  # softplus(0)
    np.testing.assert_allclose(q, 2.0 + step * (np.arange(LEVELS) - MEDIAN), rtol=1e-6)


def test_pinball_loss_on_a_hand_made_case():
    y = np.array([[1.0], [0.0]], "float32")  # (batch, horizon)
    q = np.array([[[0.0, 1.0, 3.0]], [[-1.0, 0.0, 1.0]]], "float32")  # (batch, horizon, levels)
    # first: diffs 1, 0, -2 -> 0.1, 0, 0.2 -> 0.1; second: diffs 1, 0, -1 -> 0.1, 0, 0.1 -> 0.0667
    loss = PinballLoss(levels=(0.1, 0.5, 0.9))
    assert float(loss(y, q)) == pytest.approx((0.1 + 0.2 / 3) / 2, rel=1e-6)
    # medians 1 and 0: batch mean 0.5, penalty 2 x 0.25
    penalised = PinballLoss(levels=(0.1, 0.5, 0.9), bias_penalty=2.0)
    assert float(penalised(y, q)) == pytest.approx((0.1 + 0.2 / 3) / 2 + 0.5, rel=1e-6)


def test_conformity_offset_on_a_constructed_slice():
    y = np.array([-3, -2, -1.5, -0.5, 0, 0.5, 1.5, 2, 3], dtype=np.float64)
    lo, hi = np.full(9, -1.0), np.full(9, 1.0)
    # scores max(lo - y, y - hi): 2, 1, 0.5, -0.5, -1, -0.5, 0.5, 1, 2; sorted the 8th is 2
    assert conformity_offset(lo, hi, y, 0.80) == 2.0
    assert conformity_offset(lo, hi, y, 0.5) == 0.5  # ceil(10 x 0.5) = 5th: 0.5


@pytest.mark.parametrize("half_width", [0.1, 10.0])  # over-confident (widened) and too cautious (narrowed)
def test_calibrated_intervals_cover_as_promised_on_the_slice(half_width):
    rng = np.random.default_rng(3)
    y = rng.normal(size=(99, 2))  # (n, horizon)
    quantiles = np.broadcast_to(np.linspace(-half_width, half_width, LEVELS), (99, 2, LEVELS)).copy()
    calibration = calibrate(quantiles, y)
    assert calibration.n == 99
    calibrated = apply(quantiles, calibration)
    assert (np.diff(calibrated, axis=-1) >= 0).all()
    for level, (lo, hi) in INTERVALS.items():
        offsets = np.asarray(calibration.offsets[level])
        assert (offsets > 0).all() if half_width < 1 else (offsets < 0).all()
        # the k-th score's sample sits on the bound: a rounding error's leeway keeps it inside
        inside = (y >= calibrated[:, :, lo] - 1e-9) & (y <= calibrated[:, :, hi] + 1e-9)
        # ceil(100 x level) of 99 scores are <= the offset: 80/99 and 95/99, per horizon
        np.testing.assert_allclose(inside.mean(axis=0), np.ceil(100 * level) / 99)


def test_levels_between_the_interval_ends_move_in_proportion_and_never_cross():
    quantiles = np.linspace(-1, 1, LEVELS)[None, None, :]  # (1, 1, levels): steps of 0.25
    calibrated = apply(quantiles, Calibration({0.80: (0.4,), 0.95: (1.0,)}, 10))[0, 0]
    # 0.025 by 1.0, 0.05 by 0.8 (a third of the way to 0.10's 0.4), 0.10 by 0.4, 0.25 by 0.25, 0.5 by 0
    moves = np.array([-1.0, -0.8, -0.4, -0.25, 0.0, 0.25, 0.4, 0.8, 1.0])
    np.testing.assert_allclose(calibrated - quantiles[0, 0], moves, atol=1e-12)
    # A 95 % narrowing that would put its end inside the 80 % interval: 0.025 up to -0.4, 0.05 up
    # to -0.35, 0.10 unmoved at -0.5; ordered from the median outwards, both stop at the 80 % end.
    narrowed = apply(quantiles, Calibration({0.80: (0.0,), 0.95: (-0.6,)}, 10))[0, 0]
    assert (np.diff(narrowed) >= 0).all()
    np.testing.assert_allclose(narrowed[:3], [-0.5, -0.5, -0.5])
    assert narrowed[MEDIAN] == 0.0


def _task(bars, action, parent=None):
    return one_ticker_task(bars, SPEC, TRAIN, Decision(action, "test"), parent)


def _stored(result: KindResult) -> dict[str, Any]:
    assert result.trained is not None
    return result.trained.scaler


@pytest.mark.slow
def test_task_result_carries_calibrated_quantiles_and_the_version_keeps_them(bars):
    trained = run_model_task(_task(bars, "retrain"))
    assert trained.error is None
    q = np.asarray(trained.tickers[0].quantiles)
    assert q.shape == (SPEC.horizon, LEVELS)
    assert (np.diff(q, axis=-1) >= 0).all()
    np.testing.assert_allclose(q[:, MEDIAN], trained.tickers[0].forecast)
    stored = from_scaler_params(_stored(trained))
    samples = len(bars) - SPEC.window - SPEC.horizon + 1
    assert stored is not None and stored.n == round(samples * TRAIN.val_fraction)  # the early-stopping slice
    assert set(stored.offsets) == {0.80, 0.95} and all(len(v) == SPEC.horizon for v in stored.offsets.values())
    # Reloaded and reused: the same calibrated quantiles, from the stored offsets.
    reused = run_model_task(_task(bars, "reuse", parent_of(trained)))
    assert reused.error is None and reused.trained is None
    np.testing.assert_allclose(np.asarray(reused.tickers[0].quantiles), q, rtol=1e-6)


@pytest.mark.slow
def test_a_fine_tune_keeps_its_parents_calibration_and_forecasts_with_it(bars):
    trained = run_model_task(_task(bars, "retrain"))
    tuned = run_model_task(_task(bars, "finetune", parent_of(trained)))
    assert tuned.error is None and tuned.trained is not None and trained.trained is not None
    before, after = from_scaler_params(_stored(trained)), from_scaler_params(_stored(tuned))
    assert before is not None and after == before  # not recomputed on its few newest days
    # Its forecast: the fine-tuned network's raw quantiles moved by the parent's offsets.
    q = np.asarray(tuned.tickers[0].quantiles)[0]
    assert np.all(np.diff(q) >= 0) and q[0] < tuned.tickers[0].forecast[0] < q[-1]
    # The weights did move: the parent, reused with the same offsets, forecasts otherwise.
    reused = run_model_task(_task(bars, "reuse", parent_of(trained)))
    assert np.abs(np.asarray(reused.tickers[0].quantiles)[0] - q).max() > 1e-4  # prices: far above float noise


@pytest.mark.slow
def test_a_point_version_stored_before_quantiles_still_forecasts(bars):
    point = replace(SPEC, head="point")
    task = replace(_task(bars, "retrain"), spec=point)
    result = run_model_task(task)
    assert result.error is None and result.tickers[0].quantiles is None
    assert from_scaler_params(_stored(result)) is None
    # A spec saved without the new fields reads back as what it was: a point network.
    legacy = json.loads(point.to_json())
    del legacy["head"], legacy["bias_penalty"]
    assert ModelSpec.from_json(json.dumps(legacy)) == point
