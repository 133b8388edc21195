"""Wall time of a backfill of the course's test period on the bundled data.

    python -m bench.backfill [--start 2019-05-06] [--end 2020-04-24] [--between predict]
    python -m bench --only backfill     (the same, inside the suite)

A fresh data dir, then `forecaster backfill` for rnn, lstm and gru, retraining every 20 trading
days (predicting with the current version in between, unless --between finetune), in a fresh
process as a user would run it. Prints the wall time and the command's own summary.
"""

import argparse
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from bench.child import ChildRun, data_env, forecaster_command, timed
from bench.section import QUICK_MODELS, QUICK_NOTE, Options, Section
from forecaster.market.calendar import trading_days

FULL_RANGE = ("2019-05-06", "2020-04-24")  # the course's 240 test targets
QUICK_RANGE = ("2020-04-13", "2020-04-24")  # 10 trading days: one retrain, then predictions
MODELS = "rnn,lstm,gru"
GOAL_S = 250.0  # the speed issue's goal for the full range (the backfill issue's was 600 s)


@dataclass(frozen=True)
class BackfillResult:
    start: str
    end: str
    days: int  # trading days in the range
    run: ChildRun

    @property
    def summary(self) -> str:
        """The command's own one-line summary ("backfill A..B: N day(s), ... in S s")."""
        lines = self.run.output.splitlines()
        return next((line.strip() for line in lines if line.startswith("backfill ")), "—")


def measure(
    start: str,
    end: str,
    *,
    models: str = MODELS,
    between: str = "predict",
    retrain_every: int = 20,
    env_extra: dict[str, str] | None = None,
) -> BackfillResult:
    args = ["backfill", "--start", start, "--end", end, "--models", models, "--source", "csv"]
    args += ["--retrain-every", str(retrain_every), "--between", between]
    with tempfile.TemporaryDirectory() as tmp:
        run = timed(forecaster_command(*args), data_env(Path(tmp) / "data", **(env_extra or {})), cwd=Path(tmp))
    days = len(trading_days(date.fromisoformat(start), date.fromisoformat(end)))
    return BackfillResult(start, end, days, run)


def bench(opts: Options) -> list[Section]:
    start, end = QUICK_RANGE if opts.quick else FULL_RANGE
    models = QUICK_MODELS if opts.quick else MODELS
    result = measure(start, end, models=models, env_extra=opts.child_env)
    wall = result.run.wall_s
    notes = [
        f"`forecaster backfill --start {start} --end {end} --models {models} --retrain-every 20 "
        "--between predict` in a fresh data dir and a fresh process (ingest included); one run.",
        f"The command's summary: `{result.summary}`.",
    ]
    if opts.quick:
        notes.insert(0, f"{QUICK_NOTE}; {result.days} trading days, not the course's 240.")
    return [
        Section(
            name="backfill",
            title="Backfill of the course's test period",
            headers=["range", "trading days", "wall s", "s / day", "peak MB", "goal s (240 days)"],
            rows=[[f"{start}..{end}", result.days, wall, wall / result.days, result.run.peak_mb, GOAL_S]],
            notes=notes,
            headline=[(f"backfill of {result.days} days, wall s (goal ≤ {GOAL_S:.0f} for 240)", wall)],
            raw={"start": start, "end": end, "days": result.days, "wall_s": wall, "peak_mb": result.run.peak_mb},
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--start", default=FULL_RANGE[0])
    parser.add_argument("--end", default=FULL_RANGE[1])
    parser.add_argument("--between", default="predict", choices=["predict", "finetune"])
    parser.add_argument("--retrain-every", type=int, default=20)
    args = parser.parse_args()
    result = measure(args.start, args.end, between=args.between, retrain_every=args.retrain_every)
    print(result.run.output)
    wall = result.run.wall_s
    print(
        f"backfill {args.start}..{args.end}, retrain every {args.retrain_every}, between: {args.between}: "
        f"{wall:.0f} s wall ({wall / 60:.1f} min)"
    )


if __name__ == "__main__":
    main()
