"""The letter-prediction smoke test, the model files it goes through, and its CLI command."""

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from forecaster.cli import cli
from forecaster.course.letters import (
    TASKS,
    SmokeResult,
    answer,
    predict,
    record_smoke,
    reload_models,
    run_smoke,
    save_model,
    train_letter_model,
)
from forecaster.errors import ConfigError, ModelFileError
from forecaster.model.files import file_sha256, load_model
from forecaster.storage.queries import last_smoke

COURSE_PAIRS = {
    "onehot-1to1": ["a -> b", "b -> c", "c -> d", "d -> e", "e -> a"],
    "onehot-4to1": ["abcd -> e", "bcde -> a", "cdea -> b", "deab -> c", "eabc -> d"],
    "embedding-1to1": ["a -> b", "b -> c", "c -> d", "d -> e", "e -> a"],
}


@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory) -> list[SmokeResult]:
    """All four tasks at their default epochs, once for the module (about 3 s on 2 cores)."""
    return run_smoke(None, None, seed=0, workdir=tmp_path_factory.mktemp("smoke"))


def test_tasks_hold_the_course_pairs():
    for name, samples in COURSE_PAIRS.items():
        assert [f"{x} -> {y}" for x, y in TASKS[name].pairs] == samples
    pairs = TASKS["embedding-4to1"].pairs
    assert len(pairs) == 22
    assert pairs[0] == ("abcd", "e") and pairs[-1] == ("vwxy", "z")


@pytest.mark.slow
def test_every_task_learns_all_its_pairs_within_its_default_epochs(full_run):
    assert [r.task for r in full_run] == list(TASKS)
    for result in full_run:
        task = TASKS[result.task]
        assert result.epochs == task.epochs
        assert result.accuracy == 1.0, result.misses
        assert result.reload_identical and result.ok
        assert list(result.samples) == [f"{x} -> {y}" for x, y in task.pairs]


@pytest.mark.slow
def test_the_smoke_run_is_fast(full_run):
    # The budget is 30 s for all four on 2 cores; ~3 s measured, so this has slack.
    assert sum(r.seconds for r in full_run) < 30


@pytest.mark.slow
def test_saved_files_are_the_recorded_ones(full_run):
    for result in full_run:
        assert result.model_path.name == f"{result.task}.keras"
        assert file_sha256(result.model_path) == result.sha256
    assert not [p for p in full_run[0].model_path.parent.iterdir() if p.name.startswith(".")]  # no temp files left


def test_too_few_epochs_is_reported_as_a_failure(tmp_path):
    [result] = run_smoke("embedding-4to1", epochs=1, seed=0, workdir=tmp_path)
    assert result.epochs == 1
    assert result.accuracy < 0.5 and not result.ok
    assert result.misses and all("(want " in s for s in result.misses)


def test_unknown_task_and_bad_epochs_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="unknown smoke task 'nope'"):
        run_smoke("nope", None, 0, tmp_path)
    with pytest.raises(ConfigError, match="epochs"):
        run_smoke("onehot-1to1", 0, 0, tmp_path)


@pytest.mark.slow
def test_training_is_deterministic_per_seed():
    task = TASKS["onehot-4to1"]
    x = task.encode([t for t, _ in task.pairs])
    first = predict(train_letter_model(task, 20, seed=3), x)
    again = predict(train_letter_model(task, 20, seed=3), x)
    other = predict(train_letter_model(task, 20, seed=4), x)
    assert np.array_equal(first, again)
    assert not np.allclose(first, other)


# --- model files ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, np.ndarray, np.ndarray]:
    """A small trained model saved once: (path, sha256, inputs, in-memory predictions)."""
    task = TASKS["embedding-4to1"]
    model = train_letter_model(task, 30, seed=1)
    x = task.encode([t for t, _ in task.pairs])
    path = tmp_path_factory.mktemp("files") / "letters.keras"
    return path, save_model(model, path), x, predict(model, x)


def _copy(saved_path: Path, tmp_path: Path, data: bytes | None = None) -> Path:
    target = tmp_path / "copy.keras"
    target.write_bytes(saved_path.read_bytes() if data is None else data)
    return target


def test_save_load_round_trip_gives_identical_predictions(saved):
    path, sha, x, before = saved
    assert sha == file_sha256(path) and len(sha) == 64
    umask = os.umask(0o022)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # readable as any file we write, not 0600
    after = predict(load_model(path, expected_sha256=sha), x)
    assert np.array_equal(before, after)


def test_saving_over_a_file_replaces_it_and_leaves_no_temp_files(saved, tmp_path):
    path, _, _, _ = saved
    folder = tmp_path / "models"
    folder.mkdir()
    target = _copy(path, folder)
    new_sha = save_model(load_model(target), target)
    assert file_sha256(target) == new_sha
    assert [p.name for p in folder.iterdir()] == ["copy.keras"]


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda b: b[: len(b) // 2], id="truncated"),
        pytest.param(lambda b: b[:100] + bytes(x ^ 0xFF for x in b[100:164]) + b[164:], id="flipped-near-start"),
        pytest.param(
            lambda b: b[: len(b) // 2] + bytes(x ^ 0xFF for x in b[len(b) // 2 :][:64]) + b[len(b) // 2 + 64 :],
            id="flipped-middle",
        ),
        pytest.param(lambda b: b[:-40] + bytes(x ^ 0xFF for x in b[-40:]), id="flipped-end"),
    ],
)
def test_a_damaged_file_fails_its_sha256(saved, tmp_path, damage):
    path, sha, _, _ = saved
    damaged = _copy(path, tmp_path, damage(path.read_bytes()))
    with pytest.raises(ModelFileError, match=r"sha256 .* not the recorded"):
        load_model(damaged, expected_sha256=sha)


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda b: b[: len(b) // 2], id="truncated"),
        pytest.param(
            lambda b: b[: len(b) // 2] + bytes(x ^ 0xFF for x in b[len(b) // 2 :][:64]) + b[len(b) // 2 + 64 :],
            id="flipped-middle",
        ),
        pytest.param(lambda b: b"not a zip file", id="garbage"),
    ],
)
def test_a_damaged_file_without_a_hash_is_still_refused(saved, tmp_path, damage):
    path, _, _, _ = saved
    damaged = _copy(path, tmp_path, damage(path.read_bytes()))
    with pytest.raises(ModelFileError, match="damaged or not a Keras model file"):
        load_model(damaged)


def test_a_missing_file_and_a_wrong_suffix(saved, tmp_path):
    path, sha, _, _ = saved
    with pytest.raises(ModelFileError, match="missing"):
        load_model(tmp_path / "gone.keras", expected_sha256=sha)
    with pytest.raises(ModelFileError, match=r"must end in \.keras"):
        save_model(load_model(path), tmp_path / "model.h5")


# --- recording and the interactive check ----------------------------------------------------


def _result(task: str, ok: bool, started: datetime) -> SmokeResult:
    return SmokeResult(
        task=task,
        epochs=10,
        seconds=1.5,
        accuracy=1.0 if ok else 0.6,
        ok=ok,
        samples=("a -> b",) if ok else ("a -> c (want b)",),
        reload_identical=True,
        model_path=Path(f"{task}.keras"),
        sha256="0" * 64,
        started_at=started,
        finished_at=started + timedelta(seconds=2),
    )


def test_record_and_read_back_the_last_run(factory):
    t0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    with factory.begin() as session:
        assert last_smoke(session) is None
        record_smoke(
            session, [_result("onehot-1to1", True, t0), _result("onehot-4to1", True, t0 + timedelta(seconds=2))]
        )
        record_smoke(
            session,
            [
                _result("onehot-1to1", True, t0 + timedelta(hours=1)),
                _result("onehot-4to1", False, t0 + timedelta(hours=1)),
            ],
        )
    with factory() as session:
        run = last_smoke(session)
        assert run is not None
        assert run.started_at == t0 + timedelta(hours=1) and not run.ok
        assert run.seconds == 2.0 and run.keras_version and run.tf_version
        details = json.loads(run.details)
        assert [(d["task"], d["ok"]) for d in details] == [("onehot-1to1", True), ("onehot-4to1", False)]
        assert details[1]["samples"] == ["a -> c (want b)"]


@pytest.mark.slow
def test_answer_like_the_course(full_run):
    models = reload_models(full_run)
    assert answer(models, "a") == ["onehot-1to1: a -> b", "embedding-1to1: a -> b"]
    # Both 4-letter models take "bcde": one wraps around its five letters, one goes on to f.
    assert answer(models, " BCDE\n") == ["onehot-4to1: bcde -> a", "embedding-4to1: bcde -> f"]
    assert answer(models, "mnop") == ["embedding-4to1: mnop -> q"]
    [refusal] = answer(models, "xyz")
    assert refusal.startswith("no task takes 'xyz'")


# --- the command ----------------------------------------------------------------------------


def _invoke(tmp_path: Path, *args: str, stdin: str | None = None):
    env = {"FORECASTER_DATA_DIR": str(tmp_path / "data")}
    return CliRunner().invoke(cli, list(args), env=env, input=stdin, catch_exceptions=False)


@pytest.mark.slow
def test_smoke_command_passes_records_and_shows_in_status(tmp_path):
    result = _invoke(tmp_path, "smoke")
    assert result.exit_code == 0, result.output
    rows = {
        line.split()[0]: line.split() for line in result.output.splitlines() if line.split()[:1] in ([t] for t in TASKS)
    }
    assert set(rows) == set(TASKS)
    assert all(row[1] == "True" and row[4] == "1.0000" for row in rows.values())  # ok, accuracy
    assert "abcd -> e" in result.output and "smoke test ok: 4 task(s)" in result.output
    assert sorted(p.name for p in (tmp_path / "data" / "smoke").iterdir()) == sorted(f"{t}.keras" for t in TASKS)
    status = _invoke(tmp_path, "status")
    assert status.exit_code == 0
    [line] = [ln for ln in status.output.splitlines() if ln.startswith("last smoke test:")]
    assert line.endswith(" s)") and " UTC ok (" in line


@pytest.mark.slow
def test_smoke_command_fails_on_a_task_that_falls_short(tmp_path):
    result = _invoke(tmp_path, "smoke", "--task", "embedding-4to1", "--epochs", "1")
    assert result.exit_code == 1
    assert "Error: smoke test failed: embedding-4to1" in result.output
    assert "wrong: " in result.output and "(want " in result.output
    status = _invoke(tmp_path, "status")
    assert " UTC FAILED (" in status.output


def test_smoke_command_refuses_an_unknown_task(tmp_path):
    result = _invoke(tmp_path, "smoke", "--task", "nope")
    assert result.exit_code == 2
    assert "choose from onehot-1to1, onehot-4to1, embedding-1to1, embedding-4to1" in result.output


@pytest.mark.slow
def test_smoke_ask_reads_letters_until_an_empty_line(tmp_path):
    result = _invoke(tmp_path, "smoke", "--task", "onehot-1to1", "--ask", stdin="a\ne\nab\n\nc\n")
    assert result.exit_code == 0, result.output
    assert "onehot-1to1: a -> b" in result.output and "onehot-1to1: e -> a" in result.output
    assert "no task takes 'ab'" in result.output
    assert result.output.count("letters> ") == 4  # a, e, ab, then the empty line ends it
