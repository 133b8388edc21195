"""Quantiles and intervals on forecast rows (migration 0010): their columns, the counts the
online calibration is derived from, and the champion view. Every function takes the caller's
Session and never commits."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Final

import numpy as np
from sqlalchemy import case, func, select, text
from sqlalchemy.orm import Session

from forecaster.model.forecasting import Point
from forecaster.model.intervals import QUANTILE_LEVELS, Interval, calibrated
from forecaster.model.windows import FloatArray
from forecaster.storage.schema import Bar, Forecast

# q025 .. q975: one column per level, named by the level in thousandths.
QUANTILE_COLUMNS: Final[tuple[str, ...]] = tuple(f"q{round(level * 1000):03d}" for level in QUANTILE_LEVELS)
BAND_COLUMNS: Final[tuple[str, ...]] = ("lo80", "hi80", "lo95", "hi95")
INTERVAL_COLUMNS: Final[tuple[str, ...]] = (*BAND_COLUMNS, "scale80", "scale95")


def interval_values(point: Point, interval: Interval | None) -> dict[str, float | None]:
    """The 0010 columns of one forecast row: NULL throughout for a forecast without quantiles;
    with quantiles and no calibration given, the model's own intervals (factor 1)."""
    if point.quantiles is None:
        return dict.fromkeys((*QUANTILE_COLUMNS, *INTERVAL_COLUMNS))
    chosen = interval or calibrated(point.quantiles)
    values: dict[str, float | None] = dict(zip(QUANTILE_COLUMNS, point.quantiles, strict=True))
    values.update({name: float(getattr(chosen, name)) for name in INTERVAL_COLUMNS})
    return values


def quantile_array(frame: Any) -> FloatArray:
    """(n, levels) prices from a frame (or row mapping) with the quantile columns."""
    return np.asarray(frame[list(QUANTILE_COLUMNS)], dtype=np.float64)


@dataclass(frozen=True)
class Tally:
    """Matured forecasts of one (ticker, model, horizon) with intervals, and their misses."""

    n: int = 0
    misses80: int = 0
    misses95: int = 0


def interval_tallies(session: Session, ticker: str, model: str, *, as_of: date) -> dict[int, Tally]:
    """Per horizon: the forecasts whose target day is on or before `as_of` (so known then),
    scored against the bars directly rather than `actual`, which is filled at the end of a run:
    the same answer whether the day is replayed by a backfill or run live."""
    actual = case((Forecast.target == "open", Bar.open), else_=Bar.close)
    outside80 = (actual < Forecast.lo80) | (actual > Forecast.hi80)
    outside95 = (actual < Forecast.lo95) | (actual > Forecast.hi95)
    rows = session.execute(
        select(
            Forecast.horizon,
            func.count(),
            func.sum(case((outside80, 1), else_=0)),
            func.sum(case((outside95, 1), else_=0)),
        )
        .join(Bar, (Bar.ticker == Forecast.ticker) & (Bar.trade_date == Forecast.target_date))
        .where(
            Forecast.ticker == ticker,
            Forecast.model == model,
            Forecast.target_date <= as_of,
            Forecast.lo80.is_not(None),
        )
        .group_by(Forecast.horizon)
    ).all()
    return {int(h): Tally(int(n), int(m80 or 0), int(m95 or 0)) for h, n, m80, m95 in rows}


CHAMPION_COLUMNS: Final[list[str]] = ["ticker", "horizon", "model", "n", "pinball", "naive_pinball", "rel_pinball"]


def champions(session: Session, *, tickers: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """The rows of v_champion (one per ticker and horizon), ordered by ticker and horizon."""
    rows = session.execute(
        text(f"SELECT {', '.join(CHAMPION_COLUMNS)} FROM v_champion ORDER BY ticker, horizon")  # fixed names, no input
    ).all()
    wanted = set(tickers or [])
    return [dict(zip(CHAMPION_COLUMNS, r, strict=True)) for r in rows if not wanted or r[0] in wanted]
