"""Resident memory of a long backfill and of a long-lived daemon, sampled as the days go by.

    python -m bench.memory [--days 500] [--runs 200] [--every 50]
    python -m bench --only memory     (the same, inside the suite; --quick: 20 days, 10 runs)

Both curves come from one process each (a fresh `python -m bench.memory --part ...` child), with
tiny networks (the test suite's sizes) so that hundreds of days take minutes on 2 busy cores: the
question is whether what a day builds is released, not how big one model is.

- backfill: the bundled CSV, `backfill()` over the last N stored days before its end, rnn, lstm
  and gru, retrained every 20 days and predicting in between (the command's defaults); RSS
  after every `--every` days.
- daemon: the daily job (`jobs/daily_update.run`) as the daemon calls it, once per trading day,
  its source the bundled CSV cut at that day (so each run ingests one new bar, fine-tunes the
  three models, forecasts, plots and refreshes the report); RSS after every `--every` runs / 4.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from bench.section import Options, Section
from forecaster.model.spec import ModelKind

TINY: dict[str, Any] = {"window": 10, "units": [4, 4], "max_epochs": 1, "patience": 1, "finetune_epochs": 1}
MODELS: tuple[ModelKind, ...] = ("rnn", "lstm", "gru")
GOAL_GROWTH = 0.10  # the issue's: growth over the run under 10 %


def rss_mb() -> float:
    """This process's resident set size now (Linux /proc), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


@dataclass
class Curve:
    name: str
    samples: list[tuple[int, float]]  # (days or runs done, RSS MB)
    seconds: float

    @property
    def growth(self) -> float:
        """From the first sample (after the first step: TensorFlow loaded, models built) to the last."""
        first, last = self.samples[0][1], self.samples[-1][1]
        return (last - first) / first


def _settings(data_dir: Path) -> Any:
    from forecaster.config import load_settings

    return load_settings(data_dir=data_dir, models=MODELS, tickers=["600519.SH"], **TINY)


def _bar_days(settings: Any) -> list[date]:
    from forecaster.ingest.sources.csvfile import read_bar_csv

    frame = read_bar_csv(settings.bundled_csv, "600519.SH")
    return sorted(pd_date(d) for d in frame["trade_date"])


def pd_date(value: Any) -> date:
    return value.date() if hasattr(value, "date") else date.fromisoformat(str(value))


def backfill_curve(days: int, every: int) -> Curve:
    from forecaster.ingest.sources.csvfile import CsvSource
    from forecaster.ingest.update import ingest_ticker
    from forecaster.routine.backfill import backfill
    from forecaster.routine.driver import RoutineOptions
    from forecaster.storage.db import open_database, session_factory

    with tempfile.TemporaryDirectory() as tmp:
        settings = _settings(Path(tmp) / "data")
        factory = session_factory(open_database(settings.db_url))
        all_days = _bar_days(settings)
        today = all_days[-1]
        ingest_ticker(factory, CsvSource(settings.bundled_csv), "600519.SH", today=today, overlap_days=5)
        span = all_days[-days:]
        samples: list[tuple[int, float]] = []
        done = 0

        def on_day(day: date, report: Any, total: int) -> None:
            nonlocal done
            done += 1
            if done == 1 or done % every == 0:
                samples.append((done, rss_mb()))
                print(f"backfill day {done}/{total}: {samples[-1][1]:.0f} MB", flush=True)

        started = time.perf_counter()
        options = RoutineOptions(kinds=tuple(MODELS), between="predict")
        backfill(
            settings,
            factory,
            tickers=["600519.SH"],
            start=span[0],
            end=span[-1],
            options=options,
            today=today,
            on_day=on_day,
        )
        return Curve("backfill", samples, time.perf_counter() - started)


class CutSource:
    """The bundled CSV as a live source would answer on each day: nothing after the day asked
    for (a CSV answers all its rows, which validation then refuses as future bars)."""

    name = "csv"
    description = "the bundled CSV, cut at each run's day"

    def __init__(self, path: Path, ticker: str = "600519.SH") -> None:
        from forecaster.ingest.sources.csvfile import CsvSource

        self._whole = CsvSource(path).fetch(ticker, None, date.max)

    def fetch(self, ticker: str, start: date | None, end: date, calendar: object = None) -> Any:
        from dataclasses import replace

        bars = self._whole.bars
        return replace(self._whole, bars=bars[bars["trade_date"].dt.date <= end].reset_index(drop=True))


def daemon_curve(runs: int, every: int) -> Curve:
    from forecaster.daemon.jobrun import JobContext
    from forecaster.storage.db import open_database, session_factory
    from jobs import daily_update

    with tempfile.TemporaryDirectory() as tmp:
        settings = _settings(Path(tmp) / "data")
        factory = session_factory(open_database(settings.db_url))
        days = _bar_days(settings)[-runs:]
        clock = {"today": days[0]}
        ctx = JobContext(settings, factory, CutSource(settings.bundled_csv), today=lambda: clock["today"])
        samples: list[tuple[int, float]] = []
        started = time.perf_counter()
        for n, day in enumerate(days, start=1):
            clock["today"] = day  # the CSV source answers up to "today": one new bar per run
            record = daily_update.run(ctx)
            if record.status != "ok":
                raise RuntimeError(f"daily run {n} ({day}) ended {record.status}: {record.error}")
            if n == 1 or n % every == 0:
                samples.append((n, rss_mb()))
                print(f"daemon run {n}/{runs}: {samples[-1][1]:.0f} MB", flush=True)
        return Curve("daemon", samples, time.perf_counter() - started)


def _child(part: str, size: int, every: int) -> Curve:
    """One curve in a fresh process, so neither inherits the other's memory."""
    command = [sys.executable, "-m", "bench.memory", "--part", part, f"--{'days' if part == 'backfill' else 'runs'}"]
    out = subprocess.run([*command, str(size), "--every", str(every)], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"bench.memory --part {part} failed:\n{out.stderr[-2000:]}")
    raw = json.loads(out.stdout.strip().splitlines()[-1])
    return Curve(part, [(int(n), float(mb)) for n, mb in raw["samples"]], float(raw["seconds"]))


def bench(opts: Options) -> list[Section]:
    days, runs, every = (20, 10, 5) if opts.quick else (500, 200, 50)
    curves = [_child("backfill", days, every), _child("daemon", runs, max(1, every // 2))]
    rows: list[list[Any]] = []
    for curve in curves:
        rows += [[curve.name, n, mb] for n, mb in curve.samples]
    notes = [
        f"Tiny networks ({TINY}); rnn, lstm, gru; the bundled CSV; one fresh process per curve.",
        "backfill: `backfill()` over the last "
        f"{days} stored days, retrain every 20, predict between; daemon: `jobs/daily_update.run` "
        f"{runs} times, one new bar each (ingest, fine-tune, forecast, plots, report).",
        *(
            f"{c.name}: {c.samples[0][1]:.0f} → {c.samples[-1][1]:.0f} MB, growth {c.growth:+.1%} "
            f"(goal < {GOAL_GROWTH:.0%}), {c.seconds:.0f} s"
            for c in curves
        ),
    ]
    return [
        Section(
            name="memory",
            title="Resident memory over a long backfill and a long-lived daemon",
            headers=["curve", "days / runs done", "RSS MB"],
            rows=rows,
            notes=notes,
            headline=[(f"{c.name} RSS growth over the run", c.growth) for c in curves],
            raw={c.name: {"samples": c.samples, "seconds": c.seconds, "growth": c.growth} for c in curves},
        )
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__)
    parser.add_argument("--part", choices=["backfill", "daemon"], help="One curve in this process, as JSON.")
    parser.add_argument("--days", type=int, default=500)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--every", type=int, default=50)
    args = parser.parse_args(argv)
    if args.part is None:
        for section in bench(Options()):
            print("\n".join(section.notes))
            for row in section.rows:
                print(*row, sep="\t")
        return 0
    curve = backfill_curve(args.days, args.every) if args.part == "backfill" else daemon_curve(args.runs, args.every)
    print(json.dumps({"samples": curve.samples, "seconds": curve.seconds}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
