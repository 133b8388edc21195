"""Wall time and peak memory of `forecaster run` on the bundled data, each in a fresh process.

    python -m bench.routine [--repeats 1]

1. first run (cold): empty database, ingest the CSV, train rnn/lstm/gru from scratch, forecast,
   plot (as of 2020-04-23, the second-to-last bundled day);
2. daily run (warm): the next day (2020-04-24) from a copy of the first run's data dir: the
   policy fine-tunes (or retrains) the three models, forecasts, plots. TensorFlow's import is
   included in both, as a cron job pays it.
Then one more daily run from the same state under cProfile: where the daily run's time goes.
"""

import argparse
import tempfile
from dataclasses import dataclass
from pathlib import Path
from statistics import median

from bench.child import (
    ChildRun,
    RunRecord,
    copy_data_dir,
    data_env,
    describe_actions,
    forecaster_command,
    last_run_record,
    timed,
)
from bench.markdown import render_console
from bench.profiling import Profile, profile_section, profiled
from bench.section import QUICK_NOTE, Cell, Options, Section

FIRST_AS_OF, DAILY_AS_OF = "2020-04-23", "2020-04-24"
GOALS_S = {"first": 120.0, "daily": 30.0}  # the routine issue's goals on the 2-core machine


@dataclass(frozen=True)
class Measured:
    run: ChildRun
    record: RunRecord


@dataclass(frozen=True)
class RoutineResult:
    firsts: list[Measured]
    dailies: list[Measured]
    profile: Profile


def run_args(as_of: str) -> list[str]:
    return ["run", "--as-of", as_of, "--source", "csv"]  # the bundled file, even with a tushare token


def measure(root: Path, repeats: int, env_extra: dict[str, str]) -> RoutineResult:
    """`repeats` first runs in fresh data dirs; `repeats` daily runs, each on a copy of the first
    one's state (a second daily run on the same dir would only reuse); then the profiled one."""
    firsts = [_run(root / f"first-{r}", env_extra, FIRST_AS_OF) for r in range(repeats)]
    dailies = [
        _run(copy_data_dir(root / "first-0", root / f"daily-{r}"), env_extra, DAILY_AS_OF) for r in range(repeats)
    ]
    data = copy_data_dir(root / "first-0", root / "profiled")
    profile = profiled(run_args(DAILY_AS_OF), data_env(data, **env_extra), root, root / "daily.prof")
    return RoutineResult(firsts, dailies, profile)


def _run(data_dir: Path, env_extra: dict[str, str], as_of: str) -> Measured:
    run = timed(forecaster_command(*run_args(as_of)), data_env(data_dir, **env_extra), cwd=data_dir.parent)
    return Measured(run, last_run_record(data_dir))


def bench(opts: Options) -> list[Section]:
    with tempfile.TemporaryDirectory() as tmp:
        result = measure(Path(tmp), opts.repeats, opts.child_env)
    return [routine_section(result, opts), profile_section(result.profile, opts)]


def routine_section(result: RoutineResult, opts: Options) -> Section:
    rows: list[list[Cell]] = []
    raw: dict[str, object] = {}
    for name, label, runs in (
        ("first", "first run (cold)", result.firsts),
        ("daily", "daily run (warm)", result.dailies),
    ):
        walls = [m.run.wall_s for m in runs]
        rows.append([label, describe_actions(runs[0].record.actions), median(walls), min(walls), max(walls),
                     median(m.run.peak_mb for m in runs), GOALS_S[name]])  # fmt: skip
        raw[name] = [{"wall_s": m.run.wall_s, "peak_mb": m.run.peak_mb, "timings": m.record.timings} for m in runs]
    first, daily = (median(m.run.wall_s for m in runs) for runs in (result.firsts, result.dailies))
    notes = [
        f"Median of {opts.repeats} run(s), each a fresh process (TensorFlow's import included); "
        "peak = the process's own peak resident memory.",
        f"First run: empty data dir, as of {FIRST_AS_OF}. Daily run: a copy of that state, as of {DAILY_AS_OF}.",
        "Steps of the median daily run (seconds, the run row's timings): " + _steps(result.dailies),
    ]
    if opts.quick:
        notes.insert(0, f"{QUICK_NOTE}.")
    return Section(
        name="routine",
        title="First run and daily run (bundled data)",
        headers=["run", "models", "wall s", "min s", "max s", "peak MB", "goal s"],
        rows=rows,
        notes=notes,
        headline=[("first run wall s", first), ("daily run wall s", daily)],
        raw=raw,
    )


def _steps(runs: list[Measured]) -> str:
    mid = sorted(runs, key=lambda m: m.run.wall_s)[len(runs) // 2]
    return ", ".join(f"{step} {seconds:.2f}" for step, seconds in sorted(mid.record.timings.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    for section in bench(Options(quick=False, repeats=args.repeats)):
        print(render_console(section))


if __name__ == "__main__":
    main()
