"""Resident networks: a version loaded into the process's network of its shape forecasts exactly
as the file's own model does, is refused when damaged, and is read again whenever the network's
weights moved since it was loaded."""

import hashlib
import threading
import warnings
from dataclasses import replace

import keras
import numpy as np
import pytest

from forecaster.errors import ModelFileError
from forecaster.model import resident as resident_module
from forecaster.model.batches import Loop, fit_by_batches
from forecaster.model.files import model_bytes, model_from_bytes
from forecaster.model.resident import forward, load_version, network_for, resident
from forecaster.model.spec import ModelSpec
from forecaster.model.trainers import trainer_for
from tests.helpers import count_steps

SPEC = ModelSpec(kind="gru", window=10, horizon=2, units=(4, 3), features=("close",))
X = np.random.default_rng(3).normal(size=(5, 10, 1)).astype("float32")


def _file(seed: int, spec: ModelSpec = SPEC) -> tuple[bytes, str]:
    data = model_bytes(network_for(spec, seed=seed))
    return data, hashlib.sha256(data).hexdigest()


def test_a_loaded_version_forecasts_bit_for_bit_like_its_files_model_all_through_one_trace(monkeypatch):
    steps = count_steps(monkeypatch)
    spec = replace(SPEC, units=(5, 3))  # a shape of its own: its network is made here
    for seed in (1, 2, 1):
        data, sha = _file(seed, spec)
        whole = model_from_bytes(data, sha, name=f"v{seed}")
        net = load_version(spec, data, sha, name=f"v{seed}")
        np.testing.assert_array_equal(forward(net, X), np.asarray(whole(X, training=False), dtype=np.float64))
    assert steps["predict_step"] == 1  # one network per shape, whichever version it holds


def test_the_resident_holds_whichever_version_was_loaded_last():
    (a, sha_a), (b, sha_b) = _file(1), _file(2)
    out_a = forward(load_version(SPEC, a, sha_a, name="a"), X)
    out_b = forward(load_version(SPEC, b, sha_b, name="b"), X)
    assert not np.allclose(out_a, out_b)
    np.testing.assert_array_equal(forward(load_version(SPEC, a, sha_a, name="a"), X), out_a)


def test_weights_changed_after_loading_are_replaced_by_the_files_again():
    data, sha = _file(1)
    net = load_version(SPEC, data, sha, name="v1")
    before = forward(net, X)
    net.set_weights([w + 0.5 for w in net.get_weights()])  # a fine-tune trained it in place
    assert not np.allclose(forward(net, X), before)
    np.testing.assert_array_equal(forward(load_version(SPEC, data, sha, name="v1"), X), before)


def test_forecasting_another_model_of_the_shape_goes_through_the_same_network(monkeypatch):
    steps = count_steps(monkeypatch)
    spec = replace(SPEC, units=(4, 5))  # a shape of its own: its network is made here
    data, sha = _file(1, spec)
    other = network_for(spec, seed=5)
    forward(load_version(spec, data, sha, name="v1"), X)
    np.testing.assert_array_equal(forward(other, X), np.asarray(other(X, training=False), dtype=np.float64))
    assert not np.allclose(forward(load_version(spec, data, sha, name="v1"), X), forward(other, X))
    assert steps["predict_step"] == 1


def test_a_damaged_file_or_one_of_another_shape_is_refused():
    data, _ = _file(1)
    with pytest.raises(ModelFileError, match="sha256"):
        load_version(SPEC, data, hashlib.sha256(b"x").hexdigest(), name="v1")
    broken = data[: len(data) // 2]
    with pytest.raises(ModelFileError, match="damaged"):
        load_version(SPEC, broken, hashlib.sha256(broken).hexdigest(), name="v1")
    wider, wider_sha = _file(1, ModelSpec(kind="gru", window=10, horizon=2, units=(6, 3), features=("close",)))
    with pytest.raises(ModelFileError):
        load_version(SPEC, wider, wider_sha, name="wider")


def test_a_version_loads_into_a_resident_cloned_from_a_trained_model(monkeypatch):
    # In a fresh thread (the cache is per thread), a retrain's model is forecast first, so the
    # resident is its clone; a version file loaded afterwards must land in that clone intact.
    data, sha = _file(1)
    whole = model_from_bytes(data, sha, name="v1")
    steps = count_steps(monkeypatch)
    out: dict[str, np.ndarray] = {}

    def work() -> None:
        trained = network_for(SPEC, seed=9)
        out["trained"] = forward(trained, X)
        out["y"] = forward(load_version(SPEC, data, sha, name="v1"), X)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert steps["predict_step"] == 1  # the version went into the clone: no second network traced
    np.testing.assert_array_equal(out["y"], np.asarray(whole(X, training=False), dtype=np.float64))
    assert not np.allclose(out["y"], out["trained"])


@pytest.mark.slow
def test_a_fit_leaves_the_resident_uncompiled_and_a_later_load_quiet():
    # The loop validates through the resident network. Cloned from the compiled trainer it would
    # be compiled too, and each later load of a version's weights would warn about its Adam.
    data, sha = _file(1)
    whole = np.asarray(model_from_bytes(data, sha, name="v1")(X, training=False), dtype=np.float64)
    out: dict[str, object] = {}

    def work() -> None:
        net = network_for(SPEC, seed=9)
        trainer = trainer_for(net, 1e-2, keras.losses.MeanSquaredError())
        y = np.zeros((5, SPEC.horizon, 9)) if SPEC.head == "quantile" else np.zeros((5, SPEC.horizon))
        loop = Loop(epochs=1, batch_size=4, patience=1, seed=1)
        fit_by_batches(trainer, net, (X, y), (X, y), keras.losses.MeanSquaredError(), loop, keras.callbacks.Callback())
        out["compiled"] = resident(net).compiled
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            out["y"] = forward(load_version(SPEC, data, sha, name="v1"), X)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert out["compiled"] is False
    np.testing.assert_array_equal(out["y"], whole)


def test_many_windows_go_through_in_chunks_with_the_outputs_of_one_pass(monkeypatch):
    net = network_for(SPEC, seed=4)
    many = np.random.default_rng(6).normal(size=(23, 10, 1))
    whole = forward(net, many)  # 23 windows: within the chunk, one call
    monkeypatch.setattr(resident_module, "FORWARD_CHUNK", 5)  # five calls of 5 and one of 3
    np.testing.assert_allclose(forward(net, many), whole, rtol=1e-6, atol=1e-7)
    assert forward(net, many).shape == (23, SPEC.horizon, whole.shape[-1])
