"""The network factory: shapes, layer choice, and refusing what it cannot build."""

import numpy as np
import pytest

from forecaster.errors import ConfigError
from forecaster.model import networks
from forecaster.model.networks import build_letter_model, build_model


@pytest.mark.parametrize(("kind", "layer"), [("rnn", "SimpleRNN"), ("lstm", "LSTM"), ("gru", "GRU")])
def test_build_model_maps_windows_to_one_forecast(kind, layer):
    model = build_model(kind, window=6, n_features=2, units=(4, 3))
    x = np.random.default_rng(0).normal(size=(5, 6, 2)).astype("float32")  # (batch, window, features)
    y = np.asarray(model(x, training=False))
    assert y.shape == (5, 1)
    assert np.isfinite(y).all()
    recurrent = [lay for lay in model.layers if type(lay).__name__ == layer]
    assert [lay.units for lay in recurrent] == [4, 3]
    assert recurrent[0].return_sequences and not recurrent[1].return_sequences


def test_build_model_defaults_are_the_course_architecture():
    model = build_model("lstm", window=60, n_features=1)
    assert model.input_shape == (None, 60, 1)
    assert [type(lay).__name__ for lay in model.layers] == ["InputLayer", "LSTM", "Dropout", "LSTM", "Dropout", "Dense"]
    assert [model.layers[i].units for i in (1, 3)] == [80, 100]
    assert [model.layers[i].rate for i in (2, 4)] == [0.2, 0.2]


def test_build_model_with_several_outputs():
    model = build_model("gru", window=4, n_features=3, units=(2, 2), outputs=5)
    assert np.asarray(model(np.zeros((2, 4, 3), "float32"))).shape == (2, 5)


def test_unknown_kind_is_refused_before_keras_is_touched(monkeypatch):
    class NoKeras:
        def __getattr__(self, name):
            raise AssertionError(f"keras.{name} used before the kind was checked")

    monkeypatch.setattr(networks, "keras", NoKeras())
    with pytest.raises(ConfigError, match="unknown model kind\\(s\\) transformer"):
        build_model("transformer", window=60, n_features=1)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [{"window": 0}, {"units": (0, 4)}, {"dropout": 1.0}])
def test_unusable_sizes_are_config_errors(bad):
    kwargs = {"window": 5, "n_features": 1, **bad}
    with pytest.raises(ConfigError):
        build_model("rnn", **kwargs)


def test_letter_model_one_hot_input():
    model = build_letter_model(vocab=5, steps=4, units=3)
    x = np.eye(5, dtype="float32")[np.array([[0, 1, 2, 3], [1, 2, 3, 4]])]  # (batch, steps, vocab)
    probs = np.asarray(model(x))
    assert probs.shape == (2, 5)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)


def test_letter_model_embedding_input():
    model = build_letter_model(vocab=26, steps=4, units=10, embedding_dim=2)
    assert model.get_layer("embedding").output_dim == 2
    probs = np.asarray(model(np.array([[0, 1, 2, 3]], dtype="int32")))  # (batch, steps) indices
    assert probs.shape == (1, 26)
    np.testing.assert_allclose(probs.sum(), 1.0, rtol=1e-5)


def test_every_spec_field_is_in_the_network_identity_or_said_not_to_change_the_network():
    from dataclasses import fields, replace
    from typing import Any

    from forecaster.model.spec import NOT_NETWORK, ModelSpec

    base = ModelSpec(kind="gru", window=10, units=(4, 4), features=("close", "open"))
    changed: dict[str, Any] = {
        "kind": "lstm",
        "window": 12,
        "horizon": 2,
        "units": (4, 5),
        "dropout": 0.1,
        "head": "point",
        "target": "open",
        "features": ("open", "close"),  # the same count: another order, one network
        "scaling": "minmax",
        "adjust": "none",
        "members": 2,
        "bias_penalty": 0.5,
    }
    names = {f.name for f in fields(ModelSpec)}
    assert replace(base, features=("close",)).network() != base.network()  # fewer columns: another input
    assert names == set(changed), "a new ModelSpec field: say here how it changes the spec"
    for name in names:
        other = replace(base, **{name: changed[name]})
        if name in NOT_NETWORK:
            assert other.network() == base.network(), name
        else:
            assert other.network() != base.network(), f"{name} changes the network but not its identity"
