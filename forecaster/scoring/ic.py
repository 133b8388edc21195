"""The cross-section's signal metrics (qlib's): does a model rank tomorrow's movers?

On each as-of day with at least `min_tickers` tickers, the information coefficient (IC) is the
Pearson correlation across tickers between the forecast return (yhat / last close - 1) and the
realised one (actual / last close - 1) of the one-day-ahead forecasts; the Rank IC is the same
on ranks (Spearman). Per model: their means, ICIR (mean / standard deviation over days) and the
share of days with a positive IC.
"""

import numpy as np
import pandas as pd

MIN_TICKERS = 5
IC_COLUMNS = ["model", "days", "ic", "icir", "ic_positive", "rank_ic", "rank_icir", "rank_ic_positive"]


def daily_ic(frame: pd.DataFrame, min_tickers: int = MIN_TICKERS) -> pd.DataFrame:
    """(as_of, ic, rank_ic) per day of one model's matured one-day-ahead forecasts."""
    data = frame.assign(
        forecast=frame["yhat"] / frame["last_close"] - 1.0, realised=frame["actual"] / frame["last_close"] - 1.0
    )
    out = []
    for as_of, day in data.groupby("as_of", sort=True):
        if day["ticker"].nunique() < min_tickers:
            continue
        ic = day["forecast"].corr(day["realised"])
        rank_ic = day["forecast"].rank().corr(day["realised"].rank())
        out.append({"as_of": as_of, "ic": ic, "rank_ic": rank_ic})
    return pd.DataFrame(out, columns=["as_of", "ic", "rank_ic"])


def _summary(values: pd.Series) -> tuple[float, float, float]:
    values = values.dropna()  # a day whose forecasts are all equal has no correlation
    if values.empty:
        return np.nan, np.nan, np.nan
    sd = float(values.std(ddof=1)) if len(values) > 1 else np.nan
    mean = float(values.mean())
    return mean, mean / sd if sd > 0 else np.nan, float((values > 0).mean())


def ic_rows(frame: pd.DataFrame, min_tickers: int = MIN_TICKERS) -> list[dict[str, object]]:
    """One row per model with days of `min_tickers` or more (matured, one day ahead)."""
    frame = frame[(frame["horizon"] == 1) & frame["actual"].notna()]
    rows: list[dict[str, object]] = []
    for model, group in frame.groupby("model", sort=True):
        days = daily_ic(group, min_tickers)
        if days.empty:
            continue
        ic, icir, ic_pos = _summary(days["ic"])
        rank_ic, rank_icir, rank_pos = _summary(days["rank_ic"])
        rows.append(
            {"model": str(model), "days": len(days), "ic": ic, "icir": icir, "ic_positive": ic_pos}
            | {"rank_ic": rank_ic, "rank_icir": rank_icir, "rank_ic_positive": rank_pos}
        )
    return rows
