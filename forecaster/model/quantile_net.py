"""The quantile head and the pinball loss the networks train with (Keras; shapes in comments).

The head turns a dense layer's raw outputs into quantiles that cannot cross, whatever the
weights: the median is one raw output, and every other level sits a softplus (> 0) step above
or below its neighbour nearer the median, so each row is increasing by construction.

The loss is the pinball (quantile) loss averaged over the levels and horizons, plus an optional
penalty on the batch mean of the median: in the scaled log-return space an output of 0 is the
naive forecast, and the penalty pulls the networks' average lean (the 2010-2019 drift they
learn) towards it without touching their window-to-window variation.
"""

from typing import Any

import keras
from keras import ops

from forecaster.model.quantiles import MEDIAN, QUANTILE_LEVELS


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
