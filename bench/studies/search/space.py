"""What the defaults search tries: candidates (overrides of the model and training settings),
the fixed start point, and the stages in the order they are searched (see `walkforward`)."""

from dataclasses import dataclass, field
from typing import Any

OHLCV = ("open", "high", "low", "close", "volume")


@dataclass(frozen=True)
class Candidate:
    """Overrides of the model and training settings; empty means the product's defaults."""

    model: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)

    def name(self, relative_to: "Candidate | None" = None) -> str:
        """The overrides as k=v pairs; with `relative_to`, only those that differ from it."""
        items = {**self.model, **self.train}
        base = {**relative_to.model, **relative_to.train} if relative_to else {}
        shown = {k: v for k, v in items.items() if k not in base or base[k] != v}
        return ",".join(f"{k}={_text(v)}" for k, v in sorted(shown.items())) or "start"

    def merged(self, other: "Candidate") -> "Candidate":
        return Candidate({**self.model, **other.model}, {**self.train, **other.train})


# Where the search starts: the settings the product shipped before it (fixed here, not read from
# today's defaults, so that re-running the search retraces the same path).
START = Candidate(
    model={
        "scaling": "relative",
        "target": "close",
        "features": ("close",),
        "units": (80, 100),
        "dropout": 0.2,
        "window": 60,
        "members": 1,
    },
    train={"max_epochs": 30, "batch_size": 128, "learning_rate": 1e-3, "patience": 4, "val_fraction": 0.1, "seed": 7},
)


@dataclass(frozen=True)
class Stage:
    name: str
    variants: list[Candidate]
    margin: float  # a challenger must beat the incumbent's mean rel_mae by more than this


def stages() -> list[Stage]:
    """What plausibly matters, in the order it is searched (representation first: it moves the
    score most; network and training details next; the costlier choices last).

    Sized for a 2-core machine (about 120 trainings): the normalisations are compared on the
    one-column close input, and the richer inputs and the open target with the per-window
    normalisations only (a global MinMax is 3-10x naive's error on either target in a trial
    run, and extra columns do not fix extrapolation).
    """
    inputs = [("close", OHLCV), ("open", ("open", "close")), ("open", OHLCV)]
    return [
        Stage(
            "representation",
            [Candidate({"scaling": s}) for s in ("relative", "minmax", "logret")]
            + [
                Candidate({"scaling": s, "target": t, "features": f}) for s in ("relative", "logret") for t, f in inputs
            ],
            margin=0.0,
        ),
        Stage(
            "network",
            [Candidate({"units": u, "dropout": d}) for u, d in (((80, 100), 0.2), ((80, 100), 0.0), ((32, 32), 0.2))],
            margin=0.0,
        ),
        Stage(
            "training",
            [
                Candidate(train={"learning_rate": lr, "batch_size": b})
                for lr, b in ((1e-3, 128), (1e-3, 64), (3e-4, 128))
            ],
            margin=0.0,
        ),
        # 60 days is the product's window; another only if clearly better.
        Stage("window", [Candidate({"window": w}) for w in (60, 20)], margin=0.01),
        # Averaging k networks costs k times the training: only for a real gain.
        Stage("members", [Candidate({"members": k}) for k in (1, 3)], margin=0.003),
    ]


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "/".join(map(str, value))
    return str(value)
