"""The optimizer benchmark's carried-Adam variant (bench/finetune_optimizer.py): restoring the
saved Adam variables after the product's reset continues training exactly as one compiled model
fitted twice would, and keeps the learning rate the new fit asks for."""

import keras
import numpy as np

from bench.finetune_optimizer import carried
from forecaster.model import training
from forecaster.model.networks import build_model
from forecaster.model.trainers import FitOptions, trainer_for, weights_back


def _data(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(32, 6, 1)), rng.normal(size=(32, 1))


def _trainer_seen_by_fit(model: keras.Model, learning_rate: float) -> keras.Model:
    """What `training._fit` calls, with the arguments it passes (learning rate, loss, FitOptions):
    the product's `trainer_for`, or the bench's patch of it."""
    return vars(training)["trainer_for"](model, learning_rate, keras.losses.MeanSquaredError(), FitOptions())


def _fit(trainer: keras.Model, seed: int) -> None:
    x, y = _data(seed)
    keras.utils.set_random_seed(3)
    trainer.fit(x, y, epochs=2, batch_size=8, shuffle=True, verbose=0)


def test_carried_adam_continues_like_one_compiled_model_fitted_twice():
    start = build_model("gru", window=6, n_features=1, units=(3, 3), dropout=0.0, seed=1)
    continuous = keras.models.clone_model(start)
    continuous.set_weights(start.get_weights())
    continuous.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-2), loss="mse")
    _fit(continuous, 1)
    _fit(continuous, 2)  # the second fit starts from the first one's moments and step count

    with carried(None) as first:
        _fit(_trainer_seen_by_fit(start, 1e-2), 1)  # the product's trainer, patched by the bench
        weights_back(first.trainer, start)
        saved = first.state()
    with carried(saved) as second:
        trainer = _trainer_seen_by_fit(start, 1e-2)
        _fit(trainer, 2)
    for a, b in zip(continuous.get_weights(), weights_back(trainer, start).get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert vars(training)["trainer_for"] is trainer_for  # the patch ends with the block
    assert second.trainer is trainer


def test_carried_adam_keeps_the_new_fits_learning_rate_and_a_fresh_fit_stays_fresh():
    model = build_model("rnn", window=6, n_features=1, units=(3, 3), dropout=0.0, seed=1)
    with carried(None) as first:
        _fit(_trainer_seen_by_fit(model, 1e-3), 1)
        saved = first.state()
    assert any(np.any(value != 0) for value in saved)  # moments were learnt
    with carried(saved) as second:
        trainer = _trainer_seen_by_fit(model, 1e-4)
    variables = {v.path: np.asarray(v.numpy()) for v in trainer.optimizer.variables}
    assert float(trainer.optimizer.learning_rate.numpy()) == np.float32(1e-4)
    assert any(np.any(value != 0) for path, value in variables.items() if "learning_rate" not in path)
    fresh = trainer_for(model, 1e-4, keras.losses.MeanSquaredError(), FitOptions())  # outside: the reset, untouched
    assert all(np.all(v.numpy() == 0) for v in fresh.optimizer.variables if "learning_rate" not in v.path)
    assert second.trainer is trainer
