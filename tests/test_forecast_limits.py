"""Forecasts held inside the next days' price limits: every model's quantiles, point and issued
intervals, for a *ST stock (5 %), a ChiNext one (20 %), and none for an index."""

from datetime import UTC, date, datetime

import pandas as pd
from sqlalchemy import select, text

from forecaster.market.calendar import BUILTIN
from forecaster.market.limits import PriceLimits, limit_prices, rate_of, st_on
from forecaster.routine.limits import forecast_limits
from forecaster.storage.db import transaction
from forecaster.storage.limits import name_periods_of, replace_name_periods, upsert_limit_prices
from forecaster.storage.schema import Bar, Forecast, Listing
from tests.helpers import TICKER, pipeline_settings, ready_db, routine

QCOLS = "q025, q050, q100, q250, q500, q750, q900, q950, q975"


def _listed_as(factory, ticker: str, name: str, kind: str = "stock", list_date: date = date(2001, 8, 27)) -> None:
    with transaction(factory) as s:
        s.merge(
            Listing(
                ticker=ticker, kind=kind, name=name, market="主板", exchange="SSE", list_status="L",
                list_date=list_date, delist_date=None, source="tushare", updated_at=datetime(2026, 1, 1, tzinfo=UTC),
            )
        )  # fmt: skip


def _shaken(factory) -> None:
    """The stored closes moved 8 % up and down on alternate days: the baselines' 95 % ranges
    then reach far past a 5 % (and a 20 %) limit."""
    with transaction(factory) as s:
        for i, bar in enumerate(s.scalars(select(Bar).order_by(Bar.trade_date))):
            bar.close *= 1.08 if i % 2 else 0.92


def _run(tmp_path, name, kind="stock"):
    settings = pipeline_settings(tmp_path, horizon=2)
    factory = ready_db(settings)
    _shaken(factory)
    _listed_as(factory, TICKER, name, kind)
    assert routine(settings, factory, kinds=()).ok
    with factory() as s:
        last = s.scalars(select(Forecast.last_close)).first()
        rows = s.execute(text(f"select model, horizon, yhat, lo95, hi95, {QCOLS} from forecasts")).all()
    return last, rows


def test_a_star_st_stock_is_clipped_to_its_5_pct_limits(tmp_path):
    last, rows = _run(tmp_path, "*ST测试")
    bands = PriceLimits(last, (0.05, 0.05)).bands()
    assert bands[0] == limit_prices(last, 0.05)
    for model, h, yhat, lo95, hi95, *qs in rows:
        lo, hi = bands[h - 1]
        assert all(lo <= p <= hi for p in [yhat, lo95, hi95, *qs]), (model, h)
        # Each baseline's 95 % range reached past both limits: it now sits exactly at them.
        assert (lo95, hi95, qs[0], qs[-1]) == (lo, hi, lo, hi), (model, h)


def test_an_index_is_not_clipped(tmp_path):
    last, rows = _run(tmp_path, "上证测试指数", kind="index")
    lo, hi = limit_prices(last, 0.10)
    assert all(lo95 < lo and hi95 > hi for _, h, _, lo95, hi95, *_ in rows if h == 1)


def test_a_chinext_stock_has_20_pct_and_its_first_days_none(factory):
    _listed_as(factory, "300999.SZ", "测试", list_date=date(2024, 5, 27))
    days = pd.bdate_range("2024-05-27", "2024-06-03")  # its first 6 trading days
    bars = pd.DataFrame({"close": [10.0] * len(days)}, index=days)
    limits = forecast_limits(factory, "300999.SZ", bars, date(2024, 6, 3), 2, BUILTIN)
    assert limits.pcts == (0.20, 0.20) and limits.bands()[0] == (8.0, 12.0)
    young = forecast_limits(factory, "300999.SZ", bars.iloc[:3], date(2024, 5, 29), 3, BUILTIN)
    assert young.pcts == (None, None, 0.20)  # its 4th and 5th days are free, the 6th is limited
    assert young.bands() == [None, None, None]


def test_st_is_read_per_day_from_the_names_over_time(factory):
    """The stock is ST until 2024-06-04 by namechange (its listing's name is no longer ST): the
    first target day is under 5 %, the next under the main board's 10 %."""
    _listed_as(factory, "600998.SH", "摘帽股份")
    with transaction(factory) as s:
        now = datetime(2026, 1, 1, tzinfo=UTC)
        replace_name_periods(s, "600998.SH", [(date(2020, 1, 2), date(2024, 6, 4), "*ST某某")], now)
        assert name_periods_of(s, ["600998.SH"]) == {"600998.SH": [(date(2020, 1, 2), date(2024, 6, 4), "*ST某某")]}
    bars = pd.DataFrame(
        {"close": [10.0, 10.0], "pre_close": [10.0, 10.0]}, index=pd.bdate_range("2024-05-30", periods=2)
    )
    limits = forecast_limits(factory, "600998.SH", bars, date(2024, 5, 31), 3, BUILTIN)
    assert limits.pcts == (0.05, 0.05, 0.10)  # 3 and 4 June ST, 5 June not
    assert st_on(date(2024, 6, 5), [], "*ST某某") and not st_on(date(2024, 6, 5), None, "某某")


def test_the_exchanges_limit_prices_are_preferred_where_stored(factory):
    """stk_limit's prices of the first target day replace the rule's (a replay); the as-of day's
    carry its rate to the days after it (an evening run): 5 % here, though the name says not ST."""
    _listed_as(factory, "600997.SH", "某某股份")
    days = pd.bdate_range("2024-05-30", periods=2)
    bars = pd.DataFrame({"close": [10.0, 10.0], "pre_close": [10.0, 10.0]}, index=days)
    stored = pd.DataFrame({"trade_date": [days[-1]], "up_limit": [10.5], "down_limit": [9.5]})
    with transaction(factory) as s:
        assert upsert_limit_prices(s, "600997.SH", stored, "tushare", datetime(2026, 1, 1, tzinfo=UTC)) == 1
    limits = forecast_limits(factory, "600997.SH", bars, date(2024, 5, 31), 2, BUILTIN)
    assert limits.pcts == (0.05, 0.05) and limits.bands() == [(9.5, 10.5), (9.03, 11.03)]
    replay = pd.DataFrame({"trade_date": [pd.Timestamp("2024-06-03")], "up_limit": [11.11], "down_limit": [9.09]})
    with transaction(factory) as s:
        upsert_limit_prices(s, "600997.SH", replay, "tushare", datetime(2026, 1, 1, tzinfo=UTC))
    first = forecast_limits(factory, "600997.SH", bars, date(2024, 5, 31), 2, BUILTIN).bands()
    assert first == [(9.09, 11.11), (8.64, 11.67)]  # day 2 compounded from the stored prices at 5 %
    assert rate_of(0.9, (0.86, 0.95)) == 0.05  # at a low price the rounded ratio is off; the nearest rate
