"""Retrain or fine-tune? One small, pure decision per (ticker, model, as-of)."""

from dataclasses import dataclass
from datetime import date
from typing import Literal

from forecaster.market.calendar import trading_days
from forecaster.model.spec import Between

Action = Literal["retrain", "finetune", "reuse"]
Force = Literal["retrain", "finetune"] | None


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: str


def decide(
    *,
    as_of: date,
    version_as_of: date | None,
    spec_changed: bool,
    force: Force,
    retrain_every: int,
    recent_ratio: float | None,
    drift_threshold: float,
    between: Between,
    retrained_as_of: date | None = None,
) -> Decision:
    """The rules, in order:

    1. no model yet -> retrain; forced retrain -> retrain;
    2. a version already trained for this very day -> reuse it (re-running a day is idempotent);
    3. the model's spec differs from the settings (window, target, units, ...) -> retrain,
       because fine-tuning cannot change an architecture;
    4. forced fine-tune -> fine-tune;
    5. the model is `retrain_every` trading days old or more -> retrain;
    6. its MAE over recent matured forecasts is above `drift_threshold` x naive's -> retrain;
    7. otherwise, with between="predict" (the `between_retrains` default), forecast with the
       current version as it is; with between="finetune", fine-tune it on the newest days first.
    """
    if version_as_of is None:
        return Decision("retrain", "no model yet")
    if force == "retrain":
        return Decision("retrain", "--retrain given")
    if version_as_of == as_of:
        return Decision("reuse", f"already trained with data up to {as_of}")
    if spec_changed:
        return Decision("retrain", "model settings changed")
    if force == "finetune":
        return Decision("finetune", "--finetune given")
    # Trading days since it was trained from scratch: a line fine-tuned every day is as old as its
    # last retrain, not as its newest version (else the rule would never fire between retrains).
    age = len(trading_days(retrained_as_of or version_as_of, as_of)) - 1
    if age >= retrain_every:
        return Decision("retrain", f"model is {age} trading days old (retrain every {retrain_every})")
    if recent_ratio is not None and recent_ratio > drift_threshold:
        return Decision("retrain", f"recent MAE is {recent_ratio:.2f}x naive's (threshold {drift_threshold})")
    if between == "predict":
        return Decision("reuse", f"predicting with the version of {version_as_of} ({age} trading day(s) old)")
    return Decision("finetune", f"model is {age} trading day(s) old")
