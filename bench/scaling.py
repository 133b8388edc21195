"""Scaling: the daily run's cost for 1, 4 and 16 tickers on synthetic data, and where it goes.

For each count: a synthetic tushare-layout CSV of that many tickers (~400 trading days each),
an untimed first run that trains the models (at most 3 epochs: its cost is not measured), then
the timed daily run on the next day, from a copy of that state, repeated. The step times come
from the run's own `runs` row (the pipeline's clock): nothing in the product is patched.
"""

import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from statistics import median

import pandas as pd

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
from bench.ingest import synthetic_bars
from bench.section import QUICK_NOTE, Cell, Options, Section
from forecaster.market.calendar import trading_days

FULL_COUNTS, QUICK_COUNTS = (1, 4, 16), (1, 4)
HISTORY_DAYS = 400  # enough for 60-day windows, an inner validation slice and a 250-day fine-tune
LAST_DAY = date(2024, 12, 31)
GOAL_PER_TICKER_S = 0.3  # the pooled networks' goal, from 2.44 s with a network per ticker
SETUP_ENV = {"FORECASTER_MAX_EPOCHS": "3"}  # the untimed first run only; the daily run uses the settings
# The pipeline clock's steps, as the issue names them; `other` is the rest of the wall time.
STEPS = {
    "ingest": ("ingest",),
    "train": ("train",),
    "predict": ("forecast",),
    "plot": ("plot",),
    "DB": ("load", "actuals"),
    "model files": ("model_load", "save"),  # clock steps of the executor-based pipeline; 0 before it
}


@dataclass(frozen=True)
class Daily:
    run: ChildRun
    record: RunRecord

    def step(self, name: str) -> float:
        return sum(self.record.timings.get(k, 0.0) for k in STEPS[name])

    @property
    def other(self) -> float:
        """The rest of the wall time: start-up (imports, schema check), model saves, the HTML
        report, and any clock step not named in STEPS."""
        return self.run.wall_s - sum(self.step(name) for name in STEPS)


@dataclass(frozen=True)
class Scaled:
    tickers: int
    setup_s: float
    dailies: list[Daily]

    def median(self, value: str) -> float:
        pick = {"wall": lambda d: d.run.wall_s, "other": lambda d: d.other}
        return median(pick[value](d) if value in pick else d.step(value) for d in self.dailies)


def synthetic_csv(path: Path, tickers: list[str], days: list[date]) -> Path:
    """Bars for every ticker in tushare Pro's `daily` CSV layout (what CsvSource reads)."""
    index = pd.DatetimeIndex(days)
    frames = []
    for i, ticker in enumerate(tickers):
        bars = synthetic_bars(index, seed=100 + i)
        bars = bars.rename(columns={"volume": "vol"}).assign(ts_code=ticker)
        frames.append(bars.assign(trade_date=bars["trade_date"].dt.strftime("%Y%m%d")))
    pd.concat(frames).to_csv(path, index=False, na_rep="")
    return path


def measure(root: Path, count: int, repeats: int, env_extra: dict[str, str]) -> Scaled:
    days = trading_days(date(2020, 1, 1), LAST_DAY)[-HISTORY_DAYS:]
    tickers = [f"{600000 + i:06d}.SH" for i in range(count)]
    csv = synthetic_csv(root / "bars.csv", tickers, days)
    settings = {**env_extra, "FORECASTER_CSV_PATH": str(csv), "FORECASTER_TICKERS": ",".join(tickers)}
    first = root / "first"
    setup = timed(_run(days[-2]), data_env(first, **{**settings, **SETUP_ENV}), cwd=root)
    dailies = []
    for r in range(repeats):
        data = copy_data_dir(first, root / f"daily-{r}")
        dailies.append(Daily(timed(_run(days[-1]), data_env(data, **settings), cwd=root), last_run_record(data)))
    return Scaled(count, setup.wall_s, dailies)


def _run(as_of: date) -> list[str]:
    return forecaster_command("run", "--as-of", as_of.isoformat(), "--source", "csv")


def bench(opts: Options) -> list[Section]:
    counts = QUICK_COUNTS if opts.quick else FULL_COUNTS
    results = []
    for count in counts:
        with tempfile.TemporaryDirectory() as tmp:
            results.append(measure(Path(tmp), count, opts.repeats, opts.child_env))
    return [scaling_section(results, opts)]


def scaling_section(results: list[Scaled], opts: Options) -> Section:
    rows: list[list[Cell]] = []
    previous: Scaled | None = None
    for s in results:
        wall = s.median("wall")
        marginal = None if previous is None else (wall - previous.median("wall")) / (s.tickers - previous.tickers)
        steps: list[Cell] = [s.median(name) for name in (*STEPS, "other")]
        rows.append(
            [s.tickers, wall, wall / s.tickers, marginal, *steps, describe_actions(s.dailies[0].record.actions)]
        )
        previous = s
    first, last = results[0], results[-1]
    per_ticker = (last.median("wall") - first.median("wall")) / (last.tickers - first.tickers)
    notes = [
        f"Synthetic bars, {HISTORY_DAYS} trading days per ticker to {LAST_DAY}; the models were trained by an "
        "untimed first run (at most 3 epochs), then the daily run on the last day is timed: median of "
        f"{opts.repeats} fresh process(es), each from a copy of the same state.",
        "Step seconds are the run row's own timings (summed over tickers): predict includes writing the forecast "
        "rows; DB is loading bars and filling actuals; model files is loading and saving versions (where the "
        "run's clock times them); other is the rest of the wall time: start-up (imports, schema check), model "
        "saves the clock does not time, the HTML report. Marginal: extra seconds per extra ticker against the "
        "row above.",
    ]
    if opts.quick:
        notes.insert(0, f"{QUICK_NOTE}; 1 and 4 tickers only (not 16).")
    return Section(
        name="scaling",
        title="Scaling: daily run for more tickers",
        headers=[
            "tickers",
            "wall s",
            "s / ticker",
            "marginal s / ticker",
            *(f"{n} s" for n in (*STEPS, "other")),
            "models",
        ],
        rows=rows,
        notes=notes,
        headline=[
            (
                f"daily run, seconds per extra ticker ({first.tickers}→{last.tickers}; goal ≤ {GOAL_PER_TICKER_S:g})",
                per_ticker,
            )
        ],
        raw={"results": [_raw(s) for s in results]},
    )


def _raw(s: Scaled) -> dict[str, object]:
    return {
        "tickers": s.tickers,
        "setup_s": s.setup_s,
        "dailies": [{"wall_s": d.run.wall_s, "peak_mb": d.run.peak_mb, "timings": d.record.timings} for d in s.dailies],
    }
