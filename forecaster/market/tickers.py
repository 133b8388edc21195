"""Ticker codes: everything is stored in tushare's `ts_code` form, e.g. `600519.SH`.

Other spellings people and exports use are read here, in one place: `sh600519`, `SH600519`,
`sh.600519`, `600519.SS` (Yahoo's Shanghai suffix), `600519.sh` and a bare `600519`.
"""

import re
from collections.abc import Collection
from pathlib import Path

from forecaster.errors import ConfigError

_BARE = re.compile(r"^\d{1,6}$")
# Exchange first (`sh600519`, `sh.600519`) or last (`600519.SH`, `600519.SS`).
_PREFIXED = re.compile(r"^(SH|SZ|BJ)\.?(\d{6})$")
_SUFFIXED = re.compile(r"^(\d{6})\.(SH|SS|SZ|BJ)$")
# The same forms inside a file name (`sh600519.csv`, `600519.SH.csv`, `daily_sz000001.csv`).
_IN_NAME = re.compile(r"(?<![A-Z0-9])(?:(SH|SZ|BJ)\.?(\d{6})|(\d{6})\.(SH|SS|SZ|BJ))(?![0-9])")
_EXCHANGES = {"SH": "SH", "SS": "SH", "SZ": "SZ", "BJ": "BJ"}
# Bare codes that name a Shenzhen stock and a Shanghai index at once (000001 is Ping An Bank on
# SZ and the SSE Composite on SH; 000300 is the CSI 300 index): never guessed.
_AMBIGUOUS_PREFIXES = ("000",)


def is_ambiguous(raw: str | int) -> str | None:
    """The 6-digit code of a bare code the digits cannot place (`000300`), else None."""
    text = str(raw).strip()
    return text.zfill(6) if _BARE.match(text) and text.zfill(6).startswith(_AMBIGUOUS_PREFIXES) else None


def exchange_of(code: str, listed: Collection[str] = ()) -> str:
    """Exchange suffix of a bare 6-digit A-share code, from the code's leading digits; an
    ambiguous one from `listed` (stored ts_codes) when exactly one of them has this code."""
    matches = [t for t in listed if t.split(".", 1)[0] == code]
    if code.startswith(_AMBIGUOUS_PREFIXES) and len(matches) == 1:
        return matches[0].split(".", 1)[1]
    if code.startswith(_AMBIGUOUS_PREFIXES):
        raise ConfigError(
            f"code {code!r} is ambiguous: {code}.SZ (a Shenzhen stock) or {code}.SH (a Shanghai index); "
            f"write {code}.SZ or {code}.SH"
        )
    if code.startswith(("6", "9")) and not code.startswith("92"):
        return "SH"  # main board, STAR (688), B shares (900)
    if code.startswith(("0", "2", "3")):
        return "SZ"  # main board, B shares (200), ChiNext (300), SZ indexes (399)
    if code.startswith(("4", "8", "92")):
        return "BJ"  # Beijing Stock Exchange
    raise ConfigError(f"cannot tell the exchange of code {code!r}; write it as e.g. 600519.SH")


def normalize_ticker(raw: str | int, exchange: str | None = None, listed: Collection[str] = ()) -> str:
    """`600519`, `sh600519`, `sh.600519`, `600519.SS` or `600519.sh` -> `600519.SH`.

    `exchange` (`SH`, `SZ`, `BJ`; e.g. from a file's name) completes a bare code instead of its
    leading digits, so an ambiguous one is accepted there; so is one that exactly one of the
    stored listings' codes (`listed`) has. The course CSV stores the code as a
    number, so leading zeros may be lost (`1` is `000001`).
    """
    text = str(raw).strip().upper()
    if match := _PREFIXED.match(text):
        return f"{match[2]}.{match[1]}"
    if match := _SUFFIXED.match(text):
        return f"{match[1]}.{_EXCHANGES[match[2]]}"
    if _BARE.match(text):
        code = text.zfill(6)
        return f"{code}.{exchange or exchange_of(code, listed)}"
    raise ConfigError(f"not a ticker: {raw!r} (expected a ts_code such as 600519.SH)")


def ticker_in_name(name: str) -> str | None:
    """The ts_code a file name spells (`sh600519.csv`, `600519.SH.csv`), or None."""
    match = _IN_NAME.search(name.upper())
    if match is None:
        return None
    if match[1]:
        return f"{match[2]}.{match[1]}"
    return f"{match[3]}.{_EXCHANGES[match[4]]}"


def read_tickers_file(path: Path) -> list[str]:
    """A named set of tickers (a watch-list, an index): one ts_code a line, `#` starts a comment,
    blank lines are skipped, repeats are dropped. A bad line is refused, naming it."""
    try:
        text = path.read_text(encoding="utf-8-sig")
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
