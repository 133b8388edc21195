"""The retrain / fine-tune / reuse policy."""

from datetime import date
from typing import Any

import pytest

from forecaster.routine.policy import Decision, decide

AS_OF = date(2020, 4, 24)


def choose(**overrides: Any) -> Decision:
    args: dict[str, Any] = {
        "as_of": AS_OF,
        "version_as_of": date(2020, 4, 20),
        "spec_changed": False,
        "force": None,
        "retrain_every": 20,
        "recent_ratio": None,
        "drift_threshold": 1.5,
        "between": "finetune",
    }
    args.update(overrides)
    return decide(**args)


@pytest.mark.parametrize(
    ("overrides", "action", "reason"),
    [
        ({"version_as_of": None}, "retrain", "no model yet"),
        ({"version_as_of": None, "force": "finetune"}, "retrain", "no model yet"),
        ({"force": "retrain"}, "retrain", "--retrain"),
        ({"version_as_of": AS_OF}, "reuse", "already trained"),
        ({"version_as_of": AS_OF, "force": "retrain"}, "retrain", "--retrain"),
        ({"spec_changed": True}, "retrain", "settings changed"),
        ({"spec_changed": True, "force": "finetune"}, "retrain", "settings changed"),
        ({"force": "finetune", "version_as_of": date(2019, 1, 2)}, "finetune", "--finetune"),
        ({}, "finetune", "4 trading day(s) old"),  # 04-20 -> 04-24: Mon -> Fri
        ({"version_as_of": date(2020, 3, 26)}, "retrain", "20 trading days old"),
        ({"version_as_of": date(2020, 3, 27)}, "finetune", "19 trading day(s) old"),
        # Fine-tuned every day since a retrain 20 trading days ago: as old as that retrain.
        ({"version_as_of": date(2020, 4, 23), "retrained_as_of": date(2020, 3, 26)}, "retrain", "20 trading days old"),
        ({"version_as_of": date(2020, 4, 23), "retrained_as_of": date(2020, 3, 27)}, "finetune", "19 trading day(s)"),
        ({"recent_ratio": 1.6}, "retrain", "1.60x naive"),
        ({"recent_ratio": 1.4}, "finetune", "old"),
    ],
)
def test_rules(overrides, action, reason):
    decision = choose(**overrides)
    assert decision.action == action
    assert reason in decision.reason


def test_predict_between_retrains_reuses_the_current_version():
    decision = choose(between="predict")
    assert decision.action == "reuse" and "version of 2020-04-20" in decision.reason
    assert choose(between="predict", version_as_of=date(2020, 3, 26)).action == "retrain"
    assert choose(between="predict", force="finetune").action == "finetune"
