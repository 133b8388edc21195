"""One trace per network for any batch size: the train and predict functions Keras calls, traced
with the batch dimension left open from their first call.

Keras wraps each step in `tf.function(reduce_retracing=True)`: the first call traces for its
exact batch size, and the first call of another size traces again, that time with the batch
left open. Every fit meets two sizes (full batches and the last, shorter one), so every network
paid two traces of its train step, and its resident network two of its predict function (the
validation slice, then a fine-tune's or a forecast's). Measured here on the bundled data, the
second train trace was 0.7 s of a cold rnn retrain and 1.5 s of a gru one. Installing these
functions before the first call leaves one trace of each.

They are what `train_on_batch` and `predict_on_batch` call (`Model.train_function`,
`Model.predict_function`), so both methods keep everything else they do (building, resetting
the loss tracker before each batch, turning the logs into floats). Each function takes its
input shapes, less the batch, from its first call: a trainer and a resident network are cached
per network shape (model/trainers, model/resident), so later calls never differ there.
"""

from collections.abc import Callable, Iterable
from typing import Any

import keras
import tensorflow as tf

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
