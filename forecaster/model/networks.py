"""Network factory: the only place Keras layers are assembled.

Two families live here: the stock forecasters (`build_model`, the course's two stacked recurrent
layers with dropout, ending in a point or a quantile head) and the course's letter-prediction
toys (`build_letter_model`), which the smoke test trains with Keras' own `fit`: a quick check that
Keras, TensorFlow, this factory and the model files work on this machine, not of the forecasters'
training loop (model/training). Compiling (optimizer, loss) belongs to whoever trains the model,
not here.
"""

from collections.abc import Iterator
from itertools import count
from typing import Any

import keras
import numpy as np
from keras import ops

from forecaster.errors import ConfigError
from forecaster.model.intervals import MEDIAN, QUANTILE_LEVELS
from forecaster.model.spec import ModelKind, model_kinds


def build_model(
    kind: ModelKind,
    *,
    window: int,
    n_features: int,
    units: tuple[int, int] = (80, 100),
    dropout: float = 0.2,
    outputs: int = 1,
    quantiles: bool = False,
    seed: int | None = None,
) -> keras.Model:
    """The course's stock forecaster: recurrent → dropout → recurrent → dropout → dense.

    Input (batch, window, n_features); output (batch, outputs), linear (a regression head), or
    with `quantiles` (batch, outputs, levels): the prices' quantiles at QUANTILE_LEVELS (in the
    scaler's units), non-decreasing along the last axis.
    Every initializer and dropout layer gets its own seed, derived from `seed`; None: from one
    draw of NumPy's global generator, which `training.seed_everything` seeds. Never from Python's
    global `random` (Keras' default): a Dask worker's own threads draw from it while a task
    builds its network, so seeds taken from it differ from run to run there.
    """
    # `kind` usually comes from settings or the CLI, so the Literal alone does not guard it;
    # fail with a user-facing error before any layer (or TensorFlow state) is created.
    model_kinds([kind])
    if window < 1 or n_features < 1 or outputs < 1 or min(units) < 1:
        raise ConfigError(
            f"model sizes must be positive (window={window}, n_features={n_features}, units={units}, outputs={outputs})"
        )
    if not 0.0 <= dropout < 1.0:
        raise ConfigError(f"dropout must be in [0, 1), got {dropout}")
    layer = _recurrent_layer(kind)
    seeds = count(first_seed() if seed is None else seed)
    inputs = keras.Input(shape=(window, n_features), name="window")  # (batch, window, features)
    x = layer(units[0], return_sequences=True, name=f"{kind}_1", **_seeded(seeds))(inputs)  # (batch, window, u0)
    x = keras.layers.Dropout(dropout, name="dropout_1", seed=next(seeds))(x)
    x = layer(units[1], name=f"{kind}_2", **_seeded(seeds))(x)  # (batch, u1): last step only
    x = keras.layers.Dropout(dropout, name="dropout_2", seed=next(seeds))(x)
    dense_init = keras.initializers.GlorotUniform(seed=next(seeds))
    if not quantiles:
        outputs_ = keras.layers.Dense(outputs, name="forecast", kernel_initializer=dense_init)(x)  # (batch, outputs)
        return keras.Model(inputs, outputs_, name=f"{kind}_forecaster")
    levels = len(QUANTILE_LEVELS)
    raw = keras.layers.Dense(outputs * levels, name="raw_quantiles", kernel_initializer=dense_init)(x)
    raw = keras.layers.Reshape((outputs, levels), name="by_horizon")(raw)  # (batch, outputs, levels)
    head = QuantileHead(name="quantiles")(raw)  # (batch, outputs, levels), non-crossing
    return keras.Model(inputs, head, name=f"{kind}_forecaster")


def first_seed(seed: int | None = None) -> int:
    """A network's first seed (its other seeds count up from it): one draw of NumPy's global
    generator; with `seed`, the first draw of a generator of its own seeded with it, which is the
    number the global one gives first after `np.random.seed(seed)` (what training.train_new uses)."""
    if seed is None:
        return int(np.random.randint(1, 2**31 - 1))
    return int(np.random.RandomState(seed).randint(1, 2**31 - 1))


def _seeded(seeds: Iterator[int]) -> dict[str, object]:
    """A recurrent layer's usual initializers (and its cell's dropout), each with its own seed."""
    return {
        "kernel_initializer": keras.initializers.GlorotUniform(seed=next(seeds)),
        "recurrent_initializer": keras.initializers.Orthogonal(seed=next(seeds)),
        "seed": next(seeds),
    }


def _recurrent_layer(kind: ModelKind) -> type[keras.layers.Layer]:
    layers: dict[str, type[keras.layers.Layer]] = {
        "rnn": keras.layers.SimpleRNN,
        "lstm": keras.layers.LSTM,
        "gru": keras.layers.GRU,
    }
    return layers[kind]


def build_letter_model(*, vocab: int, steps: int, units: int, embedding_dim: int | None = None) -> keras.Model:
    """A course letter predictor: `steps` letters in, a softmax over `vocab` letters out.

    Without `embedding_dim` the input is one-hot, (batch, steps, vocab) floats; with it the input
    is letter indices, (batch, steps) ints, looked up in an Embedding(vocab, embedding_dim).
    """
    if vocab < 2 or steps < 1 or units < 1 or (embedding_dim is not None and embedding_dim < 1):
        raise ConfigError(
            f"letter model sizes must be positive (vocab={vocab}, steps={steps}, units={units}, "
            f"embedding_dim={embedding_dim})"
        )
    if embedding_dim is None:
        inputs = keras.Input(shape=(steps, vocab), name="one_hot")  # (batch, steps, vocab)
        x = inputs
    else:
        inputs = keras.Input(shape=(steps,), dtype="int32", name="letters")  # (batch, steps)
        x = keras.layers.Embedding(vocab, embedding_dim, name="embedding")(inputs)  # (batch, steps, dim)
    x = keras.layers.SimpleRNN(units, name="rnn")(x)  # (batch, units)
    probs = keras.layers.Dense(vocab, activation="softmax", name="next_letter")(x)  # (batch, vocab)
    encoding = "onehot" if embedding_dim is None else "embedding"
    return keras.Model(inputs, probs, name=f"letters_{encoding}_{steps}to1")


# The quantile head and the pinball loss the networks train with (Keras; shapes in comments).
#
# The head turns a dense layer's raw outputs into quantiles that cannot cross, whatever the
# weights: the median is one raw output, and every other level sits a softplus (> 0) step above
# or below its neighbour nearer the median, so each row is increasing by construction.
#
# The loss is the pinball (quantile) loss averaged over the levels and horizons, plus an optional
# penalty on the batch mean of the median: in the scaled log-return space an output of 0 is the
# naive forecast, and the penalty pulls the networks' average lean (the 2010-2019 drift they
# learn) towards it without touching their window-to-window variation.
@keras.saving.register_keras_serializable(package="forecaster")
class QuantileHead(keras.layers.Layer):  # type: ignore[misc]
    """(batch, horizon, levels) raw values -> (batch, horizon, levels) non-decreasing quantiles."""

    def __init__(self, median: int = MEDIAN, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.median = median

    def call(self, raw: Any) -> Any:
        m = self.median
        centre = raw[..., m : m + 1]  # (batch, horizon, 1)
        up = ops.cumsum(ops.softplus(raw[..., m + 1 :]), axis=-1)  # (batch, horizon, levels above)
        # Steps below the median accumulate outwards: reverse, cumulate, reverse back.
        down = ops.flip(ops.cumsum(ops.flip(ops.softplus(raw[..., :m]), axis=-1), axis=-1), axis=-1)
        return ops.concatenate([centre - down, centre, centre + up], axis=-1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "median": self.median}


@keras.saving.register_keras_serializable(package="forecaster")
class PinballLoss(keras.losses.Loss):  # type: ignore[misc]
    """Mean pinball loss of (batch, horizon, levels) quantiles against (batch, horizon) labels,
    plus `bias_penalty` x (batch mean of the median)^2."""

    def __init__(self, levels: tuple[float, ...] = QUANTILE_LEVELS, bias_penalty: float = 0.0, **kwargs: Any) -> None:
        super().__init__(name=kwargs.pop("name", "pinball"), **kwargs)
        self.levels = tuple(levels)
        self.bias_penalty = bias_penalty

    def call(self, y_true: Any, y_pred: Any) -> Any:
        tau = ops.convert_to_tensor(self.levels, dtype=y_pred.dtype)  # (levels,)
        diff = ops.expand_dims(ops.cast(y_true, y_pred.dtype), -1) - y_pred  # (batch, horizon, levels)
        loss = ops.mean(ops.maximum(tau * diff, (tau - 1.0) * diff), axis=(-2, -1))  # (batch,)
        if self.bias_penalty:
            lean = ops.mean(y_pred[..., self.levels.index(0.5)])  # scalar: the batch's average median
            loss = loss + self.bias_penalty * ops.square(lean)
        return loss

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "levels": list(self.levels), "bias_penalty": self.bias_penalty}
