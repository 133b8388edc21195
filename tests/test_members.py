"""The averaged ("members") model the defaults search could choose: one model averaging several
seeded networks, saved and loaded as one file; counts out of range refused."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from forecaster.config import load_settings
from forecaster.course.experiment import load_course_bars
from forecaster.course.letters import save_model
from forecaster.model.files import load_model
from forecaster.model.spec import ModelSpec, TrainSpec
from forecaster.model.training import train_new

TINY_SPEC = ModelSpec(kind="gru", window=10, units=(4, 4), adjust="none", features=("close",))
TINY_TRAIN = TrainSpec(max_epochs=1, patience=1)


@pytest.mark.slow
def test_members_average_into_one_model_that_saves_and_loads(tmp_path: Path):
    bars = load_course_bars(load_settings()).iloc[:300]
    spec = replace(TINY_SPEC, members=3, scaling="logret")
    fitted = train_new(bars, spec, TINY_TRAIN)
    x = fitted.scaler.transform_x(np.stack([bars[["close"]].to_numpy()[i : i + 10] for i in range(5)]))
    members = [layer for layer in fitted.model.layers if layer.name.startswith("gru_forecaster_")]
    assert len(members) == 3
    outputs = [np.asarray(m(x, training=False)) for m in members]
    assert not np.allclose(outputs[0], outputs[1])  # different seeds, different members
    np.testing.assert_allclose(np.asarray(fitted.model(x, training=False)), np.mean(outputs, axis=0), rtol=1e-5)
    path = tmp_path / "m.keras"
    digest = save_model(fitted.model, path)
    loaded = load_model(path, digest)
    np.testing.assert_allclose(
        np.asarray(loaded(x, training=False)), np.asarray(fitted.model(x, training=False)), rtol=1e-6
    )


@pytest.mark.parametrize("members", [0, 11])
def test_member_counts_out_of_range_are_refused(members):
    from forecaster.errors import ConfigError

    with pytest.raises(ConfigError, match="members"):
        replace(TINY_SPEC, members=members)
