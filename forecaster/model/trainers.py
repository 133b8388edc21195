"""Compiled trainers, built once per process and network shape, reused by every fit.

Keras traces a fresh train function for every model it compiles, and TensorFlow keeps part of
what each trace built after the model is gone: measured here, about 20 MB per fine-tune of a
tiny LSTM, with `keras.backend.clear_session()` after each, so a daemon fine-tuning three models
a day grew by some 60 MB a day. A trainer is compiled once; each fit copies the weights in,
resets the optimizer to a fresh Adam's state, trains, and copies the weights back out. The
model handed in stays uncompiled, so its saved file carries no optimizer state (which no
fine-tune ever read: every fit starts from a fresh Adam).
"""

import threading
from typing import Any

import keras
import numpy as np

# (thread, shape, learning rate, loss) -> compiled clone. The thread: a Dask worker may run tasks on
# several threads, and a trainer's weights are only meaningful for the fit that set them.
_TRAINERS: dict[tuple[Any, ...], keras.Model] = {}


def shape_key(model: keras.Model) -> tuple[Any, ...] | None:
    """What makes two networks interchangeable for training: layer types, dropout rates and
    weight shapes. None for a model of nested models (averaged members): not cached."""
    if any(isinstance(layer, keras.Model) for layer in model.layers):
        return None
    return tuple(
        (type(layer).__name__, getattr(layer, "rate", None), tuple(tuple(w.shape) for w in layer.weights))
        for layer in model.layers
    )


def _loss_key(loss: keras.losses.Loss | str) -> str:
    # Two losses of one class with the same config (the pinball loss's bias penalty) train alike.
    return loss if isinstance(loss, str) else f"{type(loss).__name__}{sorted(loss.get_config().items())}"


def trainer_for(model: keras.Model, learning_rate: float, loss: keras.losses.Loss | str = "mse") -> keras.Model:
    """A compiled network of `model`'s shape holding `model`'s weights and a fresh Adam state."""
    key = shape_key(model)
    if key is None:
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss=loss)
        return model
    full = (threading.get_ident(), key, learning_rate, _loss_key(loss))
    trainer = _TRAINERS.get(full)
    if trainer is None:
        trainer = keras.models.clone_model(model)
        trainer.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss=loss)
        _TRAINERS[full] = trainer
    trainer.set_weights(model.get_weights())
    optimizer = trainer.optimizer
    for variable in optimizer.variables:  # moments and step count back to zero: a fresh Adam ...
        variable.assign(np.zeros(variable.shape, dtype=variable.dtype))
    optimizer.learning_rate.assign(learning_rate)  # ... whose learning rate is one of its variables
    return trainer


def weights_back(trainer: keras.Model, model: keras.Model) -> keras.Model:
    """`model` with the trainer's (best) weights: what is saved and forecast with."""
    if trainer is not model:
        model.set_weights(trainer.get_weights())
    return model
