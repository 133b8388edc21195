"""The routine's online calibration step: each forecast's intervals as issued, from the model's
quantiles and its matured forecasts' hits and misses (the rule is in model/intervals.py).

Per (ticker, model, horizon, interval): the factor is derived from the counts of the forecasts
whose target day is on or before the as-of date, so it reads nothing the day could not know, and
writing the day again (a rerun, a resumed backfill) finds the same counts.
"""

from datetime import date

from sqlalchemy.orm import Session

from forecaster.model.forecasting import Point
from forecaster.model.intervals import MEDIAN, Interval, calibrated, scale, widened
from forecaster.storage.quantiles import Tally, interval_tallies


def scales_for(tally: Tally) -> dict[float, float]:
    return {0.80: scale(tally.n, tally.misses80, 0.80), 0.95: scale(tally.n, tally.misses95, 0.95)}


def issue(session: Session, ticker: str, model: str, as_of: date, forecast: list[Point]) -> list[Interval | None]:
    """One calibrated interval per point, none narrower than the horizon before; all None for a
    forecast without quantiles (a forecast has them at every horizon or at none)."""
    quantiles = [p.quantiles for p in forecast if p.quantiles is not None]
    if len(quantiles) < len(forecast):
        return [None] * len(forecast)
    tallies = interval_tallies(session, ticker, model, as_of=as_of)
    issued = [
        calibrated(q, scales_for(tallies.get(p.horizon, Tally()))) for p, q in zip(forecast, quantiles, strict=True)
    ]
    return list(widened(issued, [q[MEDIAN] for q in quantiles]))
