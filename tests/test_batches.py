"""The fine-tune's loop of train_on_batch calls (model/batches.py) keeps `fit`'s early stop and
loss bookkeeping: losses over the right slices, patience, best weights restored, seeded shuffles."""

import keras
import numpy as np
import pytest

from forecaster.model.batches import Loop, fit_by_batches
from forecaster.model.networks import build_model
from forecaster.model.trainers import trainer_for


class _Progress(keras.callbacks.Callback):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.epochs: list[int] = []
        self.ended = False

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        self.epochs.append(epoch)

    def on_train_end(self, logs: dict[str, float] | None = None) -> None:
        self.ended = True


def _net(seed: int = 1) -> keras.Model:
    return build_model("gru", window=6, n_features=1, units=(3, 3), dropout=0.0, seed=seed)


def _loss_of(model: keras.Model, x: np.ndarray, y: np.ndarray) -> float:
    return float(keras.losses.MeanSquaredError()(y, np.asarray(model.predict_on_batch(x))))


@pytest.mark.slow
def test_at_learning_rate_zero_the_losses_are_those_of_the_whole_slices_and_patience_ends_it():
    rng = np.random.default_rng(0)
    x_tr, y_tr = rng.normal(size=(21, 6, 1)), rng.normal(size=(21, 1))  # batches of 8, 8 and 5
    x_va, y_va = rng.normal(size=(7, 6, 1)), rng.normal(size=(7, 1))
    model = _net()
    trainer = trainer_for(model, 0.0, keras.losses.MeanSquaredError())
    progress = _Progress()
    loop = Loop(epochs=10, batch_size=8, patience=3, seed=5)
    mse = keras.losses.MeanSquaredError()
    history = fit_by_batches(trainer, model, (x_tr, y_tr), (x_va, y_va), mse, loop, progress)
    # Nothing moves, so no epoch after the first improves: it stops after 1 + patience epochs.
    assert len(history.loss) == len(history.val_loss) == 4
    assert progress.epochs == [0, 1, 2, 3] and progress.ended
    # The epoch's loss weighs each batch by its size: the loss over all 21 windows, in any order.
    np.testing.assert_allclose(history.loss, _loss_of(model, x_tr, y_tr), rtol=1e-5)
    np.testing.assert_allclose(history.val_loss, _loss_of(model, x_va, y_va), rtol=1e-5)


@pytest.mark.slow
def test_the_best_epochs_weights_are_restored_when_validation_gets_worse():
    rng = np.random.default_rng(1)
    x_tr = rng.normal(size=(32, 6, 1))
    x_va = rng.normal(size=(8, 6, 1))
    # Training pulls every output towards 3, validation wants 0: each epoch is worse than the last.
    y_tr, y_va = np.full((32, 1), 3.0), np.zeros((8, 1))
    net = _net(2)
    trainer = trainer_for(net, 5e-2, keras.losses.MeanSquaredError())
    loop = Loop(epochs=20, batch_size=8, patience=2, seed=5)
    mse = keras.losses.MeanSquaredError()
    history = fit_by_batches(trainer, net, (x_tr, y_tr), (x_va, y_va), mse, loop, _Progress())
    assert len(history.val_loss) == 3 and history.val_loss[0] < history.val_loss[1] < history.val_loss[2]
    np.testing.assert_allclose(_loss_of(trainer, x_va, y_va), history.val_loss[0], rtol=1e-5)


def test_the_same_seed_trains_the_same_weights_and_another_seed_shuffles_otherwise():
    rng = np.random.default_rng(2)
    train = rng.normal(size=(40, 6, 1)), rng.normal(size=(40, 1))
    val = rng.normal(size=(8, 6, 1)), rng.normal(size=(8, 1))

    def weights(seed: int) -> list[np.ndarray]:
        net = _net(3)
        trainer = trainer_for(net, 1e-2, keras.losses.MeanSquaredError())
        loop = Loop(epochs=2, batch_size=8, patience=5, seed=seed)
        fit_by_batches(trainer, net, train, val, keras.losses.MeanSquaredError(), loop, _Progress())
        return [np.asarray(w) for w in trainer.get_weights()]

    first, again, other = weights(7), weights(7), weights(8)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not all(np.allclose(a, b) for a, b in zip(first, other, strict=True))


@pytest.mark.slow
def test_a_fit_with_dropout_does_not_depend_on_the_fits_before_it_in_the_process():
    # The cached trainer's dropout layers draw masks from a state that every step advances; each
    # fit starts it from the network's own, so a backfill's later retrains do not depend on the
    # earlier ones.
    rng = np.random.default_rng(3)
    train = rng.normal(size=(24, 6, 1)), rng.normal(size=(24, 1))
    val = rng.normal(size=(8, 6, 1)), rng.normal(size=(8, 1))

    def weights(net_seed: int) -> list[np.ndarray]:
        net = build_model("gru", window=6, n_features=1, units=(3, 3), dropout=0.5, seed=net_seed)
        trainer = trainer_for(net, 1e-2, keras.losses.MeanSquaredError())
        loop = Loop(epochs=2, batch_size=8, patience=5, seed=1)
        fit_by_batches(trainer, net, train, val, keras.losses.MeanSquaredError(), loop, _Progress())
        return [np.asarray(w) for w in trainer.get_weights()]

    first = weights(4)
    between = weights(5)  # the same trainer, another network: its dropout state moves on
    again = weights(4)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not all(np.allclose(a, b) for a, b in zip(first, between, strict=True))
