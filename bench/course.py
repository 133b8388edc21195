"""The course's stock script, re-implemented in plain Keras 3: the baseline the training
benchmark compares our training against.

The PKU TensorFlow course (class 6) predicts Moutai's next *open* from the 60 opens before it:
train on the first 2426 - 300 rows, test on the last 300 (240 targets), sklearn MinMaxScaler fit
on the training rows, recurrent(80, sequences) → Dropout(0.2) → recurrent(100) → Dropout(0.2) →
Dense(1), Adam(1e-3), MSE, batch 64, 50 epochs, the test windows as validation data every epoch,
and the final weights predict the test windows.

Deliberately *not* built on forecaster's networks, scalers or training: this is the course, so
the comparison is with the course. Changes, each one forced by Keras 3:
- `tf.random.set_seed(7)` becomes `keras.utils.set_random_seed(7)`, called at the same point
  (after the shuffles, so their order is the course's): Keras 3 draws initializer seeds from
  Python's `random`, which `tf.random.set_seed` no longer reaches, so the course's call alone
  would leave the weights unseeded.
- The checkpoint file ends in `.weights.h5`: Keras 3 requires it with `save_weights_only`.
- `tf.keras.layers.X` is `keras.layers.X`: Keras 3 is its own package.
Left out, since they only produce output: the progress bars (verbose=0), `model.summary()`,
the weights text dump and the loss / prediction plots. The course's checkpoint keeps the epoch
with the best *test* loss; as a fresh run of the course does, the prediction uses the final
weights (the checkpoint is written, and paid for, but not read).
"""

import time
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.preprocessing import MinMaxScaler

FloatArray = npt.NDArray[np.float64]

COURSE_ROWS = 2426  # the course hard-codes the file's length: iloc[0:2426 - 300]
TEST_ROWS = 300
WINDOW = 60
UNITS = (80, 100)
DROPOUT = 0.2
LEARNING_RATE = 1e-3
BATCH_SIZE = 64
EPOCHS = 50
SEED = 7
LAYERS: dict[str, type[keras.layers.Layer]] = {
    "rnn": keras.layers.SimpleRNN,
    "lstm": keras.layers.LSTM,
    "gru": keras.layers.GRU,
}


@dataclass(frozen=True)
class CourseData:
    x_train: FloatArray  # (2066, 60, 1) scaled opens, shuffled
    y_train: FloatArray  # (2066,) the scaled open after each window, shuffled alike
    x_test: FloatArray  # (240, 60, 1), in time order
    y_test: FloatArray  # (240,)
    scaler: MinMaxScaler  # fit on the 2126 training opens


@dataclass(frozen=True)
class CourseRun:
    kind: str
    seed: int
    epochs: int
    train_samples: int  # windows per epoch
    wall_s: float  # CSV read to trained model: data, build, compile, fit
    fit_s: float  # model.fit alone (validation on the test windows included, as the course does)
    predicted: FloatArray  # (240,) next-open forecasts in price units, final weights
    actual: FloatArray  # (240,) the opens they forecast


def course_data(csv: Path, seed: int = SEED) -> CourseData:
    """The course's data preparation, step by step, shuffles and seeds included."""
    maotai = pd.read_csv(csv)
    if len(maotai) != COURSE_ROWS:
        raise ValueError(f"{csv} has {len(maotai)} rows; the course's split needs its {COURSE_ROWS}")
    training_set = maotai.iloc[0 : COURSE_ROWS - TEST_ROWS][["open"]].to_numpy()  # (2126, 1)
    test_set = maotai.iloc[COURSE_ROWS - TEST_ROWS :][["open"]].to_numpy()  # (300, 1)
    scaler = MinMaxScaler(feature_range=(0, 1))
    training_scaled = scaler.fit_transform(training_set)
    test_scaled = scaler.transform(test_set)
    x_train, y_train = _windows(training_scaled)
    x_test, y_test = _windows(test_scaled)
    # The course shuffles samples and labels with the same seed, so they stay paired.
    np.random.seed(seed)
    np.random.shuffle(x_train)
    np.random.seed(seed)
    np.random.shuffle(y_train)
    keras.utils.set_random_seed(seed)  # the course: tf.random.set_seed(7) (see the module doc)
    return CourseData(
        x_train=np.reshape(np.array(x_train), (len(x_train), WINDOW, 1)),
        y_train=np.array(y_train),
        x_test=np.reshape(np.array(x_test), (len(x_test), WINDOW, 1)),
        y_test=np.array(y_test),
        scaler=scaler,
    )


def _windows(scaled: FloatArray) -> tuple[list[FloatArray], list[float]]:
    """The course's loop: window i is rows [i - 60, i), its label row i."""
    x: list[FloatArray] = []
    y: list[float] = []
    for i in range(WINDOW, len(scaled)):
        x.append(scaled[i - WINDOW : i, 0])
        y.append(float(scaled[i, 0]))
    return x, y


def build_course_model(kind: str) -> keras.Sequential:
    """The course's network; like the course, its input shape is set by the first fit."""
    layer = LAYERS[kind]
    return keras.Sequential(
        [
            layer(UNITS[0], return_sequences=True),
            keras.layers.Dropout(DROPOUT),
            layer(UNITS[1]),
            keras.layers.Dropout(DROPOUT),
            keras.layers.Dense(1),
        ]
    )


def run_course(kind: str, csv: Path, workdir: Path, *, epochs: int = EPOCHS, seed: int = SEED) -> CourseRun:
    """One run of the course's script for `kind` (rnn, lstm, gru), timed."""
    started = time.perf_counter()
    data = course_data(csv, seed)
    model = build_course_model(kind)
    model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE), loss="mean_squared_error")
    checkpoint = keras.callbacks.ModelCheckpoint(
        filepath=str(workdir / "stock.weights.h5"), save_weights_only=True, save_best_only=True, monitor="val_loss"
    )
    fit_started = time.perf_counter()
    model.fit(
        data.x_train,
        data.y_train,
        batch_size=BATCH_SIZE,
        epochs=epochs,
        validation_data=(data.x_test, data.y_test),
        validation_freq=1,
        callbacks=[checkpoint],
        verbose=0,
    )
    finished = time.perf_counter()
    predicted = data.scaler.inverse_transform(model.predict(data.x_test, verbose=0))  # (240, 1)
    actual = data.scaler.inverse_transform(data.y_test.reshape(-1, 1))  # the course: test_set[60:]
    return CourseRun(
        kind=kind,
        seed=seed,
        epochs=epochs,
        train_samples=len(data.x_train),
        wall_s=finished - started,
        fit_s=finished - fit_started,
        predicted=np.asarray(predicted[:, 0], dtype=np.float64),
        actual=np.asarray(actual[:, 0], dtype=np.float64),
    )
