"""The reused trainer (model/trainers.py) trains exactly like a freshly compiled model, and
the network it hands back saves without Keras optimizer state (the Adam state travels beside
it: tests/test_adam_state.py)."""

import zipfile
from io import BytesIO

import keras
import numpy as np
import pytest

from forecaster.model.files import model_bytes, model_from_bytes
from forecaster.model.networks import build_model
from forecaster.model.trainers import DEFAULT_FIT, FitOptions, trainer_for, weights_back
from tests.helpers import count_steps


def _data(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(32, 6, 1)), rng.normal(size=(32, 1))


def _fit_fresh(model: keras.Model, x: np.ndarray, y: np.ndarray, lr: float = 1e-2) -> list[np.ndarray]:
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=lr), loss="mse")
    keras.utils.set_random_seed(3)
    model.fit(x, y, epochs=2, batch_size=8, shuffle=True, verbose=0)
    return [np.asarray(w) for w in model.get_weights()]


def _fit_reused(
    model: keras.Model, x: np.ndarray, y: np.ndarray, lr: float = 1e-2, options: FitOptions = DEFAULT_FIT
) -> list[np.ndarray]:
    trainer = trainer_for(model, lr, options=options)
    keras.utils.set_random_seed(3)
    trainer.fit(x, y, epochs=2, batch_size=8, shuffle=True, verbose=0)
    return [np.asarray(w) for w in weights_back(trainer, model).get_weights()]


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["rnn", "gru"])
def test_a_reused_trainer_gives_the_weights_of_a_fresh_compile_every_time(kind):
    start = build_model(kind, window=6, n_features=1, units=(3, 3), dropout=0.0, seed=1)
    saved = model_bytes(start)
    # Twice through the same trainer, on different data: the second fit must not inherit the
    # first one's optimizer moments or step count.
    for seed in (1, 2):
        x, y = _data(seed)
        fresh = _fit_fresh(model_from_bytes(saved, None, name="a"), x, y)
        reused = _fit_reused(model_from_bytes(saved, None, name="b"), x, y)
        assert len(fresh) == len(reused)
        for a, b in zip(fresh, reused, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
        assert not np.allclose(fresh[-2], np.asarray(start.get_weights()[-2]))  # it did train


@pytest.mark.slow
def test_one_trainer_serves_every_learning_rate(monkeypatch):
    # A retrain (1e-3) and a fine-tune (1e-4) share the trainer: each fit trains at its own rate,
    # and the shape's train step is traced once for all of them.
    start = build_model("gru", window=6, n_features=1, units=(3, 2), dropout=0.0, seed=2)  # a shape of its own
    saved = model_bytes(start)
    x, y = _data(4)
    steps = count_steps(monkeypatch)
    reused_traces = 0
    for lr in (1e-2, 1e-3):
        fresh = _fit_fresh(model_from_bytes(saved, None, name="f"), x, y, lr)
        before = steps["train_step"]
        reused = _fit_reused(model_from_bytes(saved, None, name="r"), x, y, lr)
        reused_traces += steps["train_step"] - before
        for a, b in zip(fresh, reused, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert reused_traces == 1


def test_the_trained_model_saves_without_optimizer_state():
    model = build_model("lstm", window=6, n_features=1, units=(3, 3), dropout=0.0, seed=1)
    x, y = _data(1)
    _fit_reused(model, x, y)
    with zipfile.ZipFile(BytesIO(model_bytes(model))) as archive, archive.open("model.weights.h5") as fh:
        import h5py  # type: ignore[import-untyped]

        with h5py.File(BytesIO(fh.read()), "r") as weights:
            assert "optimizer" not in weights
            assert "layers" in weights


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["rnn", "lstm"])
def test_fit_options_change_the_speed_not_the_weights(kind):
    # Unrolling and XLA compute the same updates as the plain while-loop
    # trainer; only the trainer's graph is unrolled, never the network that is saved.
    start = build_model(kind, window=6, n_features=1, units=(3, 3), dropout=0.0, seed=1)
    saved = model_bytes(start)
    x, y = _data(1)
    plain = _fit_reused(model_from_bytes(saved, None, name="p"), x, y, options=FitOptions())
    fast_model = model_from_bytes(saved, None, name="f")
    fast = _fit_reused(fast_model, x, y, options=FitOptions(jit_compile=True, unroll=True))
    for a, b in zip(plain, fast, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    assert not np.allclose(plain[0], np.asarray(start.get_weights()[0]))  # it did train
    trainer = trainer_for(fast_model, 1e-2, options=FitOptions(unroll=True))
    assert trainer.get_layer(f"{kind}_1").unroll and not fast_model.get_layer(f"{kind}_1").unroll
