"""The significance columns of a scores row, from stored forecasts (docs/models.md, "Is a difference real?").

Per (ticker, model, horizon): Diebold–Mariano of the model's pinball loss against `naive` and
against `garch` on the (as_of, target_date) pairs both have quantiles for, and Kupiec /
Christoffersen p-values of the issued 80 % and 95 % intervals. Pooled per (model, horizon) over
tickers: each ticker's differential is divided by its as-of close (so a 1,000-CNY stock does not
outweigh a 10-CNY one), the tickers' differentials are averaged per target day, and DM runs on
that one series; its HAC variance therefore carries the tickers' co-movement instead of counting
correlated tickers as independent evidence.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from forecaster.model.windows import FloatArray
from forecaster.scoring.intervals import misses, pinball_each
from forecaster.scoring.significance import Stat, christoffersen, diebold_mariano, kupiec
from forecaster.storage.quantiles import quantile_array

# The baselines every model's pinball is tested against, in column order.
DM_BASELINES = ("naive", "garch")
SIGNIFICANCE_COLUMNS = [
    "dm_naive", "dm_naive_p", "dm_garch", "dm_garch_p",
    "kupiec80_p", "kupiec95_p", "christoffersen80_p", "christoffersen95_p",
]  # fmt: skip
# A pair is target day * PAIR_STEP + as-of day (days since 1970): its target day is pair // PAIR_STEP.
PAIR_STEP = 100_000


@dataclass(frozen=True)
class Significance:
    """DM against each of DM_BASELINES, and the coverage tests at 80 % and 95 %."""

    dm: Mapping[str, Stat] = field(default_factory=dict)
    kupiec80: Stat = field(default_factory=Stat)
    kupiec95: Stat = field(default_factory=Stat)
    christoffersen80: Stat = field(default_factory=Stat)
    christoffersen95: Stat = field(default_factory=Stat)

    def as_dict(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for baseline in DM_BASELINES:
            stat = self.dm.get(baseline, Stat())
            out |= {f"dm_{baseline}": stat.statistic, f"dm_{baseline}_p": stat.p_value}
        for name in ("kupiec80", "kupiec95", "christoffersen80", "christoffersen95"):
            out[f"{name}_p"] = getattr(self, name).p_value
        return out


def with_losses(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` (matured forecasts) with `pair`, an integer per (target_date, as_of) that sorts as
    they do, and `loss`, each forecast's pinball loss (NaN without every quantile): computed once
    for the frame, so that a score table pairs a model with a baseline by an integer index (the
    per-model joins on dates were most of a daily report's scoring time)."""
    quantiles = quantile_array(frame)
    whole = ~np.isnan(quantiles).any(axis=1)
    loss = np.full(len(frame), np.nan)
    loss[whole] = pinball_each(quantiles[whole], frame["actual"].to_numpy(float)[whole])
    pair = _days(frame["target_date"]) * PAIR_STEP + _days(frame["as_of"])
    return frame.assign(pair=pair, loss=loss)


def _days(dates: pd.Series) -> npt.NDArray[np.int64]:
    return np.asarray(pd.to_datetime(dates).to_numpy("datetime64[D]").astype(np.int64))


def paired_losses(rows: pd.DataFrame) -> pd.Series:
    """The `loss` of `rows` (one ticker, model and horizon; from with_losses) by `pair`, NaN dropped."""
    return rows.set_index("pair")["loss"].dropna()


def significance(rows: pd.DataFrame, baselines: Mapping[str, pd.Series], horizon: int) -> Significance:
    """`rows`: one model's matured forecasts of one (ticker, horizon), from with_losses;
    `baselines`: paired_losses of each of DM_BASELINES on the same ticker and horizon (empty
    where it has none)."""
    losses = paired_losses(rows)
    dm = {name: diebold_mariano(_differential(losses, base), horizon) for name, base in baselines.items()}
    ordered = rows[rows["lo80"].notna()].sort_values("target_date")
    miss80, miss95 = (_misses(ordered, level) for level in ("80", "95"))
    # Overlapping h-step forecasts miss together by construction: independence only for h = 1.
    one_day = horizon == 1
    return Significance(
        dm=dm,
        kupiec80=kupiec(miss80, 0.80),
        kupiec95=kupiec(miss95, 0.95),
        christoffersen80=christoffersen(miss80) if one_day else Stat(),
        christoffersen95=christoffersen(miss95) if one_day else Stat(),
    )


def _misses(rows: pd.DataFrame, level: str) -> FloatArray:
    """Misses of the issued interval of that level ("80" or "95")."""
    return misses(
        rows[f"lo{level}"].to_numpy(float), rows[f"hi{level}"].to_numpy(float), rows["actual"].to_numpy(float)
    )


def _differential(losses: pd.Series, baseline: pd.Series) -> FloatArray:
    """model − baseline on the pairs both have (Series by `pair`), in target order."""
    base = baseline.reindex(losses.index).to_numpy(float)
    both = ~np.isnan(base)
    order = np.argsort(losses.index.to_numpy()[both], kind="stable")
    return np.asarray((losses.to_numpy(float)[both] - base[both])[order])


def baseline_losses(by_model: Mapping[str, pd.DataFrame]) -> dict[str, pd.Series]:
    """paired_losses of each of DM_BASELINES within one (ticker, horizon) group, split by model."""
    return {name: paired_losses(by_model[name]) if name in by_model else NO_PAIRS for name in DM_BASELINES}


NO_PAIRS = pd.Series([], dtype=float)  # a model absent from a group: nothing to pair with


def pooled_differential(rows: pd.DataFrame, baseline: pd.DataFrame) -> pd.Series:
    """The mean over tickers, per target day, of the per-close pinball differential of `rows`
    against `baseline` (both from with_losses: one horizon, any tickers), by target day."""
    mine, base = _per_close(rows), _per_close(baseline)
    d = (mine - base.reindex(mine.index)).dropna()
    return d.groupby(d.index.get_level_values("pair") // PAIR_STEP).mean().sort_index()


def _per_close(rows: pd.DataFrame) -> pd.Series:
    """Each forecast's loss over its as-of close (scale-free, for pooling) by (ticker, pair)."""
    index = pd.MultiIndex.from_arrays([rows["ticker"], rows["pair"]], names=["ticker", "pair"])
    return pd.Series((rows["loss"] / rows["last_close"]).to_numpy(float), index=index).dropna()


def pooled(frame: pd.DataFrame) -> list[dict[str, object]]:
    """Per (model, horizon) over every ticker of `frame` (matured forecasts from with_losses), DM
    against each of DM_BASELINES on the pooled differential; ticker "all", n = target days of the
    series against naive."""
    out: list[dict[str, object]] = []
    for (model, horizon), rows in frame.groupby(["model", "horizon"], sort=True):
        h = int(horizon)  # type: ignore[call-overload]
        same_h = frame[frame["horizon"] == h]
        row: dict[str, object] = {"ticker": "all", "model": str(model), "horizon": h}
        for name in DM_BASELINES:
            daily = pooled_differential(rows, same_h[same_h["model"] == name])
            stat = diebold_mariano(daily.to_numpy(), h)
            row |= {f"dm_{name}": stat.statistic, f"dm_{name}_p": stat.p_value}
            row.setdefault("n", len(daily))
        out.append(row)
    return out
