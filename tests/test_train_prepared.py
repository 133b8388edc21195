"""train_new on windows already made, with a scaler of the caller's own: the network takes as many
inputs per day as the windows have (a study appends inputs of its own to the product's windows)."""

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from forecaster.model.scaling import LogReturnScaler
from forecaster.model.spec import ModelSpec, TrainSpec
from forecaster.model.training import prepare, train_new
from forecaster.model.windows import FloatArray, make_windows

SPEC = ModelSpec(kind="gru", window=10, units=(4, 4), adjust="none", features=("close",))
TRAIN = TrainSpec(max_epochs=1, patience=1)


class _Appended:
    """The product's logret scaler on the close column; the appended column as it is."""

    kind = "appended"

    def __init__(self) -> None:
        self.inner = LogReturnScaler(anchor_index=0)
        self.fitted_on = 0

    def fit(self, x: FloatArray, y: FloatArray, target_index: int) -> "_Appended":
        self.inner.fit(x[..., :1], y, target_index)
        self.fitted_on = len(x)
        return self

    def transform_x(self, x: FloatArray) -> FloatArray:
        return np.concatenate([self.inner.transform_x(x[..., :1]), x[..., 1:]], axis=-1)

    def transform_y(self, x: FloatArray, y: FloatArray) -> FloatArray:
        return self.inner.transform_y(x[..., :1], y)

    def inverse_y(self, x: FloatArray, y_scaled: FloatArray) -> FloatArray:
        return self.inner.inverse_y(x[..., :1], y_scaled)

    def params(self) -> dict[str, Any]:
        return {"kind": self.kind}


@pytest.mark.slow
def test_prepared_windows_with_an_appended_input_train_a_network_that_wide():
    days = pd.bdate_range("2020-01-01", periods=120)
    close = 10 * np.exp(np.cumsum(np.random.default_rng(1).normal(0, 0.01, len(days))))
    data = prepare(pd.DataFrame({"close": close}, index=days), SPEC)
    extra = np.ones((*data.x.shape[:2], 1))  # (samples, window, 1): a constant input per day
    wider = replace(data, x=np.concatenate([data.x, extra], axis=-1))
    scaler = _Appended()
    fitted = train_new(wider, SPEC, TRAIN, scaler=scaler)
    assert fitted.model.input_shape == (None, 10, 2)
    assert fitted.scaler is scaler
    # Fit on the training part only: the newest tenth of the windows is the validation slice.
    assert scaler.fitted_on == len(data.x) - round(len(data.x) * TRAIN.val_fraction)
    assert len(fitted.val_actual) == round(len(data.x) * TRAIN.val_fraction)
    assert train_new(data, SPEC, TRAIN).model.input_shape == (None, 10, 1)  # the product's own windows


def test_prepare_is_each_tickers_windows_in_code_order_a_short_history_left_out():
    days = pd.bdate_range("2024-01-01", periods=40)
    rng = np.random.default_rng(6)
    histories = {
        code: pd.DataFrame({"close": 10 + rng.normal(0, 1, n).cumsum()}, index=days[:n])
        for code, n in (("B.SH", 30), ("A.SZ", 40), ("C.SH", 8))  # C.SH: fewer bars than a window
    }
    data = prepare(histories, SPEC)
    expected = [make_windows(histories[c][["close"]].to_numpy(), histories[c]["close"].to_numpy(), window=10,
                             horizon=SPEC.horizon) for c in ("A.SZ", "B.SH")]  # fmt: skip
    assert np.array_equal(data.x, np.concatenate([x for x, _ in expected]))
    assert np.array_equal(data.y, np.concatenate([y for _, y in expected]))
    assert list(dict.fromkeys(data.tickers)) == ["A.SZ", "B.SH"] and len(data.tickers) == len(data.x)
