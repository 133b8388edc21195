"""What a model is and how it is trained: plain dataclasses, saved as JSON with every version.

Kept apart from settings so that a stored model version carries the exact spec it was built
with, whatever the settings say today (fine-tuning must reuse the parent's spec and scaler).
"""

import json
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from forecaster.errors import ConfigError
from forecaster.model.scaling import SCALINGS

if TYPE_CHECKING:
    from forecaster.config import Settings

MODEL_KINDS = ("rnn", "lstm", "gru")
BASELINES = ("naive", "drift")
TARGETS = ("close", "open")
HEADS = ("quantile", "point")
FEATURE_COLUMNS = ("open", "high", "low", "close", "volume")


@dataclass(frozen=True)
class ModelSpec:
    kind: str  # rnn | lstm | gru
    window: int = 60  # trading days a forecast looks back
    horizon: int = 1  # trading days forecast after the as-of date
    target: str = "close"  # the bar column forecast
    features: tuple[str, ...] = ("close",)  # bar columns fed to the network, per day
    # Defaults chosen by the walk-forward search in the training years (bench/search.py,
    # bench/results/search.json): logret scaling and no dropout; everything else as it was.
    scaling: str = "logret"  # logret (per-window, against the last close) | relative | minmax (the course's)
    units: tuple[int, int] = (80, 100)
    dropout: float = 0.0
    adjust: Literal["none", "qfq", "hfq"] = "qfq"  # price basis read for training and forecasting
    members: int = 1  # networks trained with seeds seed, seed + 1, ... and averaged into one model
    # quantile: the QUANTILE_LEVELS of the h-day log return, pinball loss, the median is the point;
    # point: one output per horizon, MSE (the course's; and every version stored before issue 17).
    head: str = "quantile"
    bias_penalty: float = 0.0  # x (batch mean of the median output)^2 added to the pinball loss

    def __post_init__(self) -> None:
        if self.kind not in MODEL_KINDS:
            raise ConfigError(f"unknown model kind {self.kind!r} (choose from {', '.join(MODEL_KINDS)})")
        if self.target not in TARGETS:
            raise ConfigError(f"target must be one of {', '.join(TARGETS)}, not {self.target!r}")
        if self.scaling not in SCALINGS:
            raise ConfigError(f"scaling must be one of {', '.join(SCALINGS)}, not {self.scaling!r}")
        unknown = set(self.features) - set(FEATURE_COLUMNS)
        if unknown or self.target not in self.features:
            raise ConfigError(f"features must be among {FEATURE_COLUMNS} and include the target {self.target!r}")
        if self.head not in HEADS or self.bias_penalty < 0:
            raise ConfigError(f"head must be one of {', '.join(HEADS)} and bias_penalty >= 0")
        if not 1 <= self.members <= 10:
            raise ConfigError(f"members must be 1..10, not {self.members}")
        if self.window < 2 or not 1 <= self.horizon <= 20:
            raise ConfigError(f"window must be >= 2 and horizon 1..20 (got {self.window}, {self.horizon})")

    @property
    def target_index(self) -> int:
        return self.features.index(self.target)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

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

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def model_spec(settings: "Settings", kind: str) -> ModelSpec:
    return ModelSpec(
        kind=kind,
        window=settings.window,
        horizon=settings.horizon,
        target=settings.target,
        features=tuple(settings.features),
        scaling=settings.scaling,
        units=(settings.units[0], settings.units[1]),
        dropout=settings.dropout,
        members=settings.members,
    )


def train_spec(settings: "Settings", seed: int | None = None) -> TrainSpec:
    spec = TrainSpec(
        max_epochs=settings.max_epochs,
        batch_size=settings.batch_size,
        learning_rate=settings.learning_rate,
        patience=settings.patience,
        val_fraction=settings.val_fraction,
        seed=settings.seed,
        finetune_epochs=settings.finetune_epochs,
        finetune_learning_rate=settings.finetune_learning_rate,
        finetune_days=settings.finetune_days,
    )
    return spec if seed is None else replace(spec, seed=seed)
