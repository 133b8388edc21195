"""Choosing the default model settings honestly: a staged walk-forward search inside the
course's training years.

Only rows up to the end of the course's training period (2019-01-28) are read. The last
`folds` blocks of `block` trading days before that date (by default two: 2017-02..2018-01 and
2018-02..2019-01) are the validation folds: for each,
a model is trained on every row before the block (early stopping on its own inner slice, as in
production) and forecasts each day of the block one day ahead, exactly as `--split course` does
on the real test period. A candidate's score is MAE relative to naive (the last close), averaged
over the three kinds and the folds; its hit-rate is reported beside.

The search is staged (coordinate descent): each stage varies a few settings around the best
configuration so far, and a challenger replaces the incumbent only if it improves the mean
relative MAE by more than the stage's margin (a larger margin where the change costs run time or
moves away from the product's 60-day window). Every (candidate, kind, fold) result is appended to
a CSV as soon as it is known, so an interrupted search resumes where it stopped.
"""

import csv
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.studies.search.space import START, Candidate, Stage, stages
from forecaster.config import Settings, model_spec, train_spec
from forecaster.course.experiment import COURSE_TRAIN_ROWS, holdout, load_course_bars
from forecaster.model.spec import MODEL_KINDS, ModelKind, ModelSpec, TrainSpec
from forecaster.scoring.metrics import score

SEARCH_END = date(2019, 1, 28)  # the course's last training day: nothing later is read
RESULT_FIELDS = [
    "stage",
    "candidate",
    "kind",
    "fold",
    "first_target",
    "last_target",
    "n",
    "mae",
    "naive_mae",
    "rel_mae",
    "hit_rate",
    "epochs",
    "seconds",
    "settings",
]


def search_bars(settings: Settings) -> pd.DataFrame:
    bars = load_course_bars(settings).iloc[:COURSE_TRAIN_ROWS]
    if bars.index.max() > pd.Timestamp(SEARCH_END):
        raise AssertionError("the search must not read past the course's training period")
    return bars


def folds(bars: pd.DataFrame, *, count: int, block: int) -> list[tuple[int, int]]:
    """(start, end) row ranges of the validation blocks, oldest first; each block's model is
    trained on rows [0, start)."""
    end = len(bars)
    return [(end - k * block, end - (k - 1) * block) for k in range(count, 0, -1)]


def evaluate(bars: pd.DataFrame, spec: ModelSpec, train: TrainSpec, fold: tuple[int, int]) -> dict[str, Any]:
    start, end = fold
    started = time.perf_counter()
    result = holdout(bars.iloc[:start], bars.iloc[start - spec.window : end], spec, train)
    model = score(result.yhat, result.actual, result.last_close, 1.0)
    naive = score(result.last_close, result.actual, result.last_close, 1.0)
    return {
        "first_target": bars.index[start].date().isoformat(),
        "last_target": bars.index[end - 1].date().isoformat(),
        "n": model.n,
        "mae": model.mae,
        "naive_mae": naive.mae,
        "rel_mae": model.mae / naive.mae,
        "hit_rate": model.hit_rate,
        "epochs": result.epochs,
        "seconds": round(time.perf_counter() - started, 2),
    }


class Results:
    """The results CSV: read what is there (to resume), append each new row at once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # Keyed by (resolved settings, the fold's first target): a result is found whatever the
        # candidate that produced it was called.
        self.rows: dict[tuple[str, str], dict[str, Any]] = {}
        if path.exists():
            with path.open(newline="") as fh:
                for row in csv.DictReader(fh):
                    self.rows[row["settings"], row["first_target"]] = row

    def find(self, settings: str, first_target: str) -> dict[str, Any] | None:
        return self.rows.get((settings, first_target))

    def add(self, row: dict[str, Any]) -> None:
        new = not self.path.exists()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=RESULT_FIELDS)
            if new:
                writer.writeheader()
            writer.writerow(row)
        self.rows[row["settings"], row["first_target"]] = row


@dataclass
class SearchOptions:
    out: Path
    kinds: tuple[ModelKind, ...] = MODEL_KINDS
    folds: int = 2
    block: int = 240  # the course's test period is 240 targets
    epochs: int | None = None  # cap (quick runs and tests only)
    stages: list[Stage] = field(default_factory=stages)


def run_search(
    settings: Settings, options: SearchOptions, report: Callable[[str], None] = print
) -> tuple[Candidate, list[dict[str, Any]]]:
    """The staged search; returns the winning overrides and one summary row per candidate."""
    bars = search_bars(settings)
    blocks = folds(bars, count=options.folds, block=options.block)
    results = Results(options.out)
    best = START
    summary: list[dict[str, Any]] = []
    for stage in options.stages:
        scored: list[tuple[float, Candidate, dict[str, Any]]] = []
        for variant in stage.variants:
            candidate = best.merged(variant)
            rows = list(_candidate_rows(settings, options, bars, blocks, results, stage.name, candidate))
            row = _summarise(stage.name, candidate, rows)
            summary.append(row)
            scored.append((row["rel_mae"], candidate, row))
            report(_line(row))
        best = _pick(scored, stage.margin)
        report(f"== after stage {stage.name}: {best.name(relative_to=START)}")
    return best, summary


def _candidate_rows(
    settings: Settings,
    options: SearchOptions,
    bars: pd.DataFrame,
    blocks: list[tuple[int, int]],
    results: Results,
    stage: str,
    candidate: Candidate,
) -> Iterator[dict[str, Any]]:
    name = candidate.name(relative_to=START)
    for kind in options.kinds:
        spec = replace(model_spec(settings, kind), horizon=1, adjust="none", **_model_kwargs(candidate))
        train = replace(train_spec(settings), **candidate.train)
        if options.epochs is not None:
            train = replace(train, max_epochs=options.epochs, patience=min(train.patience, options.epochs))
        settings_json = json.dumps({"model": asdict(spec), "train": asdict(train)}, sort_keys=True)
        for i, fold in enumerate(blocks):
            found = results.find(settings_json, bars.index[fold[0]].date().isoformat())
            if found is None:
                found = {"stage": stage, "candidate": name, "kind": kind, "fold": i, "settings": settings_json}
                found |= evaluate(bars, spec, train, fold)
                results.add(found)
            yield found


def _model_kwargs(candidate: Candidate) -> dict[str, Any]:
    kwargs = dict(candidate.model)
    for key in ("features", "units"):
        if key in kwargs:
            kwargs[key] = tuple(kwargs[key])
    return kwargs


def _summarise(stage: str, candidate: Candidate, rows: list[dict[str, Any]]) -> dict[str, Any]:
    frame = pd.DataFrame(rows)
    for column in ("rel_mae", "hit_rate", "seconds", "mae"):
        frame[column] = frame[column].astype(float)
    per_kind = frame.groupby("kind")["rel_mae"].mean()
    return {
        "stage": stage,
        "candidate": candidate.name(relative_to=START),
        "rel_mae": float(frame["rel_mae"].mean()),
        "rel_mae_sd": float(frame["rel_mae"].std(ddof=0)),
        "hit_rate": float(frame["hit_rate"].mean()),
        "seconds": float(frame["seconds"].sum()),
        **{f"rel_mae_{kind}": float(v) for kind, v in per_kind.items()},
    }


def _pick(scored: list[tuple[float, Candidate, dict[str, Any]]], margin: float) -> Candidate:
    """The stage's best candidate, unless it fails to beat the incumbent by more than `margin`.

    Each stage varies settings no earlier stage touched, and its first variant holds their
    defaults, so the first candidate is the incumbent itself."""
    own_value, incumbent, _ = scored[0]
    value, challenger, _ = min(scored, key=lambda item: item[0])
    return challenger if value < own_value - margin else incumbent


def _line(row: dict[str, Any]) -> str:
    kinds = " ".join(f"{k[8:]}={v:.4f}" for k, v in row.items() if k.startswith("rel_mae_") and k != "rel_mae_sd")
    return (
        f"[{row['stage']}] {row['candidate']}: rel_mae {row['rel_mae']:.4f} ± {row['rel_mae_sd']:.4f} "
        f"({kinds}) hit {row['hit_rate']:.3f} in {row['seconds']:.0f} s"
    )


def write_summary(summary: list[dict[str, Any]], best: Candidate, path: Path) -> None:
    """The per-candidate table and the winner, as JSON beside the raw CSV."""
    winner = {"model": best.model, "train": best.train, "changes": best.name(relative_to=START)}
    payload = {"winner": winner, "candidates": summary}
    path.write_text(json.dumps(payload, indent=2, default=_json_default) + "\n")


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")
