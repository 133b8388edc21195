"""Bars from tushare Pro (`daily`, `adj_factor`; `index_daily` for indexes) and the listings
(`stock_basic`, `index_basic`) through the real tushare client.

What the client does and does not do is in shared/docs/TUSHARE.md; in short: HTTP errors come
back as an *empty* DataFrame, API errors as a bare `Exception(msg)`, timeouts as `requests`
exceptions, and there is no retry. This module adds retries with backoff and a total time
bound, splits long ranges, and treats an empty answer for open days as the failure it is.
"""

import logging
import time
from collections import deque
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pandas as pd
import requests

from forecaster.clock import today_in
from forecaster.config import Settings
from forecaster.errors import (
    AuthError,
    EmptyAnswerError,
    RateLimitError,
    RefusedError,
    SourceError,
)
from forecaster.ingest.sources.base import Fetched
from forecaster.ingest.sources.tushare_frames import bar_frame, factor_frame, limit_frame
from forecaster.market.calendar import BUILTIN, EXCHANGE, TradingCalendar

log = logging.getLogger(__name__)

ROW_LIMIT = 6000  # rows per `daily` call; there is no offset paging, so we page by date
# stock_basic's list_status values: listed, delisted, paused, approved but not trading yet (the
# default answers L only).
LIST_STATUSES = ("L", "D", "P", "G")
STOCK_BASIC_FIELDS = "ts_code,name,market,exchange,list_status,list_date,delist_date"
INDEX_BASIC_FIELDS = "ts_code,name,market,list_date,exp_date"
NAMECHANGE_FIELDS = "ts_code,name,start_date,end_date"
_TOKEN_MARKERS = ("token",)
_RATE_MARKERS = ("每分钟", "最多访问", "频率", "rate limit")


def make_client(token: str, api_url: str, timeout_s: float) -> Any:
    """A tushare `DataApi` talking to `api_url`.

    The client has no public base-URL setting; the name-mangled class attribute is the only
    hook. We set it on this instance alone, so other clients in the process are unaffected.
    """
    import tushare as ts

    api = ts.pro_api(token, timeout=timeout_s)
    api._DataApi__http_url = api_url.rstrip("/")
    return api


class CallBudget:
    """At most `per_minute` calls in any 60 seconds: one budget for every call a source makes,
    so an ingest of many tickers paces itself instead of running into the service's limit.

    A sliding window, not a token bucket: the service counts calls per minute, and a full
    bucket's burst plus its refill would allow up to twice the limit within one minute.
    """

    def __init__(
        self,
        per_minute: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        window_s: float = 60.0,
    ) -> None:
        self.per_minute = per_minute
        self._clock, self._sleep, self._window_s = clock, sleep, window_s
        self._calls: deque[float] = deque()  # when the calls of the last window were made

    def acquire(self) -> float:
        """Wait, if need be, until one more call fits; returns the seconds waited."""
        waited = 0.0
        now = self._clock()
        while True:
            while self._calls and now - self._calls[0] >= self._window_s:
                self._calls.popleft()
            if len(self._calls) < self.per_minute:
                self._calls.append(now)
                return waited
            pause = self._calls[0] + self._window_s - now
            self._sleep(pause)
            waited += pause
            now = self._clock()


class TushareSource:
    name = "tushare"

    def __init__(
        self,
        token: str,
        api_url: str,
        *,
        timeout_s: float = 30.0,
        retry_base_s: float = 2.0,
        retry_total_s: float = 120.0,
        history_start: date = date(2010, 1, 1),
        timezone: str = "Asia/Shanghai",
        row_limit: int = ROW_LIMIT,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        calls_per_minute: int | None = None,
        today: Callable[[], date] | None = None,
        batch_from: int | None = None,
    ) -> None:
        self._token = token
        self.description = f"tushare Pro at {api_url}"
        self._api = make_client(token, api_url, timeout_s)
        self._retry_base_s = retry_base_s
        self._retry_total_s = retry_total_s
        self._history_start = history_start
        self._row_limit = row_limit
        self._sleep = sleep
        self._clock = clock
        self._today = today or (lambda: today_in(timezone))  # the exchange's date; tests pin it
        # One budget per source: the ingest loop uses one source for all its tickers.
        self.budget = CallBudget(calls_per_minute, clock=clock, sleep=sleep) if calls_per_minute else None
        # Codes the stored listings call indexes (ingest/listings.py sets them): `daily` does not
        # serve an index, `index_daily` does, in the same layout and without adjustment factors.
        self.indexes: frozenset[str] = frozenset()
        # From this many stored tickers on, the daily ingest asks by trade date (ingest/bydate.py).
        self.batch_from = batch_from
        self.calls = self.calls_by_date = 0  # for the ingest summary; retries count, as for the service
        # APIs this account was refused (api -> the refusal), not asked again by this source.
        self.refused: dict[str, str] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> "TushareSource":
        token = settings.token()
        if token is None:
            raise AuthError("no tushare token: set TUSHARE_TOKEN or FORECASTER_TUSHARE_TOKEN")
        return cls(
            token,
            settings.tushare_api_url,
            timeout_s=settings.tushare_timeout_s,
            retry_base_s=settings.tushare_retry_base_s,
            retry_total_s=settings.tushare_retry_total_s,
            history_start=settings.history_start,
            timezone=settings.timezone,
            calls_per_minute=settings.tushare_calls_per_minute,
            batch_from=settings.batch_ingest_from,
        )

    def fetch(self, ticker: str, start: date | None, end: date, calendar: TradingCalendar | None = None) -> Fetched:
        start = start or self._history_start
        expect_rows = self._expects_rows(start, end, calendar or BUILTIN)
        is_index = ticker in self.indexes
        daily = self._paged("index_daily" if is_index else "daily", ticker, start, end, expect_rows=expect_rows)
        fetched = Fetched(ticker, self.name, bar_frame(daily, ticker))
        if not daily.empty and not is_index:
            factors = self.optional("adj_factor", fetched.warnings, ts_code=ticker, start=start, end=end)
            fetched.factors = None if factors is None else factor_frame(factors)
            limits = self.optional("stk_limit", fetched.warnings, ts_code=ticker, start=start, end=end)
            fetched.limits = None if limits is None else limit_frame(limits)
        return fetched

    def optional(self, api_name: str, warnings: list[str], **asked: Any) -> pd.DataFrame | None:
        """The rows of an API lower account tiers are refused (`adj_factor`, `stk_limit`), asked
        by ts_code and range or by `trade_date`; None when refused, and after a refusal not asked
        again in this ingest (`calls_line` names it; without stk_limit the limits are computed).
        Only a refusal: a network failure fails the ingest whole, else the rows of these days
        would be missing for good (later ingests re-read only a few days)."""
        if api_name not in self.refused:
            # An empty answer where bars are is an HTTP error for the factors (they would be
            # missing for good); limit prices missing fall back to the rules.
            expect = api_name == "adj_factor"
            try:
                if "trade_date" in asked:
                    return self.query(api_name, expect_rows=expect, **asked)
                return self._paged(api_name, asked["ts_code"], asked["start"], asked["end"], expect_rows=expect)
            except RefusedError as exc:
                self.refused[api_name] = str(exc)
                log.warning("%s", exc)
        if api_name == "adj_factor":  # unadjusted bars are worth a word on each ticker's line
            warnings.append(f"adj_factor unavailable ({self.refused[api_name]}); bars stored unadjusted only")
        return None

    def trade_cal(self, start: date, end: date) -> pd.DataFrame:
        """SSE's calendar days in [start, end] (`exchange, cal_date, is_open, pretrade_date`), one
        row per day; an empty answer is an error (the client turns HTTP errors into empty frames)."""
        return self.query(
            "trade_cal",
            expect_rows=True,
            exchange=EXCHANGE,
            start_date=f"{start:%Y%m%d}",
            end_date=f"{end:%Y%m%d}",
            fields="exchange,cal_date,is_open,pretrade_date",
        )

    def stock_basic(self) -> pd.DataFrame:
        """Every A-share, listed, delisted, paused or about to list (one call each): `STOCK_BASIC_FIELDS`."""
        frames = [
            self.query("stock_basic", expect_rows=status == "L", list_status=status, fields=STOCK_BASIC_FIELDS)
            for status in LIST_STATUSES
        ]
        return pd.concat([f for f in frames if not f.empty], ignore_index=True)

    def namechange(self, ticker: str) -> pd.DataFrame:
        """`ticker`'s names over time (`NAMECHANGE_FIELDS`), where its ST periods show; raises
        `RefusedError` when the account lacks the API."""
        return self.query("namechange", expect_rows=False, ts_code=ticker, fields=NAMECHANGE_FIELDS)

    def index_basic(self) -> pd.DataFrame:
        """The indexes tushare knows: `INDEX_BASIC_FIELDS`."""
        return self.query("index_basic", expect_rows=True, fields=INDEX_BASIC_FIELDS)

    def _expects_rows(self, start: date, end: date, calendar: TradingCalendar) -> bool:
        # Today's bar lands between 15:00 and ~17:00 Beijing time: its absence is not an error.
        # Nor on days only estimated to be open: those may be holidays nobody has published yet.
        last_complete = min(end, self._today() - timedelta(days=1))
        return calendar.has_official_open_day(start, last_complete)

    def _paged(self, api_name: str, ticker: str, start: date, end: date, *, expect_rows: bool) -> pd.DataFrame:
        """All rows of [start, end]: answers are newest first and capped at the row limit, so a full
        page means older rows may remain; ask again up to the day before the oldest one."""
        pages: list[pd.DataFrame] = []
        page_end = end
        while page_end >= start:
            page = self.query(
                api_name,
                expect_rows=expect_rows and not pages,
                ts_code=ticker,
                start_date=f"{start:%Y%m%d}",
                end_date=f"{page_end:%Y%m%d}",
            )
            pages.append(page)
            if len(page) < self._row_limit:
                break
            oldest = pd.to_datetime(page["trade_date"], format="%Y%m%d").min().date()
            page_end = oldest - timedelta(days=1)
        frame = pd.concat(pages, ignore_index=True) if pages else pd.DataFrame()
        if not frame.empty:
            frame = frame.drop_duplicates(subset=["trade_date"], keep="first")
        return frame

    def query(self, api_name: str, *, expect_rows: bool, **params: Any) -> pd.DataFrame:
        deadline = self._clock() + self._retry_total_s
        attempt = 0
        while True:
            attempt += 1
            self.calls += 1
            self.calls_by_date += "trade_date" in params
            if self.budget is not None:
                # Retries count too (the service counts every call); pacing is not failing, so
                # the time spent waiting for the budget does not use up the retry bound.
                deadline += self.budget.acquire()
            try:
                frame: pd.DataFrame = self._api.query(api_name, **params)
                if frame.empty and expect_rows:
                    raise EmptyAnswerError(
                        f"tushare {api_name} returned nothing for {_asked(params)} although "
                        "the exchange was open (an HTTP error, an unknown ticker, or a suspension)"
                    )
                return frame
            except (requests.Timeout, requests.ConnectionError) as exc:
                error: SourceError = SourceError(f"tushare {api_name}: {type(exc).__name__}: {self._scrub(str(exc))}")
            except SourceError as exc:
                error = exc
            except Exception as exc:  # the client raises bare Exception(msg) for API errors
                error = self._classify(api_name, exc)
                if not isinstance(error, RateLimitError):
                    raise error from exc
            delay = self._retry_base_s * 2 ** (attempt - 1)
            if self._clock() + delay > deadline:
                raise type(error)(f"{error} (gave up after {attempt} tries)") from error
            log.warning("tushare %s failed (%s); retry %d in %.1fs", api_name, error, attempt, delay)
            self._sleep(delay)

    def _classify(self, api_name: str, exc: Exception) -> SourceError:
        message = self._scrub(str(exc))
        if any(m in message for m in _RATE_MARKERS):
            return RateLimitError(f"tushare {api_name} rate limit: {message}")
        if any(m in message.lower() for m in _TOKEN_MARKERS):
            return AuthError(f"tushare refused the token: {message}")
        return RefusedError(f"tushare {api_name} refused: {message}")

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text


def _asked(params: dict[str, Any]) -> str:
    what = params.get("ts_code", params.get("trade_date", params.get("exchange", params.get("list_status", ""))))
    return f"{what} {params['start_date']}..{params['end_date']}" if "start_date" in params else str(what)
