"""tushare's answers as the frames a source hands back: bars in time order, adjustment factors,
limit prices."""

import pandas as pd

from forecaster.errors import SourceError
from forecaster.ingest.sources.base import BAR_COLUMNS, FACTOR_COLUMNS, LIMIT_COLUMNS


def bar_frame(daily: pd.DataFrame, ticker: str) -> pd.DataFrame:
    if daily.empty:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in BAR_COLUMNS}).astype(
            {"trade_date": "datetime64[ns]"}
        )
    if "ts_code" in daily and (daily["ts_code"] != ticker).any():
        raise SourceError(f"tushare answered rows of another ticker than {ticker}")
    frame = daily.rename(columns={"vol": "volume"})
    frame["trade_date"] = pd.to_datetime(frame["trade_date"].astype(str), format="%Y%m%d", errors="coerce")
    for column in BAR_COLUMNS:
        if column not in frame:
            frame[column] = float("nan")
    # Answers come newest first; everything downstream wants time order.
    return frame[BAR_COLUMNS].sort_values("trade_date", kind="stable").reset_index(drop=True)


def factor_frame(raw: pd.DataFrame) -> pd.DataFrame:
    frame = raw.copy()
    frame["trade_date"] = pd.to_datetime(frame["trade_date"].astype(str), format="%Y%m%d", errors="coerce")
    frame["adj_factor"] = pd.to_numeric(frame["adj_factor"], errors="coerce")
    frame = frame.dropna(subset=["trade_date", "adj_factor"])
    frame = frame[frame["adj_factor"] > 0]
    return frame[FACTOR_COLUMNS].sort_values("trade_date").reset_index(drop=True)


def limit_frame(raw: pd.DataFrame) -> pd.DataFrame:
    """`stk_limit` rows as `LIMIT_COLUMNS`, in time order; rows without both prices dropped."""
    frame = raw.copy()
    frame["trade_date"] = pd.to_datetime(frame["trade_date"].astype(str), format="%Y%m%d", errors="coerce")
    for column in ("up_limit", "down_limit"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    frame = frame.dropna(subset=LIMIT_COLUMNS)
    return frame[LIMIT_COLUMNS].sort_values("trade_date").reset_index(drop=True)
