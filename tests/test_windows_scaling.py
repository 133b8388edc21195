"""Windows, splits and scalers: pure functions, pinned exactly."""

import numpy as np
import pytest

from forecaster.model import scaling
from forecaster.model.scaling import LogReturnScaler, MinMaxScaler, RelativeScaler, make_scaler, scaler_from_params
from forecaster.model.windows import last_window, make_windows, train_val_split


def test_window_and_label_alignment_is_pinned():
    rows = np.arange(10, dtype=float)  # value == row index makes alignment visible
    features = np.stack([rows, rows * 10], axis=1)  # (10, 2)
    x, y = make_windows(features, rows + 100, window=3, horizon=2)
    assert x.shape == (6, 3, 2) and y.shape == (6, 2)  # 10 - 3 - 2 + 1 samples
    # Sample 0 sees rows 0, 1, 2 and is labelled with the target at rows 3 and 4.
    assert x[0, :, 0].tolist() == [0, 1, 2] and x[0, :, 1].tolist() == [0, 10, 20]
    assert y[0].tolist() == [103, 104]
    # The last sample sees rows 5..7 and its labels are rows 8 and 9: the end of the data.
    assert x[-1, :, 0].tolist() == [5, 6, 7] and y[-1].tolist() == [108, 109]
    # Never does a window reach its own labels.
    assert all(x[i, -1, 0] < y[i, 0] - 100 for i in range(len(x)))


def test_too_short_history_gives_no_samples():
    x, y = make_windows(np.ones((4, 1)), np.ones(4), window=3, horizon=2)
    assert x.shape == (0, 3, 1) and y.shape == (0, 2)


def test_last_window_is_the_newest_rows():
    features = np.arange(20, dtype=float).reshape(10, 2)
    assert last_window(features, window=3).tolist() == [[[14, 15], [16, 17], [18, 19]]]
    with pytest.raises(ValueError, match="need 11 rows"):
        last_window(features, window=11)


@pytest.mark.parametrize("horizon", [1, 3])
def test_split_is_chronological_with_a_gap_for_overlapping_labels(horizon):
    first = np.arange(100)  # one ticker: sample i's labels are rows i .. i + h - 1 after its window
    split = train_val_split(first, first + horizon - 1, val_fraction=0.1)
    assert split.val.tolist() == list(range(90, 100))
    assert split.train.tolist() == list(range(90 - (horizon - 1)))
    # Train sample i has labels at rows i+w .. i+w+h-1; the last one must precede the first val label.
    last_train_label = split.train[-1] + horizon - 1
    assert last_train_label < split.val[0]


def test_split_of_pooled_tickers_cuts_at_one_day_for_all():
    # Two tickers, the second listed 50 days later: the held-out days are the newest for both.
    days = np.arange("2020-01-01", "2020-05-10", dtype="datetime64[D]")
    first = np.concatenate([days, days[50:]])
    split = train_val_split(first, first + 2, val_fraction=0.1)
    cut = first[split.val].min()
    assert (first[split.val] >= cut).all() and (first[split.train] + 2 < cut).all()
    assert set(split.val) | set(split.train) < set(range(len(first)))  # the 2-day gap, per ticker
    assert len(split.val) == 2 * (days[-1] - cut + 1).astype(int)  # every ticker's newest days


def windows_with_a_poisoned_future():
    rng = np.random.default_rng(0)
    prices = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 300)))
    prices[250:] *= 50  # validation/test period: a level no training window has seen
    x, y = make_windows(prices[:, None], prices, window=20, horizon=1)
    split = train_val_split(np.arange(len(x)), np.arange(len(x)), val_fraction=0.25)
    return prices, x, y, split


def test_minmax_scaler_is_fit_on_training_windows_only():
    prices, x, y, split = windows_with_a_poisoned_future()
    scaler = MinMaxScaler().fit(x[split.train], y[split.train], target_index=0)
    # Training windows and labels cover rows 0 .. train_end + window - 1 only.
    seen = prices[: split.train[-1] + 1 + 20]
    assert scaler.low[0] == seen.min() and scaler.high[0] == seen.max()
    assert scaler.high[0] < prices[250:].min()
    # So the poisoned future maps far above 1, as the course's scaler does with 2019-2020.
    assert scaler.transform_x(x[split.val]).max() > 10


def test_relative_scaler_is_fit_on_training_windows_only_and_is_scale_free():
    _, x, y, split = windows_with_a_poisoned_future()
    fitted = RelativeScaler().fit(x[split.train], y[split.train], target_index=0)
    refit_with_future = RelativeScaler().fit(x, y, target_index=0)
    assert fitted.spread_y != refit_with_future.spread_y  # the future would have changed it
    # Multiplying every price by 50 changes nothing after per-window normalisation.
    assert np.allclose(fitted.transform_x(x[:5] * 50), fitted.transform_x(x[:5]))
    assert np.allclose(fitted.transform_x(x[:, -1:, :]), 0.0)  # each window ends at 0


@pytest.mark.parametrize("kind", ["minmax", "relative", "logret"])
def test_scalers_invert_labels_and_round_trip_their_parameters(kind):
    _, x, y, split = windows_with_a_poisoned_future()
    scaler = make_scaler(kind).fit(x[split.train], y[split.train], target_index=0)
    scaled = scaler.transform_y(x, y)
    assert np.allclose(scaler.inverse_y(x, scaled), y)
    restored = scaler_from_params(scaler.params())
    assert np.allclose(restored.transform_x(x), scaler.transform_x(x))
    assert np.allclose(restored.inverse_y(x, scaled), y)


def test_logret_scaler_anchors_on_the_last_close_so_zero_means_the_naive_forecast():
    rng = np.random.default_rng(3)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, 200)))
    opens = close * np.exp(rng.normal(0, 0.01, 200))
    volume = rng.integers(1_000, 5_000, 200).astype(float)
    volume[50] = 0.0  # a suspended day must not give -inf
    features = np.column_stack([opens, close, volume])  # ("open", "close", "volume")
    x, y = make_windows(features, opens, window=20, horizon=1)  # target: the next open
    made = make_scaler("logret", ("open", "close", "volume"))
    # The anchor is found by name: the close column, and volume is compared with itself.
    assert isinstance(made, LogReturnScaler) and (made.anchor_index, made.volume_index) == (1, 2)
    scaler = made.fit(x, y, target_index=0)
    zero = np.zeros((len(x), 1))
    # A network output of 0 is the last close, not the last open, whatever the target.
    assert np.allclose(scaler.inverse_y(x, zero)[:, 0], x[:, -1, 1])
    scaled = scaler.transform_x(x)
    assert np.all(np.isfinite(scaled))
    assert np.allclose(scaled[:, -1, 1], 0.0) and np.allclose(scaled[:, -1, 2], 0.0)
    # The newest open keeps its gap to the close (the relative scaler zeroes it).
    expected = np.log(x[:, -1, 0] / x[:, -1, 1]) / scaler.spread_x[0]
    assert np.allclose(scaled[:, -1, 0], expected) and not np.allclose(expected, 0.0)
    # Scale-free: prices x 50 change nothing (volume untouched).
    bigger = x.copy()
    bigger[:, :, :2] *= 50
    assert np.allclose(scaler.transform_x(bigger), scaled)


def test_unknown_scaling_is_refused():
    with pytest.raises(ValueError, match="unknown scaling"):
        make_scaler("zscore")


def test_training_rows_are_scaled_a_chunk_at_a_time_to_what_the_whole_array_gives(monkeypatch):
    rng = np.random.default_rng(5)
    x = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, size=(50, 8, 2)), axis=1))  # 50 windows of two price columns
    y = x[:, -1:, 1] * np.exp(rng.normal(0, 0.01, size=(50, 1)))
    scaler = make_scaler("logret", ("open", "close")).fit(x, y, 1)
    rows = np.arange(3, 47)
    monkeypatch.setattr(scaling, "SCALE_CHUNK", 7)  # 44 rows: six full chunks and a part
    got_x, got_y = scaling.scaled_rows(scaler, x, y, rows)
    assert got_x.dtype == np.float32 and got_y.dtype == np.float32
    np.testing.assert_array_equal(got_x, scaler.transform_x(x[rows]).astype(np.float32))
    np.testing.assert_array_equal(got_y, scaler.transform_y(x[rows], y[rows]).astype(np.float32))
    none_x, none_y = scaling.scaled_rows(scaler, x, y, rows[:0])
    assert none_x.shape == (0, 8, 2) and none_y.shape == (0, 1)


def test_the_logret_spreads_computed_a_chunk_at_a_time_equal_numpys_std(monkeypatch) -> None:
    rng = np.random.default_rng(5)
    x = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, (23, 10, 3)), axis=1))  # 23 windows, 10 days, 3 inputs
    whole = scaling.LogReturnScaler()
    expected = whole._log_ratio(x).reshape(-1, 3).std(axis=0)
    monkeypatch.setattr(scaling, "SCALE_CHUNK", 4)  # six chunks, the last of three windows
    chunked = scaling.LogReturnScaler().fit(x, x[:, -1, :1], target_index=0)
    assert chunked.spread_x == pytest.approx(expected, rel=1e-12)
