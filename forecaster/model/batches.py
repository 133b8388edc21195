"""Every fit as a plain loop of `train_on_batch` calls, with Keras' early stop.

Why not `Model.fit`:
- Speed, for a fine-tune: 5 epochs of two batches (about 225 training windows) and one
  validation batch. Through `fit` each epoch also builds a tf.data iterator for training and
  another for validation and runs the traced multi-step loop around two steps; profiled here,
  that machinery cost about twice the steps themselves (a GRU fine-tune 7.7-8.0 s through `fit`,
  2.3-3.0 s as the same steps in this loop, in one process on a loaded machine).
- Memory, for a retrain too: `fit` traces its own function around the step (a while-loop over a
  tf.data iterator), `train_on_batch` calls the step's function directly, so a process that
  both retrains and fine-tunes through `fit` and this loop holds two traced functions per kind.
  The daemon's one-off growth at its first fine-tune was that second trace: 863 -> 940 MB at
  run 2 with retrains through `fit`, +22 MB with them through this loop (memory benchmark).
  A retrain through the loop is no slower (a gru's 6 epochs: 8 % faster warm, the same cold),
  and the course split's accuracy stayed within its seeds' noise (course benchmark).

What it keeps from `fit` + `EarlyStopping(patience, restore_best_weights=True)`: the epoch's
training loss is the batch-size-weighted mean of its batches' losses (each taken before that
batch's update), the validation loss is the loss over the whole validation slice, an epoch
improves when its validation loss is strictly lower, training stops after `patience` epochs
without improvement, and the best epoch's weights are restored. What differs: the shuffle order
comes from a NumPy generator seeded with the fit's seed instead of TensorFlow's.
"""

import sys
from dataclasses import dataclass, field
from typing import Protocol

import keras
import numpy as np
import numpy.typing as npt
from tqdm import tqdm

from forecaster.model.resident import forward, resident
from forecaster.model.windows import FloatArray

Float32Array = npt.NDArray[np.float32]


@dataclass
class History:
    """Per-epoch losses, as `fit`'s `History.history["loss"]` and `["val_loss"]`."""

    loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)


class Progress(Protocol):
    """What the loop reports to (training.EpochProgress draws it as a bar), by Keras' callback names."""

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None: ...

    def on_train_end(self, logs: dict[str, float] | None = None) -> None: ...


@dataclass(frozen=True)
class Loop:
    """How many epochs, how big a batch, how patient, and the seed of the shuffle."""

    epochs: int
    batch_size: int
    patience: int
    seed: int
    sample: int | None = None  # windows drawn afresh each epoch from a larger training set; None: all


def fit_by_batches(
    trainer: keras.Model,
    network: keras.Model,
    train: tuple[Float32Array | FloatArray, Float32Array | FloatArray],  # cast to float32 here
    val: tuple[FloatArray, FloatArray],
    loss: keras.losses.Loss,
    loop: Loop,
    progress: Progress,
) -> History:
    """Train `trainer` (compiled) in place; it ends holding the best epoch's weights. `network` is
    the uncompiled network it trains for; its resident network forecasts the validation slice."""
    x_tr, y_tr = (np.asarray(a, dtype=np.float32) for a in train)  # one dtype: one trace of the step
    x_va, y_va = val
    rng = np.random.default_rng(loop.seed)
    history = History()
    # Validation runs through the resident network of the shape (model/resident), given the
    # trainer's weights: its predict function is traced once per process already; the trainer's
    # own would be one more trace per kind. It is taken from `network`, not the trainer: a
    # resident cloned from the compiled trainer would be compiled too (Keras' clone_model copies
    # the compile), with an Adam of its own that every later load of a version's weights warns about.
    net = resident(network)
    best_weights, wait = trainer.get_weights(), 0
    for epoch in range(loop.epochs):
        order = rng.permutation(len(x_tr))[: loop.sample]  # a large universe: a fresh sample each epoch
        history.loss.append(_epoch(trainer, x_tr, y_tr, order, loop.batch_size))
        weights = trainer.get_weights()
        net.set_weights(weights)
        history.val_loss.append(float(loss(y_va, forward(net, x_va))))
        progress.on_epoch_end(epoch, {"loss": history.loss[-1], "val_loss": history.val_loss[-1]})
        wait += 1
        if history.val_loss[-1] < min(history.val_loss[:-1], default=np.inf):
            best_weights, wait = weights, 0
        elif wait >= loop.patience:
            break
    trainer.set_weights(best_weights)
    progress.on_train_end()
    return history


def _epoch(
    trainer: keras.Model, x: Float32Array, y: Float32Array, order: npt.NDArray[np.int64], batch_size: int
) -> float:
    """One pass over the shuffled windows; the batch-size-weighted mean of the batches' losses."""
    total = 0.0
    for start in range(0, len(order), batch_size):
        batch = order[start : start + batch_size]
        total += float(trainer.train_on_batch(x[batch], y[batch])) * len(batch)
    return total / len(order)


class EpochProgress:
    """One progress bar per training run (epochs, losses), drawn only on a terminal."""

    def __init__(self, epochs: int, label: str) -> None:
        self._bar = tqdm(
            total=epochs, desc=label or "train", unit="epoch", disable=not sys.stderr.isatty(), leave=False
        )

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        self._bar.update(1)
        if logs:
            self._bar.set_postfix(loss=f"{logs.get('loss', 0):.4f}", val=f"{logs.get('val_loss', 0):.4f}")

    def on_train_end(self, logs: dict[str, float] | None = None) -> None:
        self._bar.close()
