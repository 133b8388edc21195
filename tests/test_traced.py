"""The train and predict functions traced with the batch left open (model/trainers.py): one trace
for every batch size, and the same numbers as Keras' own functions."""

from typing import Any

import keras
import numpy as np
import pytest

from forecaster.model.networks import build_model
from forecaster.model.resident import forward
from forecaster.model.trainers import open_predict, open_train, trainer_for
from tests.helpers import count_steps


def _net(seed: int = 3) -> keras.Model:
    return build_model("lstm", window=6, n_features=1, units=(3, 4), dropout=0.0, seed=seed)


def _compiled(open_batch: bool) -> keras.Model:
    model = _net()
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-2), loss="mse")
    if open_batch:
        open_train(model)
    return model


def _python_calls_of_train_step(open_batch: bool) -> int:
    """How often the step's Python runs over batches of four sizes: once per trace, never per call."""
    rng = np.random.default_rng(0)
    model = _net()
    model.compile(optimizer="adam", loss="mse")
    model.optimizer.build(model.trainable_variables)  # as trainer_for does: no variables made in the step
    calls: list[int] = []
    step = model.train_step

    def counted(data: Any) -> Any:
        calls.append(1)
        return step(data)

    model.train_step = counted
    if open_batch:
        open_train(model)  # after the counter, so that the traced function calls it
    for size in (8, 5, 8, 1, 13):
        model.train_on_batch(rng.normal(size=(size, 6, 1)), rng.normal(size=(size, 1)))
    return len(calls)


@pytest.mark.slow
def test_a_train_step_is_traced_once_for_every_batch_size_where_keras_traces_again():
    # Keras' own function traces for 8, then again (with the batch left open) at 5.
    assert _python_calls_of_train_step(open_batch=True) == 1
    assert _python_calls_of_train_step(open_batch=False) == 2


def test_a_predict_function_is_traced_once_and_takes_either_float_width(monkeypatch):
    steps = count_steps(monkeypatch)
    rng = np.random.default_rng(1)
    model = _net()
    open_predict(model)
    x = rng.normal(size=(9, 6, 1))
    first = model.predict_on_batch(x.astype(np.float32))
    again = model.predict_on_batch(x)  # float64 after float32: cast, not traced again
    single = model.predict_on_batch(x[:1])
    assert steps["predict_step"] == 1
    np.testing.assert_array_equal(first, again)
    np.testing.assert_allclose(single, first[:1], rtol=1e-6)


@pytest.mark.slow
def test_the_open_trace_trains_value_for_value_as_keras_own_function():
    rng = np.random.default_rng(2)
    batches = [
        (rng.normal(size=(n, 6, 1)).astype(np.float32), rng.normal(size=(n, 1)).astype(np.float32))
        for n in (8, 5, 8, 3)
    ]
    ours, keras_own = _compiled(open_batch=True), _compiled(open_batch=False)
    losses = [(float(ours.train_on_batch(x, y)), float(keras_own.train_on_batch(x, y))) for x, y in batches]
    assert [a for a, _ in losses] == [b for _, b in losses]
    for a, b in zip(ours.get_weights(), keras_own.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    x = rng.normal(size=(4, 6, 1))
    np.testing.assert_array_equal(forward(ours, x), np.asarray(keras_own.predict_on_batch(x), dtype=np.float64))


@pytest.mark.slow
def test_the_product_trainer_and_resident_network_trace_once_for_every_batch_size(monkeypatch):
    steps = count_steps(monkeypatch)
    model = build_model("gru", window=5, n_features=1, units=(2, 3), dropout=0.0, seed=6)  # a shape of its own
    trainer = trainer_for(model, 1e-3, keras.losses.MeanSquaredError())
    rng = np.random.default_rng(3)
    for size in (4, 7, 1):
        trainer.train_on_batch(rng.normal(size=(size, 5, 1)), rng.normal(size=(size, 1)))
        forward(model, rng.normal(size=(size, 5, 1)))
    assert steps == {"train_step": 1, "predict_step": 1}
