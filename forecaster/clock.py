"""The one clock: every moment the package reads is `now()`, timezone-aware in UTC, and every
"today" is that moment's date at a place. The database stores UTC without tzinfo; the conversion
happens at that edge only (storage/moments.UTCDateTime), so rows read back are aware too."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo


def now() -> datetime:
    return datetime.now(UTC)


def today_in(timezone: str) -> date:
    """Today's date in `timezone` (at the exchange, Beijing time: bars are dated there)."""
    return now().astimezone(ZoneInfo(timezone)).date()
