"""The model vocabulary, written once: model kinds, baselines, targets, features, scalings and
the bounds of a spec. Settings, specs, the network factory and the CLI all read these."""

from collections.abc import Iterable
from typing import Final, Literal, cast, get_args

from forecaster.errors import ConfigError

ModelKind = Literal["rnn", "lstm", "gru"]
MODEL_KINDS: Final[tuple[ModelKind, ...]] = get_args(ModelKind)
BASELINES: Final[tuple[str, ...]] = ("naive", "ewma", "drift", "garch")
# The average of the networks' quantiles, stored as a model of its own (no version, no training).
ENSEMBLE: Final = "ensemble"
# The run item's action for a network a ticker has too few bars for yet (a young stock): no
# forecast, and no failure.
SKIPPED: Final = "skipped"
Target = Literal["close", "open"]
TARGETS: Final[tuple[Target, ...]] = get_args(Target)
Feature = Literal["open", "high", "low", "close", "volume"]
FEATURE_COLUMNS: Final[tuple[Feature, ...]] = get_args(Feature)
# quantile: the QUANTILE_LEVELS of the h-day log return, pinball loss, the median is the point;
# point: one output per horizon, MSE (the course's, and every version stored before the quantile head).
Head = Literal["quantile", "point"]
HEADS: Final[tuple[Head, ...]] = get_args(Head)
Scaling = Literal["logret", "relative", "minmax"]
SCALINGS: Final[tuple[Scaling, ...]] = get_args(Scaling)

WINDOW_MIN: Final = 2
HORIZON_MAX: Final = 20
MEMBERS_MAX: Final = 10


def model_kinds(names: Iterable[str]) -> tuple[ModelKind, ...]:
    """`names` as model kinds, each once, in order; one error naming every unknown one.

    The one check of a model kind: settings do it through the `ModelKind` type, and every
    other entry (the CLI's --models, a stored spec, a direct caller of the network factory) here.
    """
    given = [n.strip().lower() for n in names if n.strip()]
    unknown = [n for n in given if n not in MODEL_KINDS]
    if unknown or not given:
        shown = ", ".join(unknown) or "none"
        raise ConfigError(f"unknown model kind(s) {shown}; choose from {', '.join(MODEL_KINDS)}")
    return tuple(dict.fromkeys(cast(ModelKind, n) for n in given))
