"""Builders the test modules share: tiny settings, seeded databases, sources. Test modules import
from here (and from conftest's fixtures), never from one another."""

import hashlib
import json
import os
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from sqlalchemy.orm import Session, sessionmaker

from forecaster.config import BUNDLED_CSV, Settings, load_settings
from forecaster.ingest.sources.csvfile import CsvSource, read_bar_csv
from forecaster.ingest.sources.tushare_pro import TushareSource
from forecaster.ingest.update import ingest_ticker
from forecaster.market.calendar import trading_days
from forecaster.model.forecasting import Point
from forecaster.model.spec import ModelSpec, TrainSpec
from forecaster.reporting.plotting import save_png
from forecaster.routine.driver import RoutineOptions
from forecaster.routine.pipeline import run_routine
from forecaster.routine.policy import Decision
from forecaster.routine.tasks import KindResult, ModelTask, ParentModel
from forecaster.storage.db import open_database, session_factory
from forecaster.storage.quantiles import interval_values
from forecaster.storage.records import record_plot
from forecaster.storage.schema import Bar, Forecast
from tests.tushare_server import DAILY_FIELDS, FakeTushare, synthetic_daily

# --- tiny networks --------------------------------------------------------------------------------


def bundled_bars(rows: int) -> pd.DataFrame:
    """The first `rows` bars of the bundled file, indexed by date, as a task receives bars."""
    frame = read_bar_csv(BUNDLED_CSV, "600519.SH").set_index("trade_date").sort_index().astype("float64")
    return frame.iloc[:rows]


def one_ticker_task(
    bars: pd.DataFrame, spec: ModelSpec, train: TrainSpec, decision: Decision, parent: ParentModel | None = None
) -> ModelTask:
    """A kind's task over a universe of one ticker (600519.SH), as of its last bar."""
    as_of = pd.Timestamp(bars.index[-1]).date()
    histories = {"600519.SH": bars}
    return ModelTask(spec.kind, as_of, "@test", histories, ("600519.SH",), spec, train, decision, parent)


def parent_of(result: KindResult, data: bytes | None = None) -> ParentModel:
    """The version a task result trained, as the registry reads it back for the next task (the
    scaler parameters through JSON text); `data` replaces its file's bytes (sha256 to match)."""
    trained = result.trained
    assert trained is not None
    scaler = json.loads(json.dumps(trained.scaler, sort_keys=True))
    data = trained.data if data is None else data
    return ParentModel(1, "m.keras", data, hashlib.sha256(data).hexdigest(), scaler, trained.spec)


def poison_after(factory: sessionmaker[Session], day: date, factor: float = 100.0) -> None:
    """Multiply every price after `day` by `factor`: a future no forecast as of `day` may see."""
    from sqlalchemy import text

    from forecaster.storage.db import transaction

    with transaction(factory) as session:
        session.execute(
            text(
                "update bars set open = open * :f, high = high * :f, low = low * :f, close = close * :f "
                "where trade_date > :d"
            ),
            {"f": factor, "d": day.isoformat()},
        )


# Tiny networks for tests (seconds, not minutes): one source for the settings object and for the
# environment that subprocess and CLI tests pass.
# universe "": the networks train over the tickers a test names, never the bundled universe.
TINY: dict[str, Any] = {
    "window": 10,
    "units": [4, 4],
    "max_epochs": 1,
    "patience": 1,
    "finetune_epochs": 1,
    "universe": "",
}


def tiny_settings(tmp_path: Path, **extra: Any) -> Settings:
    return load_settings(data_dir=tmp_path / "data", **{**TINY, **extra})


def tiny_env(**extra: Any) -> dict[str, str]:
    """TINY (and `extra`) as FORECASTER_* environment variables."""
    return {
        f"FORECASTER_{key.upper()}": ",".join(map(str, value)) if isinstance(value, list) else str(value)
        for key, value in {**TINY, **extra}.items()
    }


# --- the routine on the bundled file (tests of the pipeline, faults, backfill) --------------------

TICKER = "600519.SH"
TODAY = date(2026, 11, 27)
AS_OF = date(2011, 6, 30)  # about 290 bars of history: enough for window 10, quick to train
KINDS = ("rnn", "lstm", "gru")


def pipeline_settings(tmp_path: Path, **extra: Any) -> Settings:
    # Two epochs here, so early stopping and best-epoch selection have something to choose.
    return tiny_settings(tmp_path, **{"max_epochs": 2, "finetune_days": 60, "batch_size": 64, **extra})


def ready_db(settings: Settings) -> sessionmaker[Session]:
    factory = session_factory(open_database(settings.db_url))
    assert ingest_ticker(factory, CsvSource(BUNDLED_CSV), TICKER, today=TODAY).ok
    return factory


def routine(settings, factory, as_of=AS_OF, kinds=KINDS, **options):
    return run_routine(
        settings,
        factory,
        tickers=[TICKER],
        options=RoutineOptions(kinds=kinds, as_of=as_of, **options),
        source=None,
        today=TODAY,
    )


# --- stored forecasts without any training (tests of the read side and the report) ------------------

TICKERS = ("600519.SH", "000001.SZ")
MODELS = ("rnn", "naive", "drift")
DAYS = trading_days(date(2024, 1, 2), date(2024, 3, 29))  # 58 trading days
BARS = 50  # bars exist for the first 50 days; later targets are still pending
RNN_BIAS = 0.3
Z = (-1.96, -1.645, -1.2816, -0.6745, 0.0, 0.6745, 1.2816, 1.645, 1.96)  # standard normal quantiles


def close_of(ticker: str, i: int) -> float:
    # A zig-zag, so that direction hits and misses both occur.
    return 10.0 + TICKERS.index(ticker) + 0.1 * i + (0.25 if i % 3 == 0 else 0.0)


def seed_forecasts(
    session: Session, tickers: Sequence[str] = TICKERS, models: Sequence[str] = MODELS, horizons: Sequence[int] = (1, 2)
) -> None:
    """Bars for the first BARS days and one forecast per (ticker, model, as_of, horizon) as of each
    of them: naive = last close, drift = last close + 0.05 h, rnn = last close + RNN_BIAS."""
    now = datetime(2024, 4, 1, tzinfo=UTC)
    for ticker in tickers:
        for i in range(BARS):
            c = close_of(ticker, i)
            session.add(
                Bar(
                    ticker=ticker,
                    trade_date=DAYS[i],
                    open=c,
                    high=c + 0.1,
                    low=c - 0.1,
                    close=c,
                    pre_close=None,
                    volume=1000.0,
                    amount=None,
                    source="test",
                    ingested_at=now,
                )
            )
            for model in models:
                for h in horizons:
                    offset = {"naive": 0.0, "drift": 0.05 * h, "rnn": RNN_BIAS}[model]
                    # naive alone has quantiles (a spread of 0.2 a day), as a network without them would not.
                    spread = tuple(c + 0.2 * np.sqrt(h) * z for z in Z) if model == "naive" else None
                    point = Point(DAYS[i + h], h, c + offset, spread)
                    session.add(
                        Forecast(
                            **interval_values(point, None),
                            ticker=ticker,
                            model=model,
                            model_version_id=None,
                            run_id=None,
                            as_of=DAYS[i],
                            target_date=DAYS[i + h],
                            horizon=h,
                            target="close",
                            yhat=c + offset,
                            last_close=c,
                            actual=close_of(ticker, i + h) if i + h < BARS else None,
                            created_at=now,
                        )
                    )


# --- a synthetic ticker in a CSV (tests of the backfill and the online calibration) -------------

SYNTHETIC_TICKER = "000001.SZ"


def synthetic_csv(folder: Path) -> Path:
    """SYNTHETIC_TICKER's tushare-layout bars for 2023-01-03..2023-08-31, in a CSV under `folder`."""
    rows = synthetic_daily(SYNTHETIC_TICKER, date(2023, 1, 3), date(2023, 8, 31), seed=3, price=20.0)
    path = folder / "synthetic.csv"
    pd.DataFrame(rows, columns=DAILY_FIELDS).to_csv(path, index=False)
    return path


# --- the tushare client against the local stand-in --------------------------------------------------


def make_source(
    fake: FakeTushare,
    *,
    token: str | None = None,
    total: float = 5.0,
    timeout: float = 5.0,
    history_start: date = date(2024, 1, 1),
    wall_clock: bool = True,
) -> tuple[TushareSource, list[float]]:
    """A source whose backoff sleeps are recorded, not slept: the clock it sees still moves by
    them, so the total time bound is exercised as in real use. `wall_clock=False`: the clock
    moves by the sleeps only, so a bound tighter than a request's own time on a busy machine
    is still reached through the backoff alone."""
    sleeps: list[float] = []
    start = time.monotonic()
    source = TushareSource(
        token or fake.token,
        fake.url,
        timeout_s=timeout,
        retry_base_s=0.01,
        retry_total_s=total,
        history_start=history_start,
        row_limit=fake.row_limit,
        sleep=sleeps.append,
        clock=lambda: (time.monotonic() if wall_clock else start) + sum(sleeps),
    )
    return source, sleeps


# --- strict JSON ------------------------------------------------------------------------------------


def strict_loads(text: str) -> Any:
    """json.loads as JavaScript's JSON.parse or Go's encoding/json read it: NaN and Infinity refused."""

    def refuse(name: str) -> None:
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


# --- traces -----------------------------------------------------------------------------------------


def count_steps(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How often any Keras model's train and predict step runs as Python from now on, by name.
    Inside a traced function the Python runs once per trace, eagerly once per batch: so a count
    of 1 over several batch sizes is one trace for all of them. Only networks made after the call
    are counted (a traced function keeps the step it was given)."""
    import keras

    counts: Counter[str] = Counter()
    for name in ("train_step", "predict_step"):
        original = getattr(keras.Model, name)

        def counted(self: Any, data: Any, _name: str = name, _original: Any = original) -> Any:
            counts[_name] += 1
            return _original(self, data)

        monkeypatch.setattr(keras.Model, name, counted)
    return counts


def subprocess_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a `forecaster` subprocess: tiny models, data under `tmp_path`, this checkout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORECASTER_")}
    env.update(
        tiny_env(),
        FORECASTER_DATA_DIR=str(tmp_path / "data"),
        PYTHONPATH=str(Path(__file__).resolve().parent.parent),
        **extra,
    )
    return env


def wait_for(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def recorded_plot(data_dir: Path, ticker: str, kind: str, session: Session) -> None:
    """A small real PNG where the routine would write it, and its `plots` row."""
    fig = Figure(figsize=(3, 2))
    fig.subplots().plot([0, 1, 2], [1, 3, 2])
    rel = Path("plots") / ticker / f"{DAYS[BARS - 1].isoformat()}-{kind}.png"
    save_png(fig, data_dir / rel)
    now = datetime(2024, 4, 1, tzinfo=UTC)
    record_plot(session, ticker=ticker, as_of=DAYS[BARS - 1], kind=kind, path=rel.as_posix(), run_id=None, now=now)
