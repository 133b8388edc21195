"""The default-settings search (a study, bench/studies/search): it reads nothing past the course's
training period, its folds are leak-free, its stage logic keeps an incumbent unless beaten by the
margin, and it resumes."""

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.studies.search import walkforward as search
from bench.studies.search.space import START, Candidate, Stage
from bench.studies.search.walkforward import SearchOptions, folds, run_search, search_bars
from forecaster.config import load_settings
from forecaster.course.experiment import holdout
from forecaster.model.spec import ModelSpec, TrainSpec

TINY_SPEC = ModelSpec(kind="gru", window=10, units=(4, 4), adjust="none")
TINY_TRAIN = TrainSpec(max_epochs=1, patience=1)


def test_search_reads_only_the_training_years_and_its_folds_end_there():
    bars = search_bars(load_settings())
    assert bars.index.max() == pd.Timestamp("2019-01-28") and len(bars) == 2126
    blocks = folds(bars, count=3, block=240)
    assert blocks == [(1406, 1646), (1646, 1886), (1886, 2126)]


def test_a_fold_forecast_never_sees_the_days_after_it():
    bars = search_bars(load_settings())
    start, end = 300, 360  # a short history keeps it quick; the fold logic is the same
    clean = search.evaluate(bars, TINY_SPEC, TINY_TRAIN, (start, end))
    # Poison everything from the 31st target on: the first 30 forecasts (and the training) must
    # not move, so the model part of the first 30 errors is unchanged.
    poisoned = bars.copy()
    poisoned.iloc[start + 30 :, :4] *= 100.0
    holdout_clean = holdout(bars.iloc[:start], bars.iloc[start - 10 : end], TINY_SPEC, TINY_TRAIN)
    holdout_poisoned = holdout(poisoned.iloc[:start], poisoned.iloc[start - 10 : end], TINY_SPEC, TINY_TRAIN)
    np.testing.assert_allclose(holdout_poisoned.yhat[:30], holdout_clean.yhat[:30])
    assert not np.allclose(holdout_poisoned.yhat[31:], holdout_clean.yhat[31:])
    # Alignment: the block's first target is row `start`, scored against the close before it.
    assert clean["n"] == 60 and clean["first_target"] == bars.index[start].date().isoformat()
    assert clean["last_target"] == bars.index[end - 1].date().isoformat()
    assert holdout_clean.actual[0] == bars["close"].iloc[start]
    assert holdout_clean.last_close[0] == bars["close"].iloc[start - 1]


def _fake_scores(table: dict[tuple[str, Any], float]) -> Any:
    def evaluate(bars: pd.DataFrame, spec: ModelSpec, train: TrainSpec, fold: tuple[int, int]) -> dict[str, Any]:
        value = 1.0
        for (name, setting), score in table.items():
            if getattr(spec, name, getattr(train, name, None)) == setting:
                value = score
        return {
            "first_target": bars.index[fold[0]].date().isoformat(),  # the fold's key in the results
            "last_target": bars.index[fold[1] - 1].date().isoformat(),
            "n": 1,
            "mae": value,
            "naive_mae": 1.0,
            "rel_mae": value,
            "hit_rate": 0.5,
            "epochs": 1,
            "seconds": 0.0,
        }

    return evaluate


def test_stages_keep_the_incumbent_unless_beaten_by_the_margin_and_resume(tmp_path: Path, monkeypatch):
    calls: list[int] = []
    fake = _fake_scores({("window", 20): 0.995, ("units", (16, 16)): 0.98})

    def counting(*args: Any) -> Any:
        calls.append(1)
        return fake(*args)

    monkeypatch.setattr(search, "evaluate", counting)
    stages = [
        Stage("window", [Candidate({"window": w}) for w in (60, 20)], margin=0.01),  # 0.005 better: kept at 60
        Stage("network", [Candidate({"units": u}) for u in ((80, 100), (16, 16))], margin=0.0),
    ]
    options = SearchOptions(out=tmp_path / "s.csv", kinds=("rnn",), folds=2, block=10, stages=stages)
    best, summary = run_search(load_settings(), options, report=lambda _: None)
    assert best.model["window"] == 60 and best.model["units"] == (16, 16)
    assert [round(r["rel_mae"], 3) for r in summary] == [1.0, 0.995, 1.0, 0.98]
    # The incumbent evaluated in both stages is the same settings: computed once (2 folds).
    assert len(calls) == 3 * 2
    # A second run reads every result back from the CSV and trains nothing.
    calls.clear()
    again, _ = run_search(load_settings(), options, report=lambda _: None)
    assert calls == [] and again == best


def test_the_search_starts_from_fixed_settings_not_todays_defaults(tmp_path: Path, monkeypatch):
    # Whatever the product's defaults become after a search, re-running it starts from START:
    # settings far from START must not reach the specs it evaluates.
    seen: list[tuple[ModelSpec, TrainSpec]] = []
    fake = _fake_scores({})

    def recording(bars: pd.DataFrame, spec: ModelSpec, train: TrainSpec, fold: tuple[int, int]) -> Any:
        seen.append((spec, train))
        return fake(bars, spec, train, fold)

    monkeypatch.setattr(search, "evaluate", recording)
    moved = load_settings(scaling="minmax", units=[4, 4], dropout=0.5, batch_size=64, learning_rate=0.01)
    options = SearchOptions(
        out=tmp_path / "s.csv", kinds=("rnn",), folds=1, block=10, stages=[Stage("only", [Candidate()], 0.0)]
    )
    run_search(moved, options, report=lambda _: None)
    ((spec, train),) = seen
    assert (spec.scaling, spec.units, spec.dropout) == (
        START.model["scaling"],
        START.model["units"],
        START.model["dropout"],
    )
    assert (train.batch_size, train.learning_rate) == (START.train["batch_size"], START.train["learning_rate"])
