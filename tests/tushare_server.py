"""A local stand-in for tushare Pro's HTTP API, speaking its wire format (see TUSHARE.md).

The real tushare client talks to it; tests queue faults (HTTP errors, API error codes, slow
answers, dropped connections) to see how our source copes.
"""

import json
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

from forecaster.market.calendar import trading_days
from forecaster.market.limits import limit_prices

DAILY_FIELDS = [
    "ts_code",
    "trade_date",
    "open",
    "high",
    "low",
    "close",
    "pre_close",
    "change",
    "pct_chg",
    "vol",
    "amount",
]
BAD_TOKEN_MSG = "您的token不对，请确认。"
RATE_LIMIT_MSG = "抱歉，您每分钟最多访问该接口500次，权限的具体详情访问：https://tushare.pro/document/1?doc_id=108。"
TRADE_CAL_FIELDS = ["exchange", "cal_date", "is_open", "pretrade_date"]
STOCK_BASIC_FIELDS = ["ts_code", "name", "market", "exchange", "list_status", "list_date", "delist_date"]
INDEX_BASIC_FIELDS = ["ts_code", "name", "market", "list_date", "exp_date"]
STK_LIMIT_FIELDS = ["ts_code", "trade_date", "pre_close", "up_limit", "down_limit"]
NAMECHANGE_FIELDS = ["ts_code", "name", "start_date", "end_date"]
NO_PERMISSION_MSG = "抱歉，您没有访问该接口的权限，权限的具体详情访问：https://tushare.pro/document/1?doc_id=108。"


@dataclass
class Fault:
    """What to do instead of (or before) answering the next matching request."""

    kind: str  # "http" | "code" | "sleep" | "drop"
    api: str | None = None  # None: any api
    status: int = 500
    code: int = 0
    msg: str = ""
    seconds: float = 0.0


INDEX_WEIGHT_FIELDS = ["index_code", "con_code", "trade_date", "weight"]


@dataclass
class FakeTushare:
    token: str = "test-token-0123456789abcdef"
    row_limit: int = 6000
    daily: dict[str, list[list[Any]]] = field(default_factory=dict)
    factors: dict[str, list[list[Any]]] = field(default_factory=dict)
    # trade_cal: SSE's days as YYYYMMDD -> 1 (open) / 0 (closed), one per calendar day.
    calendar: dict[str, int] = field(default_factory=dict)
    # index_daily: the same rows as `daily`, for index codes (which `daily` does not serve).
    index_daily: dict[str, list[list[Any]]] = field(default_factory=dict)
    # stock_basic / index_basic rows, in STOCK_BASIC_FIELDS / INDEX_BASIC_FIELDS order.
    stocks: list[list[Any]] = field(default_factory=list)
    indexes: list[list[Any]] = field(default_factory=list)
    # trade_cal is refused until a test sets a calendar, and the listings until a test adds one:
    # like most accounts, which lack the 2000 points they need (a refusal is a warning).
    # stk_limit and namechange likewise, until a test serves them (`add_limits`, `add_names`).
    refused: set[str] = field(
        default_factory=lambda: {"trade_cal", "stock_basic", "index_basic", "stk_limit", "namechange"}
    )
    # stk_limit: per ticker [ts_code, trade_date, pre_close, up_limit, down_limit]; namechange:
    # per ticker [ts_code, name, start_date, end_date] (end None: the current name).
    limits: dict[str, list[list[Any]]] = field(default_factory=dict)
    names: dict[str, list[list[Any]]] = field(default_factory=dict)
    # index_weight: [index_code, con_code, trade_date, weight] rows (`add_members`).
    members: list[list[Any]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def add_bars(
        self,
        ticker: str,
        start: date,
        end: date,
        seed: int = 0,
        price: float = 100.0,
        days: Iterable[date] | None = None,
    ) -> list[list[Any]]:
        rows = synthetic_daily(ticker, start, end, seed=seed, price=price, days=days)
        self.daily.setdefault(ticker, []).extend(rows)
        # A factor that steps up once (a dividend) so qfq/hfq differ from raw prices.
        mid = len(rows) // 2
        self.factors.setdefault(ticker, []).extend(
            [[ticker, r[1], 1.0 if i < mid else 1.25] for i, r in enumerate(rows)]
        )
        return rows

    def add_index(self, ticker: str, start: date, end: date, name: str, *, seed: int = 0) -> list[list[Any]]:
        """An index: listed by index_basic, its bars served by index_daily only (no factors)."""
        self.add_listing(ticker, name, date(2005, 4, 8), index=True)
        rows = synthetic_daily(ticker, start, end, seed=seed, price=4000.0)
        self.index_daily.setdefault(ticker, []).extend(rows)
        return rows

    def add_listing(
        self,
        ticker: str,
        name: str,
        listed: date,
        *,
        index: bool = False,
        status: str = "L",
        board: str = "主板",
        delisted: date | None = None,
    ) -> None:
        """A stock_basic row (or an index_basic one); the listings stop being refused."""
        self.refused -= {"stock_basic", "index_basic"}
        if index:
            self.indexes.append(
                [ticker, name, "CSI" if ticker.startswith("000300") else "SSE", f"{listed:%Y%m%d}", None]
            )
        else:
            exchange = "SSE" if ticker.endswith(".SH") else "SZSE"
            gone = None if delisted is None else f"{delisted:%Y%m%d}"
            self.stocks.append([ticker, name, board, exchange, status, f"{listed:%Y%m%d}", gone])

    def add_limits(self, ticker: str, pct: float) -> None:
        """stk_limit rows for every served bar of `ticker`: `pct` on its previous close, rounded
        as the exchanges do; stk_limit stops being refused."""
        self.refused.discard("stk_limit")
        self.limits[ticker] = [[ticker, r[1], r[6], *limit_prices(r[6], pct)[::-1]] for r in self.daily.get(ticker, [])]

    def add_names(self, ticker: str, names: Iterable[tuple[str, date, date | None]]) -> None:
        """namechange rows (name, first day, last day); namechange stops being refused."""
        self.refused.discard("namechange")
        self.names[ticker] = [[ticker, n, f"{s:%Y%m%d}", None if e is None else f"{e:%Y%m%d}"] for n, s, e in names]

    def add_members(self, index: str, day: date, codes: Iterable[str]) -> None:
        """index_weight rows: `codes` in `index` on `day` (a month's weights), equal weights."""
        codes = list(codes)
        self.members += [[index, c, f"{day:%Y%m%d}", round(100 / len(codes), 4)] for c in codes]

    def set_calendar(self, start: date, end: date, closed: Iterable[date] = ()) -> None:
        """trade_cal answers for [start, end]: weekdays open except `closed`, weekends closed."""
        self.refused.discard("trade_cal")
        shut, day = set(closed), start
        while day <= end:
            self.calendar[f"{day:%Y%m%d}"] = int(day.weekday() < 5 and day not in shut)
            day += timedelta(days=1)

    def take_fault(self, api: str) -> Fault | None:
        for i, fault in enumerate(self.faults):
            if fault.api in (None, api):
                return self.faults.pop(i)
        return None

    def answer(self, api: str, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("token") != self.token:
            return {"code": 40101, "msg": BAD_TOKEN_MSG, "data": None}
        if api in self.refused:
            return {"code": 40203, "msg": NO_PERMISSION_MSG, "data": None}
        params = body.get("params") or {}
        if api == "trade_cal":
            return {"code": 0, "msg": "", "data": {"fields": TRADE_CAL_FIELDS, "items": self._trade_cal(params)}}
        if api == "stock_basic":  # one list_status per call, L when not asked
            rows = [r for r in self.stocks if r[4] == (params.get("list_status") or "L")]
            return {"code": 0, "msg": "", "data": {"fields": STOCK_BASIC_FIELDS, "items": rows}}
        if api == "namechange":
            rows = sorted(self.names.get(params.get("ts_code", ""), []), key=lambda r: r[2], reverse=True)
            return {"code": 0, "msg": "", "data": {"fields": NAMECHANGE_FIELDS, "items": rows}}
        if api == "index_basic":
            return {"code": 0, "msg": "", "data": {"fields": INDEX_BASIC_FIELDS, "items": self.indexes}}
        if api == "index_weight":
            lo, hi = params.get("start_date", "0"), params.get("end_date", "9")
            rows = [r for r in self.members if r[0] == params.get("index_code") and lo <= r[2] <= hi]
            return {"code": 0, "msg": "", "data": {"fields": INDEX_WEIGHT_FIELDS, "items": rows}}
        table, fields = {
            "daily": (self.daily, DAILY_FIELDS),
            "index_daily": (self.index_daily, DAILY_FIELDS),
            "stk_limit": (self.limits, STK_LIMIT_FIELDS),
        }.get(api, (self.factors, ["ts_code", "trade_date", "adj_factor"]))
        if params.get("trade_date") and not params.get("ts_code"):  # the whole market of one day
            rows = [r for ticker_rows in table.values() for r in ticker_rows if r[1] == params["trade_date"]]
        else:
            rows = [
                r
                for r in table.get(params.get("ts_code", ""), [])
                if params.get("start_date", "0") <= r[1] <= params.get("end_date", "99999999")
            ]
        rows.sort(key=lambda r: r[1], reverse=True)  # newest first, as the real service
        return {"code": 0, "msg": "", "data": {"fields": fields, "items": rows[: self.row_limit]}}

    def _trade_cal(self, params: dict[str, Any]) -> list[list[Any]]:
        # Newest first, as `daily` (our reader does not depend on the order); pretrade_date is
        # the open day before each day.
        if params.get("exchange", "SSE") != "SSE":
            return []
        days = sorted(d for d in self.calendar if params.get("start_date", "0") <= d <= params.get("end_date", "9"))
        opens = sorted(d for d, is_open in self.calendar.items() if is_open)
        rows = []
        for d in days:
            before = [o for o in opens if o < d]
            rows.append(["SSE", d, self.calendar[d], before[-1] if before else None])
        return rows[::-1]


def synthetic_daily(
    ticker: str, start: date, end: date, *, seed: int = 0, price: float = 100.0, days: Iterable[date] | None = None
) -> list[list[Any]]:
    """Consistent raw daily rows (high >= max(open, close) etc.) on the trading days in range:
    the built-in calendar's, or `days` (the days the exchange "really" opened, in a test)."""
    rng = np.random.default_rng(seed)
    rows: list[list[Any]] = []
    prev = price
    for day in trading_days(start, end) if days is None else sorted(d for d in days if start <= d <= end):
        close = round(max(1.0, prev * float(np.exp(rng.normal(0, 0.015)))), 2)
        open_ = round(max(1.0, prev * float(np.exp(rng.normal(0, 0.005)))), 2)
        high = round(max(open_, close) * (1 + abs(float(rng.normal(0, 0.005)))), 2)
        low = round(min(open_, close) * (1 - abs(float(rng.normal(0, 0.005)))), 2)
        vol = round(float(rng.uniform(1e4, 1e5)), 2)
        rows.append(
            [
                ticker,
                f"{day:%Y%m%d}",
                open_,
                high,
                low,
                close,
                prev,
                round(close - prev, 2),
                round((close / prev - 1) * 100, 4),
                vol,
                round(vol * close / 10, 3),
            ]
        )
        prev = close
    return rows


class _Handler(BaseHTTPRequestHandler):
    fake: FakeTushare  # set on the subclass `_handler` makes for one server

    def do_POST(self) -> None:
        api = self.path.rstrip("/").rsplit("/", 1)[-1]
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        self.fake.calls.append({"api": api, **body})
        fault = self.fake.take_fault(api)
        if fault is None or not self._answered_by(fault):
            self._json(self.fake.answer(api, body))

    def _answered_by(self, fault: Fault) -> bool:
        """Play `fault`; True when it was the whole answer (a `sleep` delays the real one)."""
        if fault.kind == "http":
            self._send(fault.status, b"<html>server error</html>")
        elif fault.kind == "code":
            self._json({"code": fault.code, "msg": fault.msg, "data": None})
        elif fault.kind == "drop":
            self.close_connection = True
            self.connection.close()
        elif fault.kind == "sleep":
            time.sleep(fault.seconds)
            return False
        return True

    def _json(self, payload: dict[str, Any]) -> None:
        self._send(200, json.dumps(payload, ensure_ascii=False).encode())

    def _send(self, status: int, data: bytes) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test); nothing to do

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _handler(fake: FakeTushare) -> type[BaseHTTPRequestHandler]:
    return type("Handler", (_Handler,), {"fake": fake})


@contextmanager
def serve(fake: FakeTushare) -> Iterator[FakeTushare]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/dataapi"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
