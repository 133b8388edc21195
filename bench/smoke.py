"""The four letter tasks: `forecaster smoke` as a user runs it (fresh process, TensorFlow's
import included), and each task's own time from `forecaster.course.letters.run_smoke` in this process."""

import tempfile
from pathlib import Path

from bench.child import data_env, forecaster_command, timed
from bench.section import Cell, Options, Section
from forecaster.course.letters import run_smoke

SEED = 0
GOAL_S = 30.0  # the smoke issue's goal for the whole command on 2 cores


def bench(opts: Options) -> list[Section]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        command = timed(forecaster_command("smoke", "--seed", str(SEED)), data_env(root / "data"), cwd=root)
        workdir = root / "models"
        workdir.mkdir()
        results = run_smoke(None, None, seed=SEED, workdir=workdir)
    rows: list[list[Cell]] = [[r.task, r.epochs, r.seconds, r.accuracy, "yes" if r.ok else "NO"] for r in results]
    rows.append(["`forecaster smoke`, whole command", None, command.wall_s, None, "yes"])
    passed = all(r.ok for r in results)
    return [
        Section(
            name="smoke",
            title="Smoke: the four letter tasks",
            headers=["task", "epochs", "seconds", "accuracy", "passed"],
            rows=rows,
            notes=[
                "Each task: build, train, save, reload (sha256 checked) and check; seed 0, default epochs; the "
                f"same in quick and full runs. The whole command (goal ≤ {GOAL_S:.0f} s) includes TensorFlow's "
                f"import; peak {command.peak_mb:.0f} MB.",
            ],
            headline=[("smoke, whole command wall s", command.wall_s), ("smoke, all four tasks pass", str(passed))],
            raw={
                "command_wall_s": command.wall_s,
                "command_peak_mb": command.peak_mb,
                "tasks": [r.to_json() for r in results],
            },
        )
    ]
