"""Resident networks: one built network per network shape (and thread) in the process, which
every version of that shape is loaded into and every forecast of that shape runs through.

Calling a Keras model eagerly runs its recurrent layers' 60 steps as Python-driven ops: measured
here, 0.65–0.96 s for one window, against 8–30 ms through the traced predict function. But a
predict function is traced per model object, and loading a version builds a new object (another
0.1–0.25 s, and new TensorFlow state each time). So a version's weights are loaded into the
resident network of its shape instead, whose predict function is traced once per process: a
daily run's fine-tunes and a backfill's 240 days of forecasts each pay one trace per shape.

A resident's weights are those of whichever version was loaded or forecast last. It is only
used inside one task at a time (the key includes the thread, for Dask workers that run tasks on
several threads), and a task returns its model as file bytes, never the object.
"""

import hashlib
import threading
from typing import Any

import keras
import numpy as np

from forecaster.model.files import model_from_bytes, weights_from_bytes
from forecaster.model.networks import build_model
from forecaster.model.spec import ModelSpec
from forecaster.model.trainers import open_predict, shape_key
from forecaster.model.windows import FloatArray

_NETS: dict[tuple[Any, ...], keras.Model] = {}  # (thread, shape) -> the resident network
_LOADED: dict[int, tuple[str, str]] = {}  # id(resident) -> (sha256 of the file loaded, weights' digest)
_BY_SPEC: dict[tuple[Any, ...], keras.Model] = {}  # (thread, spec's architecture) -> the same networks


def network_for(spec: ModelSpec, seed: int | None = None, n_features: int | None = None) -> keras.Model:
    """A fresh network of the shape `spec` describes (one member of it); `n_features` inputs per
    day instead of `len(spec.features)`, for windows with inputs of a study's own."""
    return build_model(
        spec.kind,
        window=spec.window,
        n_features=len(spec.features) if n_features is None else n_features,
        units=spec.units,
        dropout=spec.dropout,
        outputs=spec.horizon,
        quantiles=spec.head == "quantile",
        seed=seed,
    )


def resident(model: keras.Model) -> keras.Model:
    """The resident network of `model`'s shape, holding `model`'s weights (`model` itself for a
    model of averaged members, whose shape is not cached)."""
    key = shape_key(model)
    if key is None:
        return model
    full = (threading.get_ident(), key)
    net = _NETS.get(full)
    if net is None:
        net = _make_resident(full, keras.models.clone_model(model))
    if net is not model:
        net.set_weights(model.get_weights())
    return net


def load_version(spec: ModelSpec, data: bytes, sha256: str | None, *, name: str) -> keras.Model:
    """The resident network of `spec`'s shape with the weights of a version's `.keras` file
    (sha256 checked; a damaged file or one of another shape raises ModelFileError)."""
    if spec.members > 1:  # averaged members nest models: such a file is loaded whole
        return model_from_bytes(data, sha256, name=name)
    net = _resident_of(spec)
    loaded = _LOADED.get(id(net))
    # A backfill forecasts with one version day after day: when the network still holds exactly
    # the weights this file gave it (nothing trained or forecast through it since), it is not read
    # again. The check compares the weights themselves, so no other path has to report changes.
    if sha256 is not None and loaded is not None and loaded == (sha256, _fingerprint(net)):
        return net
    weights_from_bytes(net, data, sha256, name=name)
    _LOADED[id(net)] = (sha256 or "", _fingerprint(net))
    return net


def _fingerprint(net: keras.Model) -> str:
    digest = hashlib.blake2b(digest_size=16)
    for w in net.get_weights():  # ~0.1 M floats: about a millisecond
        digest.update(np.ascontiguousarray(w).tobytes())
    return digest.hexdigest()


def _resident_of(spec: ModelSpec) -> keras.Model:
    thread = threading.get_ident()
    arch = (thread, *spec.network())
    net = _BY_SPEC.get(arch)
    if net is None:  # built once per shape: its weights are always overwritten before use
        skeleton = network_for(spec, seed=0)
        full = (thread, shape_key(skeleton))
        net = _NETS.get(full)
        _BY_SPEC[arch] = net = _make_resident(full, skeleton) if net is None else net
    return net


def _make_resident(key: tuple[Any, ...], net: keras.Model) -> keras.Model:
    """`net` as the resident network of its shape: its predict function traced once (model/trainers)."""
    open_predict(net)
    _NETS[key] = net
    return net


# Windows one forward pass takes: a large universe's validation slice in one batch held gigabytes of
# activations (73,000 windows of a 300-ticker universe: 6 GB more for one GRU pass).
FORWARD_CHUNK = 16_384


def forward(model: keras.Model, x: FloatArray) -> FloatArray:
    """The network's raw output for windows `x` (already scaled), through the resident network's
    traced predict function, at most FORWARD_CHUNK windows a call: (samples, horizon[, levels])
    as float64."""
    net = resident(model)
    if len(x) <= FORWARD_CHUNK:
        return np.asarray(net.predict_on_batch(x), dtype=np.float64)
    parts = [net.predict_on_batch(x[start : start + FORWARD_CHUNK]) for start in range(0, len(x), FORWARD_CHUNK)]
    return np.asarray(np.concatenate(parts), dtype=np.float64)


def forget_residents() -> None:
    """Drop every resident network: the next forecast of each shape builds and traces afresh."""
    _NETS.clear()
    _BY_SPEC.clear()
    _LOADED.clear()
