"""Ticker codes: everything is stored in tushare's `ts_code` form, e.g. `600519.SH`."""

import re
from pathlib import Path

from forecaster.errors import ConfigError

_TS_CODE = re.compile(r"^(\d{6})\.(SH|SZ|BJ)$")
_BARE = re.compile(r"^\d{1,6}$")


def exchange_of(code: str) -> str:
    """Exchange suffix of a bare 6-digit A-share code, from the code's leading digits."""
    if code.startswith(("6", "9")) and not code.startswith("92"):
        return "SH"  # main board, STAR (688), B shares (900)
    if code.startswith(("0", "2", "3")):
        return "SZ"  # main board, B shares (200), ChiNext (300)
    if code.startswith(("4", "8", "92")):
        return "BJ"  # Beijing Stock Exchange
    raise ConfigError(f"cannot tell the exchange of code {code!r}; write it as e.g. 600519.SH")


def normalize_ticker(raw: str | int) -> str:
    """`600519`, `600519.sh` or `600519.SH` -> `600519.SH`; anything else is refused.

    The course CSV stores the code as a number, so leading zeros may be lost (`1` is `000001`).
    """
    text = str(raw).strip().upper()
    if _TS_CODE.match(text):
        return text
    if _BARE.match(text):
        code = text.zfill(6)
        return f"{code}.{exchange_of(code)}"
    raise ConfigError(f"not a ticker: {raw!r} (expected a ts_code such as 600519.SH)")


def read_tickers_file(path: Path) -> list[str]:
    """A named set of tickers (a watch-list, an index): one ts_code a line, `#` starts a comment,
    blank lines are skipped, repeats are dropped. A bad line is refused, naming it."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read tickers file {path}: {getattr(exc, 'strerror', None) or exc}") from exc
    codes: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        try:
            codes.append(normalize_ticker(entry))
        except ConfigError as exc:
            raise ConfigError(f"tickers file {path} line {number}: {exc}") from None
    if not codes:
        raise ConfigError(f"tickers file {path} lists no ticker")
    return list(dict.fromkeys(codes))
