"""What a model is and how it is trained: the model vocabulary (kinds, baselines, targets,
features, scalings) and plain dataclasses, saved as JSON with every version.

Kept apart from settings so that a stored model version carries the exact spec it was built
with, whatever the settings say today (fine-tuning must reuse the parent's spec and scaler).
"""

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Final, Literal, cast, get_args

from forecaster.errors import ConfigError

# The model vocabulary, written once: model kinds, baselines, targets, features, scalings and
# the bounds of a spec. Settings, specs, the network factory and the CLI all read these.
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
# What the routine does with a network between two retrains: forecast with it as it is, or fine-tune
# it on the newest days first (docs/models.md measures both).
Between = Literal["predict", "finetune"]
BETWEEN: Final[tuple[Between, ...]] = get_args(Between)
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


# ModelSpec fields outside `ModelSpec.network()` (features count there, by number): the column
# forecast, the bar columns' names, the scaling, the price basis, members (averaged members load
# as a whole model, never into a resident) and the loss's penalty.
NOT_NETWORK = frozenset({"target", "features", "scaling", "adjust", "members", "bias_penalty"})


@dataclass(frozen=True)
class ModelSpec:
    kind: ModelKind
    window: int = 60  # trading days a forecast looks back
    horizon: int = 1  # trading days forecast after the as-of date
    target: Target = "close"  # the bar column forecast
    # Bar columns fed to the network, per day. All five: pooled over the development market's
    # training years they beat the close alone by 2 % of pinball loss (bench/studies/inputs).
    features: tuple[Feature, ...] = FEATURE_COLUMNS
    # Defaults chosen by the walk-forward search in the training years (bench/studies/search,
    # its search.json in git history): logret scaling and no dropout; everything else as it was.
    scaling: Scaling = "logret"  # logret (per-window, against the last close) | relative | minmax (the course's)
    units: tuple[int, int] = (80, 100)
    dropout: float = 0.0
    adjust: Literal["none", "qfq", "hfq"] = "qfq"  # price basis read for training and forecasting
    members: int = 1  # networks trained with seeds seed, seed + 1, ... and averaged into one model
    # quantile: the QUANTILE_LEVELS of the h-day log return, pinball loss, the median is the point;
    # point: one output per horizon, MSE (the course's, and every version stored before the quantile head).
    head: Head = "quantile"
    bias_penalty: float = 0.0  # x (batch mean of the median output)^2 added to the pinball loss

    def __post_init__(self) -> None:
        model_kinds([self.kind])  # a spec read back from JSON was never type-checked
        if self.target not in TARGETS:
            raise ConfigError(f"target must be one of {', '.join(TARGETS)}, not {self.target!r}")
        if self.scaling not in SCALINGS:
            raise ConfigError(f"scaling must be one of {', '.join(SCALINGS)}, not {self.scaling!r}")
        unknown = set(self.features) - set(FEATURE_COLUMNS)
        if unknown or self.target not in self.features:
            raise ConfigError(f"features must be among {FEATURE_COLUMNS} and include the target {self.target!r}")
        if self.head not in HEADS or self.bias_penalty < 0:
            raise ConfigError(f"head must be one of {', '.join(HEADS)} and bias_penalty >= 0")
        if not 1 <= self.members <= MEMBERS_MAX:
            raise ConfigError(f"members must be 1..{MEMBERS_MAX}, not {self.members}")
        if self.window < WINDOW_MIN or not 1 <= self.horizon <= HORIZON_MAX:
            raise ConfigError(
                f"window must be >= {WINDOW_MIN} and horizon 1..{HORIZON_MAX} (got {self.window}, {self.horizon})"
            )

    @property
    def target_index(self) -> int:
        return self.features.index(self.target)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    def network(self) -> tuple[Any, ...]:
        """The network's identity: what its shape and layers are built from. Two specs with one
        identity load into one resident network (model/resident); `NOT_NETWORK` lists the fields
        that change what the network is trained on or how, never what it is."""
        return (self.kind, self.window, len(self.features), self.units, self.dropout, self.horizon, self.head)

    @classmethod
    def from_json(cls, text: str) -> "ModelSpec":
        data: dict[str, Any] = json.loads(text)
        data["features"] = tuple(data["features"])
        data["units"] = tuple(data["units"])
        # Versions stored before the quantile head were point networks trained without a penalty.
        data.setdefault("head", "point")
        data.setdefault("bias_penalty", 0.0)
        return cls(**data)


@dataclass(frozen=True)
class TrainSpec:
    max_epochs: int = 30  # upper bound: early stopping on the validation slice ends most runs sooner
    batch_size: int = 128
    learning_rate: float = 1e-3
    patience: int = 4  # epochs without validation improvement before stopping
    val_fraction: float = 0.1  # the newest part of the training window, for early stopping only
    seed: int = 7
    finetune_epochs: int = 5
    finetune_learning_rate: float = 1e-4
    finetune_days: int = 250  # recent trading days a fine-tune trains on
    # Training windows drawn afresh each epoch (0: every window, every epoch): a large universe's
    # retrain costs this many windows an epoch, not all of them (measured in docs/models.md).
    epoch_windows: int = 4096

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)
