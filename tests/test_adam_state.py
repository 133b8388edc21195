"""A fine-tune continues the Adam state its parent's fit ended with (model/trainers), which the
version's `.keras` file carries as one more member (model/files)."""

import io
import zipfile

import keras
import numpy as np
import pandas as pd
import pytest

from forecaster.errors import ModelFileError
from forecaster.model.files import adam_from_bytes, model_bytes, model_from_bytes, weights_from_bytes
from forecaster.model.networks import build_model
from forecaster.model.spec import ModelSpec, TrainSpec
from forecaster.model.trainers import adam_state, trainer_for, weights_back
from forecaster.routine.policy import Action, Decision
from forecaster.routine.tasks import KindResult, ParentModel, run_model_task
from tests.helpers import bundled_bars, one_ticker_task, parent_of


def _data(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(32, 6, 1)), rng.normal(size=(32, 1))


def _fit(trainer: keras.Model, seed: int) -> None:
    x, y = _data(seed)
    keras.utils.set_random_seed(3)
    trainer.fit(x, y, epochs=2, batch_size=8, shuffle=True, verbose=0)


@pytest.mark.slow
def test_a_carried_state_continues_like_one_compiled_model_fitted_twice():
    start = build_model("gru", window=6, n_features=1, units=(3, 3), dropout=0.0, seed=1)
    continuous = keras.models.clone_model(start)
    continuous.set_weights(start.get_weights())
    continuous.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-2), loss="mse")
    _fit(continuous, 1)
    _fit(continuous, 2)  # the second fit starts from the first one's moments and step count

    first = trainer_for(start, 1e-2)
    _fit(first, 1)
    saved = adam_state(first)
    weights_back(first, start)
    trainer_for(start, 1e-2)  # another fit in between resets the shared trainer ...
    second = trainer_for(start, 1e-2, adam=saved)  # ... and the saved state goes back in
    _fit(second, 2)
    for a, b in zip(continuous.get_weights(), weights_back(second, start).get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_the_new_fits_learning_rate_is_kept_and_no_state_means_a_fresh_adam():
    model = build_model("rnn", window=6, n_features=1, units=(3, 3), dropout=0.0, seed=1)
    trainer = trainer_for(model, 1e-3)
    _fit(trainer, 1)
    saved = adam_state(trainer)
    assert int(saved[0]) == 8 and any(np.any(a != 0) for a in saved[1:])  # 2 epochs of 4 batches
    carried = trainer_for(model, 1e-4, adam=saved)
    assert float(carried.optimizer.learning_rate.numpy()) == np.float32(1e-4)
    for value, variable in zip(saved, adam_state(carried), strict=True):
        np.testing.assert_array_equal(value, variable)
    fresh = trainer_for(model, 1e-4)
    assert all(np.all(a == 0) for a in adam_state(fresh))
    with pytest.raises(ValueError, match="does not fit"):
        trainer_for(model, 1e-4, adam=saved[:-1])


@pytest.mark.slow
def test_the_state_travels_inside_the_keras_file():
    model = build_model("lstm", window=6, n_features=1, units=(3, 3), dropout=0.0, seed=1)
    trainer = trainer_for(model, 1e-2)
    _fit(trainer, 1)
    saved = adam_state(trainer)
    data = model_bytes(weights_back(trainer, model), saved)
    back = adam_from_bytes(data, name="m.keras")
    assert back is not None and len(back) == len(saved)
    for a, b in zip(saved, back, strict=True):
        np.testing.assert_array_equal(a, b)
        assert a.dtype == b.dtype
    # Keras reads the file as any other: the whole model, or its weights into a network.
    loaded = model_from_bytes(data, None, name="m.keras")
    other = build_model("lstm", window=6, n_features=1, units=(3, 3), dropout=0.0, seed=2)
    weights_from_bytes(other, data, None, name="m.keras")
    for a, b, c in zip(model.get_weights(), loaded.get_weights(), other.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    assert adam_from_bytes(model_bytes(model), name="plain.keras") is None  # a file saved without one


def _with_garbled_state(data: bytes) -> bytes:
    """A `.keras` file's bytes (saved without a state) with an `adam.npz` member that is not one."""
    buffer = io.BytesIO(data)
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr("adam.npz", b"not an npz archive")
    return buffer.getvalue()


def test_a_damaged_state_is_a_model_file_error():
    data = model_bytes(build_model("rnn", window=6, n_features=1, units=(3, 3), dropout=0.0, seed=1))
    with pytest.raises(ModelFileError, match=r"Adam state in model file bad\.keras is damaged"):
        adam_from_bytes(_with_garbled_state(data), name="bad.keras")


SPEC = ModelSpec(kind="gru", window=10, horizon=1, units=(4, 4), adjust="none")
TRAIN = TrainSpec(max_epochs=2, patience=2, batch_size=16, finetune_epochs=2, finetune_days=60)


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return bundled_bars(200)


def _run(bars: pd.DataFrame, action: Action, parent: ParentModel | None = None) -> KindResult:
    result = run_model_task(one_ticker_task(bars, SPEC, TRAIN, Decision(action, "test"), parent))
    assert result.error is None and result.trained is not None
    return result


def _steps(result: KindResult) -> int:
    assert result.trained is not None
    state = adam_from_bytes(result.trained.data, name="m.keras")
    assert state is not None
    return int(state[0])  # the Adam's step count, its first variable


@pytest.mark.slow
def test_a_fine_tune_task_continues_its_parents_adam_state(bars):
    trained = _run(bars, "retrain")
    retrain_steps = _steps(trained)
    assert retrain_steps > 0
    tuned = _run(bars, "finetune", parent_of(trained))
    # The parent's file without its state (as written before it existed): a fresh Adam, whose
    # step count is the fine-tune's own steps only.
    assert trained.trained is not None
    plain = model_bytes(model_from_bytes(trained.trained.data, None, name="m.keras"))
    fresh = _run(bars, "finetune", parent_of(trained, plain))
    assert fresh.trained is not None and tuned.trained is not None
    per_epoch = _steps(fresh) // fresh.trained.stats.epochs_run
    assert per_epoch > 0
    assert _steps(tuned) == retrain_steps + tuned.trained.stats.epochs_run * per_epoch


@pytest.mark.slow
def test_a_damaged_state_is_only_read_by_a_fine_tune_which_then_retrains(bars):
    trained = _run(bars, "retrain")
    assert trained.trained is not None
    plain = model_bytes(model_from_bytes(trained.trained.data, None, name="m.keras"))
    parent = parent_of(trained, _with_garbled_state(plain))  # under a matching sha256: written so
    reused = run_model_task(one_ticker_task(bars, SPEC, TRAIN, Decision("reuse", "test"), parent))
    assert reused.error is None and reused.action == "reuse" and reused.version_id == 1
    tuned = _run(bars, "finetune", parent)
    assert tuned.action == "retrain" and "Adam state in model file m.keras is damaged" in tuned.reason
