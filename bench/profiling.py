"""Where a daily run's time goes: one `forecaster run` under cProfile, read back with pstats.

cProfile slows Python-heavy code, so its seconds run above the plain run's wall time; the
shares are what to read.
"""

import pstats
import re
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.child import timed
from bench.markdown import markdown_table
from bench.section import QUICK_NOTE, Cell, Options, Section

TOP_CUMULATIVE, TOP_OWN = 20, 12
# Frames that only pass a call through (runpy, click, error-handling decorators, TensorFlow's
# distribution wrappers, import machinery below `_find_and_load`): listed, they would fill the
# cumulative top with copies of one number.
PASS_THROUGH = (
    "<frozen runpy>",
    "<string>",
    "click/",
    "traceback_utils.py",
    "autograph",
    "polymorphic_function",
    "distribute_lib.py",
    "<frozen importlib._bootstrap_external>",
    "_find_and_load_unlocked",
    "_call_with_frames_removed",
    "_load_unlocked",
    "_handle_fromlist",
    "builtins.exec",
    "builtins.__import__",
)
PLOTTING, KERAS_SAVING = "forecaster/reporting/plotting.py", "keras/src/saving/saving_lib.py"
# Named costs of a daily run: (label, functions as (file suffix, name)), each the cumulative
# time of functions that do not call one another. A cost none of whose functions ran (or exist
# any more, after a refactor: update the names here) shows as "—".
BUCKETS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("Python imports (TensorFlow, Keras, pandas, ...)", (("importlib._bootstrap>", "_find_and_load"),)),
    ("training: fine-tunes and retrains (the loop of steps)", (("forecaster/model/training.py", "_fit"),)),
    (
        "tf.function tracing, in training or in model calls (inside other rows)",
        (("tracing_compilation.py", "trace_function"),),
    ),
    # window_forecasts: the one batched predict each kind's task makes for every ticker.
    ("forecasts from the networks", (("forecaster/model/forecasting.py", "window_forecasts"),)),
    ("plots: draw + PNG", ((PLOTTING, "forecast_figure"), (PLOTTING, "validation_figure"), (PLOTTING, "save_png"))),
    ("HTML report", (("forecaster/reporting/html.py", "refresh_report"),)),
    # Keras's own (de)serialisation: where forecaster's model-file functions spend their time,
    # whatever they are called.
    ("model files: Keras load + save", ((KERAS_SAVING, "load_model"), (KERAS_SAVING, "save_model"))),
    (
        "database: SQL statements + commits (migration check included)",
        (("sqlalchemy/engine/base.py", "execute"), ("~", "<method 'commit' of 'sqlite3.Connection' objects>")),
    ),
)

StatKey = tuple[str, int, str]  # (file, line, function), as pstats keys them
StatRow = tuple[int, int, float, float, object]  # (primitive calls, calls, own s, cumulative s, callers)


@dataclass(frozen=True)
class Entry:
    name: str  # "forecaster/routine/pipeline.py:184(_run_ticker)"
    calls: int
    own_s: float
    cumulative_s: float


@dataclass(frozen=True)
class Profile:
    wall_s: float  # the profiled process's wall time (profiler overhead included)
    total_s: float  # the time cProfile accounted for
    top: list[Entry]  # by cumulative time, pass-through frames left out
    own: list[Entry]  # by own time: where the CPU went, no overlaps
    buckets: list[tuple[str, float | None]]  # None: none of the bucket's functions was seen


def profiled(args: list[str], env: dict[str, str], cwd: Path, out: Path) -> Profile:
    """Run `forecaster ARGS` under cProfile in a fresh process and read its profile."""
    command = [sys.executable, "-m", "cProfile", "-o", str(out), "-m", "forecaster.cli", *args]
    run = timed(command, env, cwd=cwd)
    return read_profile(out, run.wall_s)


def read_profile(path: Path, wall_s: float) -> Profile:
    stats = pstats.Stats(str(path))
    table: dict[StatKey, StatRow] = stats.stats  # type: ignore[attr-defined]  # pstats keeps it untyped
    ranked = sorted(table.items(), key=lambda item: item[1][3], reverse=True)
    top = [Entry(_name(key), row[1], row[2], row[3]) for key, row in ranked if not _pass_through(key)]
    by_own = sorted(table.items(), key=lambda item: item[1][2], reverse=True)[:TOP_OWN]
    own = [Entry(_name(key), row[1], row[2], row[3]) for key, row in by_own]
    buckets = [(label, _cumulative(table, funcs)) for label, funcs in BUCKETS]
    return Profile(wall_s, float(stats.total_tt), top[:TOP_CUMULATIVE], own, buckets)  # type: ignore[attr-defined]


def _cumulative(table: dict[StatKey, StatRow], funcs: tuple[tuple[str, str], ...]) -> float | None:
    seen = [
        row[3] for (file, _, func), row in table.items() for suffix, name in funcs if func == name and suffix in file
    ]
    return sum(seen) if seen else None


def _pass_through(key: StatKey) -> bool:
    name = _name(key)
    return any(p in name for p in PASS_THROUGH)


def _name(key: StatKey) -> str:
    file, line, func = key
    if file == "~":  # a built-in: pstats names it by its repr, e.g. {built-in method time.sleep}
        return func
    return f"{_short(file)}:{line}({func})"


def _short(file: str) -> str:
    """Paths from the package down: site-packages/, the standard library, this repository."""
    if "site-packages/" in file:
        return file.split("site-packages/", 1)[1]
    if "/lib/python3" in file:  # the standard library
        return re.sub(r"^.*/lib/python3\.\d+/", "", file)
    for package in ("forecaster", "bench"):
        marker = f"/{package}/"
        if marker in file:
            return package + "/" + file.rsplit(marker, 1)[1]
    return file


def profile_section(profile: Profile, opts: Options) -> Section:
    rows: list[list[Cell]] = [
        [label, seconds, None if seconds is None else 100 * seconds / profile.total_s]
        for label, seconds in profile.buckets
    ]
    rows.append(["whole run (profiled)", profile.total_s, 100.0])
    text = "\n\n".join(
        [
            f"Top {len(profile.top)} functions by cumulative time (frames that only pass calls through left out):",
            _entries_table(profile.top),
            f"Top {len(profile.own)} by own time (time inside the function itself; these do not overlap):",
            _entries_table(profile.own),
            speedup_paragraph(dict(profile.buckets), profile.total_s),
        ]
    )
    notes = [
        "One daily run (the routine benchmark's state, same as-of) under `python -m cProfile`; "
        f"{profile.wall_s:.1f} s wall with the profiler's overhead. Rows overlap where marked.",
    ]
    if opts.quick:
        notes.insert(0, f"{QUICK_NOTE}.")
    return Section(
        name="profile",
        title="Where the daily run's time goes",
        headers=["cost", "seconds (profiled)", "share %"],
        rows=rows,
        notes=notes,
        text=text,
        raw={
            "total_s": profile.total_s,
            "wall_s": profile.wall_s,
            "buckets": dict(profile.buckets),
            "top": [asdict(e) for e in profile.top],
        },
    )


def _entries_table(entries: list[Entry]) -> str:
    rows: list[list[Cell]] = [[f"`{e.name}`", e.calls, e.own_s, e.cumulative_s] for e in entries]
    return markdown_table(["function", "calls", "own s", "cumulative s"], rows)


def speedup_paragraph(buckets: dict[str, float | None], total: float) -> str:
    """What would make the daily run faster, with this profile's numbers filled in."""

    def share(label_start: str) -> str:
        seconds = next((s for label, s in buckets.items() if label.startswith(label_start)), None)
        return "(not seen in this profile)" if seconds is None else f"{seconds:.1f} s ({100 * seconds / total:.0f} %)"

    return (
        "**What would make the daily run faster.** "
        f"(1) Start-up: Python imports take {share('Python imports')}, mostly TensorFlow and Keras, "
        "paid by every cron-started run; `forecaster daemon` pays them once per process, so the daemon "
        "(or one process for all tickers, not one per ticker) removes this cost from the daily run. "
        f"(2) Training takes {share('training')}, and tf.function tracing {share('tf.function')}: a fresh "
        "process traces each kind's train step and each resident network's predict function once, for "
        "every batch size (model/trainers), whatever the number of tickers; the daemon pays that once per "
        "process. The rest of training is the steps themselves, compute-bound on two cores. "
        f"(3) Output: plots take {share('plots')} and the HTML report {share('HTML report')}, redrawn on "
        "every run; drawing them once after a multi-ticker run, or off the critical path, saves that. "
        f"The database takes {share('database')} and the model files {share('model files')}: not where "
        "the time goes."
    )
