"""Scoring stored forecasts: accuracy per (ticker, model, horizon) over a date range.

Only matured forecasts (actual known) count. The headline is `rel_mae`: the model's MAE divided
by naive's on exactly the same (as_of, target_date) pairs; < 1 means the model beat naive there.
Intervals are scored on the forecasts that have them (NaN where a model has none): coverage,
width and Winkler score of the intervals as issued, the pinball loss of the model's quantiles,
and `rel_pinball` against naive's on the same pairs. The significance columns (Diebold–Mariano
against naive and garch, Kupiec and Christoffersen p-values) come from scoring/comparison.py.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from forecaster.model.spec import BASELINES
from forecaster.scoring.comparison import (
    NO_PAIRS,
    SIGNIFICANCE_COLUMNS,
    Significance,
    baseline_losses,
    pooled,
    significance,
    with_losses,
)
from forecaster.scoring.intervals import coverage, width, winkler
from forecaster.scoring.metrics import Scores, naive_scale, score
from forecaster.storage.bars import load_bars
from forecaster.storage.quantiles import BAND_COLUMNS, QUANTILE_COLUMNS
from forecaster.storage.schema import Forecast

# The columns a score table shows, in order (CSV / JSON carry every field of as_dict()).
POINT_COLUMNS = ["ticker", "model", "horizon", "n", "mae", "rmse", "mape", "mase", "rel_mae", "hit_rate"]
INTERVAL_SCORES = ["coverage_80", "coverage_95", "width_80", "winkler_80", "pinball", "rel_pinball"]
SCORE_COLUMNS = [*POINT_COLUMNS, *INTERVAL_SCORES]
# `evaluate`'s table adds the significance columns a reader needs first (CSV / JSON carry all of them).
TABLE_COLUMNS = [*SCORE_COLUMNS, "dm_naive", "dm_garch", "kupiec80_p", "christoffersen80_p"]
NAN = float("nan")


@dataclass(frozen=True)
class IntervalScores:
    """Scores of the forecasts with intervals among a row's (n of them); NaN where there are none."""

    n: int = 0
    coverage_80: float = NAN
    coverage_95: float = NAN
    width_80: float = NAN
    winkler_80: float = NAN
    pinball: float = NAN
    rel_pinball: float = NAN  # pinball / naive's pinball on the same (as_of, target_date) pairs

    def as_dict(self) -> dict[str, object]:
        return {"n_intervals": self.n, **{name: getattr(self, name) for name in INTERVAL_SCORES}}


def interval_scores(rows: pd.DataFrame, naive: pd.Series) -> IntervalScores:
    """`rows`: one model's matured forecasts, from with_losses; `naive`: naive's paired_losses."""
    rows = rows[rows["lo80"].notna() & rows["q500"].notna()]
    if rows.empty:
        return IntervalScores()
    actual = rows["actual"].to_numpy(float)
    lo80, hi80 = rows["lo80"].to_numpy(float), rows["hi80"].to_numpy(float)
    loss = rows["loss"].to_numpy(float)
    naive_loss = naive.reindex(rows["pair"]).to_numpy(float)  # NaN: no naive quantiles on that pair
    has_naive = ~np.isnan(naive_loss)
    naive_pinball = float(np.mean(naive_loss[has_naive])) if has_naive.any() else NAN
    return IntervalScores(
        n=len(rows),
        coverage_80=coverage(lo80, hi80, actual),
        coverage_95=coverage(rows["lo95"].to_numpy(float), rows["hi95"].to_numpy(float), actual),
        width_80=width(lo80, hi80),
        winkler_80=winkler(lo80, hi80, actual, 0.80),
        pinball=float(np.mean(loss)),
        rel_pinball=float(np.mean(loss[has_naive])) / naive_pinball if naive_pinball > 0 else NAN,
    )


@dataclass(frozen=True)
class AccuracyRow:
    ticker: str
    model: str
    horizon: int
    first: date
    last: date
    scores: Scores
    rel_mae: float  # MAE / naive's MAE on the same (as_of, target_date) pairs
    intervals: IntervalScores = IntervalScores()
    significance: Significance = field(default_factory=Significance)

    def as_dict(self) -> dict[str, object]:
        s = self.scores
        return {
            "ticker": self.ticker,
            "model": self.model,
            "horizon": self.horizon,
            "n": s.n,
            "first_target": self.first.isoformat(),
            "last_target": self.last.isoformat(),
            "mae": s.mae,
            "rmse": s.rmse,
            "mape": s.mape,
            "mase": s.mase,
            "rel_mae": self.rel_mae,
            "hit_rate": s.hit_rate,
            "ties": s.ties,
            **self.intervals.as_dict(),
            **self.significance.as_dict(),
        }


def matured_forecasts(
    session: Session, *, tickers: Sequence[str] | None = None, since: date | None = None, until: date | None = None
) -> pd.DataFrame:
    """Forecasts with an actual, target day within [since, until]."""
    query = select(
        Forecast.ticker,
        Forecast.model,
        Forecast.horizon,
        Forecast.as_of,
        Forecast.target_date,
        Forecast.target,
        Forecast.yhat,
        Forecast.actual,
        Forecast.last_close,
        *(getattr(Forecast, c) for c in (*QUANTILE_COLUMNS, *BAND_COLUMNS)),
    ).where(Forecast.actual.is_not(None))
    if tickers:
        query = query.where(Forecast.ticker.in_(list(tickers)))
    if since is not None:
        query = query.where(Forecast.target_date >= since)
    if until is not None:
        query = query.where(Forecast.target_date <= until)
    rows = session.execute(query).all()
    columns = ["ticker", "model", "horizon", "as_of", "target_date", "target", "yhat", "actual", "last_close"]
    frame = pd.DataFrame(rows, columns=[*columns, *QUANTILE_COLUMNS, *BAND_COLUMNS])
    for name in (*QUANTILE_COLUMNS, *BAND_COLUMNS):  # None -> NaN, so empty columns stay numeric
        frame[name] = pd.to_numeric(frame[name], errors="coerce").astype(float)
    return frame


def training_scale(session: Session, ticker: str, target: str, before: date) -> float:
    """MASE's denominator: the in-sample one-step naive MAE over the history before `before`
    (the training window of the first forecast scored)."""
    bars = load_bars(session, ticker, until=before)
    bars = bars[bars.index < pd.Timestamp(before)]
    if len(bars) < 2:
        return float("nan")
    return naive_scale(bars[target].to_numpy()[1:], bars["close"].to_numpy()[:-1])


def accuracy(
    session: Session, *, tickers: Sequence[str] | None = None, since: date | None = None, until: date | None = None
) -> list[AccuracyRow]:
    return _accuracy_rows(session, with_losses(matured_forecasts(session, tickers=tickers, since=since, until=until)))


def _accuracy_rows(session: Session, frame: pd.DataFrame) -> list[AccuracyRow]:
    """The rows of `accuracy` for a frame of matured forecasts from with_losses (the session gives
    MASE's scale)."""
    out: list[AccuracyRow] = []
    scales: dict[tuple[str, str, date], float] = {}  # a ticker's horizons mostly share their first day
    for (ticker, horizon), group in frame.groupby(["ticker", "horizon"], sort=True):
        first = (str(ticker), str(group["target"].iloc[0]), min(group["as_of"]))
        scale = scales[first] = scales[first] if first in scales else training_scale(session, *first)
        by_model = {str(m): rows for m, rows in group.groupby("model", sort=False)}
        naive = by_model["naive"].set_index("pair")["yhat"] if "naive" in by_model else NO_PAIRS
        bases = baseline_losses(by_model)
        for model in model_order(by_model):
            rows = by_model[model]
            yhat, actual = rows["yhat"].to_numpy(float), rows["actual"].to_numpy(float)
            naive_mae, model_mae = _paired_mae(rows, naive)
            out.append(
                AccuracyRow(
                    ticker=str(ticker),
                    model=model,
                    horizon=int(horizon),  # type: ignore[call-overload]
                    first=min(rows["target_date"]),
                    last=max(rows["target_date"]),
                    scores=score(yhat, actual, rows["last_close"].to_numpy(float), scale),
                    rel_mae=model_mae / naive_mae if naive_mae > 0 else float("nan"),
                    intervals=interval_scores(rows, bases["naive"]),
                    significance=significance(rows, bases, int(horizon)),  # type: ignore[call-overload]
                )
            )
    return out


def _paired_mae(rows: pd.DataFrame, naive: pd.Series) -> tuple[float, float]:
    """naive's and the model's MAE on the pairs both have (`naive`: naive's yhat by pair)."""
    paired = rows["pair"].isin(naive.index).to_numpy()
    if not paired.any():
        return NAN, NAN
    actual = rows["actual"].to_numpy(float)[paired]
    naive_yhat = naive.reindex(rows["pair"][paired]).to_numpy(float)
    return float(np.mean(np.abs(naive_yhat - actual))), float(
        np.mean(np.abs(rows["yhat"].to_numpy(float)[paired] - actual))
    )


def model_order(names: Iterable[str]) -> list[str]:
    """The models in the order a score table lists them: the networks by name, then the baselines."""
    present = set(names)
    return sorted(present - set(BASELINES)) + [b for b in BASELINES if b in present]


def evaluation_rows(
    session: Session, *, tickers: Sequence[str] | None = None, since: date | None = None, until: date | None = None
) -> list[dict[str, object]]:
    """`accuracy`'s rows as dicts, then, with more than one ticker, the pooled rows (ticker "all",
    the DM columns filled; every other score empty) in the same model order."""
    return evaluation_rows_of(session, matured_forecasts(session, tickers=tickers, since=since, until=until))


def evaluation_rows_of(session: Session, frame: pd.DataFrame) -> list[dict[str, object]]:
    """The rows of `evaluation_rows` for a frame of matured forecasts (the report reads it once)."""
    lossed = with_losses(frame)  # once, for the per-ticker rows and the pooled ones
    rows = [r.as_dict() for r in _accuracy_rows(session, lossed)]
    if len({r["ticker"] for r in rows}) < 2:
        return rows
    order = {m: i for i, m in enumerate(model_order(frame["model"]))}
    blank = dict.fromkeys([*rows[0], *SIGNIFICANCE_COLUMNS])
    pooled_rows = sorted(pooled(lossed), key=lambda r: order[str(r["model"])])  # stable: horizons stay in order
    return rows + [blank | r for r in pooled_rows]
