"""Moments in the database: aware UTC in Python, UTC without tzinfo in the column.

SQLite has no time zones and the migrations made plain `DateTime` (PostgreSQL `timestamp
without time zone`) columns, so the tzinfo is dropped on the way in and put back on the way
out, here and nowhere else. A naive datetime is refused rather than guessed to be UTC: the
package's one clock (forecaster.clock) is aware, and a naive moment reaching a column means
something bypassed it.
"""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Dialect, TypeDecorator


def stored(moment: datetime) -> datetime:
    """`moment` as the column holds it: UTC, without tzinfo. A naive `moment` is a TypeError."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise TypeError(f"naive datetime {moment!r} given for a UTC column: pass an aware one (forecaster.clock.now)")
    return moment.astimezone(UTC).replace(tzinfo=None)


class UTCDateTime(TypeDecorator[datetime]):
    """A `DateTime` column (the stored type is unchanged) that takes and gives aware UTC datetimes."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return stored(value) if value is not None else None

    def process_result_value(self, value: Any | None, dialect: Dialect) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None
