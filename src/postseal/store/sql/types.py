"""Column types whose values round-trip identically on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

__all__ = ["UtcDateTime"]


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC instant.

    The column holds a naive UTC timestamp (``TIMESTAMP WITHOUT TIME ZONE`` on PostgreSQL,
    ISO text on SQLite), so both dialects store the same value and no session time zone
    can shift it. Aware datetimes of any offset go in and come back as the same instant in
    UTC; a naive datetime is refused with :class:`ValueError`, because its meaning depends
    on the machine that made it.
    """

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} given to the store: use UTC")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)
