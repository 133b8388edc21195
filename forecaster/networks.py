"""Network factory: the only place Keras layers are assembled.

Two families live here: the stock forecasters (`build_model`, the course's two stacked recurrent
layers with dropout) and the course's letter-prediction toys (`build_letter_model`), which the
smoke test trains as a quick health check of the whole training stack. Compiling (optimizer,
loss) belongs to whoever trains the model, not here.
"""

from typing import Literal, get_args

import keras

from forecaster.errors import ConfigError

RecurrentKind = Literal["rnn", "lstm", "gru"]
RECURRENT_KINDS: tuple[str, ...] = get_args(RecurrentKind)


def build_model(
    kind: RecurrentKind,
    *,
    window: int,
    n_features: int,
    units: tuple[int, int] = (80, 100),
    dropout: float = 0.2,
    outputs: int = 1,
) -> keras.Model:
    """The course's stock forecaster: recurrent → dropout → recurrent → dropout → dense.

    Input (batch, window, n_features); output (batch, outputs), linear (a regression head).
    """
    # `kind` usually comes from settings or the CLI, so the Literal alone does not guard it;
    # fail with a user-facing error before any layer (or TensorFlow state) is created.
    if kind not in RECURRENT_KINDS:
        raise ConfigError(f"unknown model kind {kind!r} (choose one of {', '.join(RECURRENT_KINDS)})")
    if window < 1 or n_features < 1 or outputs < 1 or min(units) < 1:
        raise ConfigError(
            f"model sizes must be positive (window={window}, n_features={n_features}, units={units}, outputs={outputs})"
        )
    if not 0.0 <= dropout < 1.0:
        raise ConfigError(f"dropout must be in [0, 1), got {dropout}")
    layer = _recurrent_layer(kind)
    inputs = keras.Input(shape=(window, n_features), name="window")  # (batch, window, features)
    x = layer(units[0], return_sequences=True, name=f"{kind}_1")(inputs)  # (batch, window, u0)
    x = keras.layers.Dropout(dropout, name="dropout_1")(x)
    x = layer(units[1], name=f"{kind}_2")(x)  # (batch, u1): last step only
    x = keras.layers.Dropout(dropout, name="dropout_2")(x)
    outputs_ = keras.layers.Dense(outputs, name="forecast")(x)  # (batch, outputs)
    return keras.Model(inputs, outputs_, name=f"{kind}_forecaster")


def _recurrent_layer(kind: RecurrentKind) -> type[keras.layers.Layer]:
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
