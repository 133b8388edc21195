"""Compiled trainers, built once per process and network shape, reused by every fit.

Keras traces a fresh train function for every model it compiles, and TensorFlow keeps part of
what each trace built after the model is gone: measured here, about 20 MB per fine-tune of a
tiny LSTM, with `keras.backend.clear_session()` after each, so a daemon fine-tuning three models
a day grew by some 60 MB a day. A trainer is compiled once; each fit copies the weights in,
sets the optimizer's state (a fresh Adam's, or the one the parent's fit ended with), trains,
and copies the weights back out. The model handed in stays uncompiled: the Adam state travels
beside it as an `AdamState` (model/files puts it into the version's file).

Why a fine-tune continues its parent's Adam instead of starting fresh: measured with
`python -m bench.studies.optimizer` (bench/studies/README.md), the carried state was as good
or better in every comparison (five, three kinds, two seeds; MAE / naive 0.000-0.042 lower),
for files 2.5-2.9x the size.

How the trainer executes (FitOptions) is a property of the trainer, not of the stored model:
it changes the speed of a fit, not what the network computes, so it is kept out of ModelSpec
and out of the saved files (changing it retrains nothing).
"""

import threading
from collections.abc import Callable, Iterable
from dataclasses import astuple, dataclass
from typing import Any

import keras
import numpy as np
import tensorflow as tf

# An Adam's step count and moments, in the order of its variables (the learning rate left out).
AdamState = list[np.ndarray]


@dataclass(frozen=True)
class FitOptions:
    """How a trainer runs its steps; bench/studies/throughput.py measured each one.

    jit_compile: XLA-compile the train step (Keras leaves XLA off on CPU unless asked).
    unroll: unroll the recurrent layers' time loop in the trainer's graph instead of a
    while-loop; only the trainer's copy is unrolled, the stored network is not.

    (Keras' steps_per_execution is not one of them: every fit is a loop of `train_on_batch`
    calls, model/batches, and each call runs one step whatever it says.)
    """

    jit_compile: bool = False
    unroll: bool = False


# The product's choice, from bench/studies/throughput.py on a 2-core machine (bench/studies/README.md):
# XLA and unrolling off. Each costs a long first compile per shape and process (paid by every
# daily run), and unrolling made LSTM and GRU slower even warm.
DEFAULT_FIT = FitOptions()

# (thread, shape, loss, options) -> compiled clone. The thread: a Dask worker may run tasks on
# several threads, and a trainer's weights are only meaningful for the fit that set them. Not the
# learning rate: it is one of the optimizer's variables, set before every fit, so a retrain (1e-3)
# and a fine-tune (1e-4) share one trainer and its one traced train step (model/batches).
_TRAINERS: dict[tuple[Any, ...], keras.Model] = {}
_RECURRENT = (keras.layers.SimpleRNN, keras.layers.LSTM, keras.layers.GRU)


def shape_key(model: keras.Model) -> tuple[Any, ...] | None:
    """What makes two networks interchangeable for training: the input's shape (a recurrent
    layer's weights are the same for any window length, its traced step is not), layer types,
    dropout rates and weight shapes. None for a model of nested models (averaged members): not cached."""
    if any(isinstance(layer, keras.Model) for layer in model.layers):
        return None
    layers = tuple(
        (type(layer).__name__, getattr(layer, "rate", None), tuple(tuple(w.shape) for w in layer.weights))
        for layer in model.layers
    )
    return (tuple(model.input_shape), *layers)


def _loss_key(loss: keras.losses.Loss | str) -> str:
    # Two losses of one class with the same config (the pinball loss's bias penalty) train alike.
    return loss if isinstance(loss, str) else f"{type(loss).__name__}{sorted(loss.get_config().items())}"


def _compile(model: keras.Model, learning_rate: float, loss: keras.losses.Loss | str, options: FitOptions) -> None:
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss=loss, jit_compile=options.jit_compile
    )
    open_train(model, jit_compile=options.jit_compile)  # one trace of the step, not one per batch size


def _clone(model: keras.Model, options: FitOptions) -> keras.Model:
    """A copy of `model`'s graph; its recurrent layers unrolled where the options say so."""

    def layer_copy(layer: keras.layers.Layer) -> keras.layers.Layer:
        config = layer.get_config()
        if options.unroll and isinstance(layer, _RECURRENT):
            config = {**config, "unroll": True}
        return type(layer).from_config(config)

    return keras.models.clone_model(model, clone_function=layer_copy)


def trainer_for(
    model: keras.Model,
    learning_rate: float,
    loss: keras.losses.Loss | str = "mse",
    options: FitOptions = DEFAULT_FIT,
    adam: AdamState | None = None,
) -> keras.Model:
    """A compiled network of `model`'s shape holding `model`'s weights and the Adam state `adam`
    (step count and moments; a fresh Adam's when None), at `learning_rate`."""
    key = shape_key(model)
    if key is None:
        _compile(model, learning_rate, loss, options)
        trainer = model
    else:
        full = (threading.get_ident(), key, _loss_key(loss), astuple(options))
        trainer = _TRAINERS.get(full)
        if trainer is None:
            trainer = _TRAINERS[full] = _clone(model, options)
            _compile(trainer, learning_rate, loss, options)
        trainer.set_weights(model.get_weights())
        _copy_seed_states(model, trainer)
    _set_state(trainer.optimizer, trainer.trainable_variables, adam)
    trainer.optimizer.learning_rate.assign(learning_rate)  # one of its variables, set on every fit
    return trainer


def _copy_seed_states(model: keras.Model, trainer: keras.Model) -> None:
    """The dropout layers' random state, as `model` holds it, into the cached trainer.

    Each seeded dropout layer draws its masks from a state variable that advances with every
    training step. A cached trainer keeps that state from the fits before: without this copy, a
    fit with dropout would depend on what the process trained before it (a backfill's third
    retrain on what its first two did). The model's state is its construction's (forecasts
    never advance it), so the same seed gives the same fit in any process.
    """
    for mine, its in zip(_seed_states(trainer), _seed_states(model), strict=True):
        mine.assign(its)


def _seed_states(model: keras.Model) -> list[keras.Variable]:
    # Keras names each SeedGenerator's variable "seed_generator_state"; they are not weights.
    return [v for v in model.non_trainable_variables if v.path.endswith("seed_generator_state")]


def adam_state(trainer: keras.Model) -> AdamState:
    """The trainer's Adam state after a fit: what the next fine-tune of its result continues."""
    return [np.array(v.numpy()) for v in _state_variables(trainer.optimizer)]


def _state_variables(optimizer: keras.optimizers.Optimizer) -> list[keras.Variable]:
    # Everything but the learning rate, which each fit sets itself (a retrain's 1e-3 must not
    # become its fine-tune's rate).
    rate = optimizer.learning_rate.path
    return [v for v in optimizer.variables if v.path != rate]


def _set_state(optimizer: keras.optimizers.Optimizer, weights: list[keras.Variable], adam: AdamState | None) -> None:
    if not optimizer.built:  # a freshly compiled model (averaged members) has no moments yet
        optimizer.build(weights)
    variables = _state_variables(optimizer)
    if adam is not None and [v.shape for v in variables] != [a.shape for a in adam]:
        raise ValueError(f"an Adam state of {len(adam)} arrays does not fit this network's {len(variables)}")
    for i, variable in enumerate(variables):  # a fresh Adam: moments and step count zero
        variable.assign(np.zeros(variable.shape, dtype=variable.dtype) if adam is None else adam[i])


def forget_trainers() -> None:
    """Drop every cached trainer: the next fit of each shape compiles (and traces) afresh."""
    _TRAINERS.clear()


def weights_back(trainer: keras.Model, model: keras.Model) -> keras.Model:
    """`model` with the trainer's (best) weights: what is saved and forecast with."""
    if trainer is not model:
        model.set_weights(trainer.get_weights())
    return model


# One trace per network for any batch size: the train and predict functions Keras calls, traced
# with the batch dimension left open from their first call.
#
# Keras wraps each step in `tf.function(reduce_retracing=True)`: the first call traces for its
# exact batch size, and the first call of another size traces again, that time with the batch
# left open. Every fit meets two sizes (full batches and the last, shorter one), so every network
# paid two traces of its train step, and its resident network two of its predict function (the
# validation slice, then a fine-tune's or a forecast's). Measured here on the bundled data, the
# second train trace was 0.7 s of a cold rnn retrain and 1.5 s of a gru one. Installing these
# functions before the first call leaves one trace of each.
#
# They are what `train_on_batch` and `predict_on_batch` call (`Model.train_function`,
# `Model.predict_function`), so both methods keep everything else they do (building, resetting
# the loss tracker before each batch, turning the logs into floats). Each function takes its
# input shapes, less the batch, from its first call: a trainer and a resident network are cached
# per network shape (model/trainers, model/resident), so later calls never differ there.
Batch = tuple[Any, ...]  # (x, y, sample_weight) as train_on_batch hands it over; (x,) for predict


def open_train(model: keras.Model, *, jit_compile: bool = False) -> None:
    """Give the compiled `model` a train function traced once for every batch size (after
    `compile`, which resets it)."""
    model.train_function = OpenBatch(model.train_step, jit_compile=jit_compile)


def open_predict(model: keras.Model) -> None:
    """Give `model` a predict function traced once for every batch size."""
    model.predict_function = OpenBatch(model.predict_step)


class OpenBatch:
    """A step function as Keras calls it (with an iterable of one batch), traced at its first
    call for the shapes of that call less the batch dimension."""

    def __init__(self, step: Callable[[Batch], Any], *, jit_compile: bool = False) -> None:
        self._step = step
        self._jit_compile = jit_compile
        self._signature: list[tf.TensorSpec] = []
        self._traced: Any = None  # the tf.function, made at the first call (it needs the shapes)

    def __call__(self, batches: Iterable[Batch]) -> Any:
        # The sample weights are None here (no fit passes any): a tf.function takes tensors only.
        data = [t for t in next(iter(batches)) if t is not None]
        if self._traced is None:
            self._signature = [tf.TensorSpec((None, *t.shape[1:]), tf.as_dtype(t.dtype)) for t in data]
            self._traced = tf.function(
                lambda *tensors: self._step(tensors), input_signature=self._signature, jit_compile=self._jit_compile
            )
        # In the first call's dtypes (a forecast's float64 windows after a validation slice's
        # float32 ones): the network casts its inputs to float32 itself, so the values are the same.
        return self._traced(*(tf.cast(t, spec.dtype) for t, spec in zip(data, self._signature, strict=True)))

    @property
    def traces(self) -> int:
        """How many times the step has been traced (0 before the first call; 1 after, for good)."""
        return 0 if self._traced is None else int(self._traced.experimental_get_tracing_count())
