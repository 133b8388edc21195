"""The course study's table: per-seed ratios, their mean, the tests per seed and the goal's notes."""

import json
import os
from pathlib import Path

import pandas as pd

import bench.studies.course as study


def _seed(tmp_path: Path, seed: int, ensemble: float, dm: float | None) -> None:
    rows = [
        {"ticker": study.TICKER, "model": model, "horizon": 1, "n": 240, "coverage_80": 0.8, "coverage_95": c95,
         "dm_naive": dm if model == "ensemble" else None, "dm_naive_p": 0.04, "dm_garch": None, "dm_garch_p": None,
         "kupiec80_p": 0.5, "kupiec95_p": 0.25}
        for model, c95 in (("ensemble", 0.95 + seed / 1000), ("naive", 0.95))
    ]  # fmt: skip
    data_dir = tmp_path / f"seed-{seed}"
    data_dir.mkdir()
    (data_dir / "evaluate.json").write_text(json.dumps(rows))
    (data_dir / "ratios.json").write_text(json.dumps({"naive": [ensemble, 1.0], "garch": [ensemble + 0.01, 1.01]}))


def _ratios(data_dir: Path, base: str) -> pd.DataFrame:
    ratios = json.loads((data_dir / "ratios.json").read_text())[base]
    return pd.DataFrame({"ticker": study.TICKER, "model": ["ensemble", "naive"], "ratio": ratios})


def test_the_table_gives_each_seed_its_ratio_the_mean_and_the_goal(tmp_path, monkeypatch):
    monkeypatch.setattr(study, "paired_ratios", _ratios)
    _seed(tmp_path, 7, 0.98, -2.5)
    _seed(tmp_path, 8, 0.99, None)  # DM undefined for this seed: left out of its cell
    section = study.course_table(tmp_path, [7, 8])
    ensemble, naive = section.rows
    assert ensemble[:6] == ["ensemble", 240, "0.9800 / 0.9900", "0.9850 ± 0.0071", "0.9900 / 1.0000", "0.9950 ± 0.0071"]
    assert ensemble[6:] == ["0.800", "0.957–0.958", "-2.50 (0.040)", "-", "0.50 / 0.50", "0.25 / 0.25"]
    assert naive[2] == "1.0000 / 1.0000" and naive[8] == "-"
    assert section.notes == ["ensemble <= garch: 2 of 2 seeds", "ensemble <= 0.985 x naive: 1 of 2 seeds"]


def test_the_offline_environment_drops_every_setting_and_the_token(monkeypatch):
    for key in [k for k in os.environ if k.startswith("FORECASTER_")]:
        monkeypatch.setenv(key, os.environ[key])  # restored after the test, though the study deletes it
    monkeypatch.setenv("FORECASTER_CSV_PATH", "/x")
    monkeypatch.setenv("TUSHARE_TOKEN", "t")
    monkeypatch.setenv("HOME_LIKE", "kept")
    study.offline_environment()
    assert "FORECASTER_CSV_PATH" not in os.environ and "TUSHARE_TOKEN" not in os.environ
    assert os.environ["HOME_LIKE"] == "kept"
