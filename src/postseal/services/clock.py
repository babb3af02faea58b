"""The one place services read the time; tests pass their own clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

__all__ = ["Clock", "system_clock"]

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """Now, timezone-aware UTC, to the second (X.509 times have no fractions)."""
    return datetime.now(UTC).replace(microsecond=0)
