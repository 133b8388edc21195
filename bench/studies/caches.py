"""Do the per-process caches still pay with one network per kind? A day of the pooled routine with
and without them.

    python -m bench.studies.caches [--days N] [--variants warm,cold]

The bundled offline universe (12 tickers) in a fresh database, the three networks trained as of the
day before a range of trading days (untimed), then the routine replayed over the range day by day
as a backfill with daily fine-tunes does it (`run_routine`, between=finetune, no plots), in one
process per variant:

- warm: as the product runs: one compiled trainer per network shape (model/trainers), one resident
  network per shape with its predict function traced once (model/resident, model/trainers);
- cold: every cache emptied before each day (`forget_trainers`, `forget_residents`,
  Keras' session cleared), so each day compiles, traces and builds afresh, as a product without
  them would.

Reported: each day's wall seconds after the first (median, min, max) and the train and forecast
steps of the run's own clock. The Adam state carried by a fine-tune is a question of accuracy, not
time; the optimizer study answered it.
"""

import argparse
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from statistics import median
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from forecaster.config import Settings

START = date(2020, 3, 2)  # the range's first as-of; the networks are trained as of the day before


def _setup(folder: Path) -> "tuple[Settings, sessionmaker[Session], list[date]]":
    from forecaster.config import BUNDLED_MARKET, load_settings
    from forecaster.ingest.sources.csvfile import CsvSource
    from forecaster.ingest.update import ingest_ticker
    from forecaster.market.calendar import trading_days
    from forecaster.routine.driver import RoutineOptions
    from forecaster.routine.pipeline import run_routine
    from forecaster.storage.db import open_database, session_factory

    settings = load_settings(data_dir=folder / "data")
    factory = session_factory(open_database(settings.db_url))
    for ticker in settings.training_universe():
        assert ingest_ticker(factory, CsvSource(BUNDLED_MARKET), ticker, today=date(2020, 4, 24)).ok
    days = trading_days(date(2020, 2, 24), date(2020, 4, 24))
    first = days.index(START)
    options = RoutineOptions(kinds=("rnn", "lstm", "gru"), as_of=days[first - 1], plots=False)
    report = run_routine(settings, factory, tickers=settings.tickers, options=options, source=None, today=days[-1])
    assert report.ok
    return settings, factory, days[first:]


def _empty_caches() -> None:
    import keras

    from forecaster.model.resident import forget_residents
    from forecaster.model.trainers import forget_trainers

    forget_trainers()
    forget_residents()
    keras.backend.clear_session()


def walk(variant: str, days: int) -> list[dict[str, float]]:
    """One process's walk: each day's wall seconds and its run's train and forecast steps."""
    from forecaster.routine.driver import RoutineOptions
    from forecaster.routine.pipeline import run_routine

    with tempfile.TemporaryDirectory() as tmp:
        settings, factory, range_ = _setup(Path(tmp))
        rows = []
        for day in range_[:days]:
            if variant == "cold":
                _empty_caches()
            options = RoutineOptions(kinds=("rnn", "lstm", "gru"), as_of=day, plots=False, force="finetune")
            started = time.perf_counter()
            report = run_routine(settings, factory, tickers=settings.tickers, options=options, source=None, today=day)
            wall = time.perf_counter() - started
            assert report.ok
            rows.append(
                {
                    "wall": wall,
                    "train": report.timings.get("train", 0.0),
                    "forecast": report.timings.get("forecast", 0.0),
                }
            )
        return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=8, help="days replayed per variant (default 8)")
    parser.add_argument("--variants", default="warm,cold", help="comma-separated: warm, cold")
    args = parser.parse_args(argv)
    print("variant  days  wall s median (min..max)  train s median  forecast s median")
    for variant in args.variants.split(","):
        rows = walk(variant, args.days)[1:]  # the first day pays every variant's first compile
        walls = [r["wall"] for r in rows]
        print(
            f"{variant:<8} {len(rows):>4}  {median(walls):>6.2f} ({min(walls):.2f}..{max(walls):.2f})"
            f"  {median(r['train'] for r in rows):>14.2f}  {median(r['forecast'] for r in rows):>17.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
