"""The course experiment's interval columns: networks, their ensemble and the three baselines."""

import math

import numpy as np
import pytest

from forecaster.course.experiment import COURSE_TRAIN_ROWS, course_experiment, load_course_bars
from forecaster.model.baselines import naive_quantiles
from forecaster.scoring.intervals import bounds, interval_scores, misses
from forecaster.scoring.significance import kupiec
from tests.helpers import tiny_settings

pytestmark = pytest.mark.slow  # its module fixture trains the course split once


FIELDS = ("coverage_80", "coverage_95", "width_80", "winkler_80", "pinball", "rel_pinball")


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    settings = tiny_settings(tmp_path_factory.mktemp("course"))
    return {r["model"]: r for r in course_experiment(settings, kinds=("rnn", "gru"), course_settings=False, seeds=1)}


def test_every_model_has_the_interval_columns(rows):
    assert list(rows) == ["rnn", "gru", "ensemble", "naive", "ewma", "drift", "garch"]
    for row in rows.values():
        assert all(isinstance(row[f], float) and math.isfinite(row[f]) for f in FIELDS), row
        assert 0.0 <= row["coverage_80"] <= row["coverage_95"] <= 1.0
        assert row["winkler_80"] >= row["width_80"] > 0
    assert rows["naive"]["rel_pinball"] == 1.0
    assert rows["ewma"]["mae"] == rows["naive"]["mae"]  # the naive point with its own band


def test_the_ensemble_averages_the_networks_quantiles(rows):
    # The pinball loss is convex in the quantiles: the average's is at most the members' average.
    assert rows["ensemble"]["pinball"] <= (rows["rnn"]["pinball"] + rows["gru"]["pinball"]) / 2 + 1e-9
    assert rows["ensemble"]["n"] == rows["rnn"]["n"] == 300 - 10  # the test rows after the first window


def _naive_band(tmp_path) -> tuple[np.ndarray, np.ndarray]:
    """Naive's quantiles recomputed target by target from the bars up to each as-of date (the row
    before the target; window 10 in the tiny settings), and the actuals."""
    bars = load_course_bars(tiny_settings(tmp_path))
    first = COURSE_TRAIN_ROWS + 10
    quantiles = np.vstack([naive_quantiles(bars.iloc[: first + i], 1)[0] for i in range(len(bars) - first)])
    return quantiles, bars["close"].to_numpy()[first:]


def test_naive_band_of_each_target_sees_only_its_past(rows, tmp_path):
    # The same scores as the experiment's naive row.
    expected = interval_scores(*_naive_band(tmp_path))
    for name, value in expected.items():
        assert rows["naive"][name] == pytest.approx(value, rel=1e-12)


def test_every_model_has_dm_against_naive_and_garch_and_kupiec(rows, tmp_path):
    quantiles, actual = _naive_band(tmp_path)
    for level in (0.80, 0.95):
        expected = kupiec(misses(*bounds(quantiles, level), actual), level).p_value
        assert rows["naive"][f"kupiec{round(level * 100)}_p"] == pytest.approx(expected)
    assert math.isnan(rows["naive"]["dm_naive"]) and math.isnan(rows["garch"]["dm_garch_p"])  # against itself
    for model in ("rnn", "gru", "ensemble", "ewma", "drift"):
        assert all(0.0 <= rows[model][f] <= 1.0 for f in ("dm_naive_p", "dm_garch_p", "kupiec80_p")), model
    # a lower pinball loss than naive's on the same targets is a negative statistic
    assert np.sign(rows["ewma"]["dm_naive"]) == np.sign(rows["ewma"]["rel_pinball"] - 1.0)
