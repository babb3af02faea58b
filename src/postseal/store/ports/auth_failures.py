"""Failed logins, counted where every process of every node sees them (ADR 0027)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal, Protocol

__all__ = ["AuthFailureRepository", "FailureKind"]

#: What a failure is counted against: the client's network address or the account.
FailureKind = Literal["address", "account"]


class AuthFailureRepository(Protocol):
    """Failures as (kind, key hash, time in seconds since the epoch) rows.

    The keys are opaque hashes (the throttle hashes client addresses and account names):
    the store never holds what a client sent as a user name.
    """

    async def count_since(self, kind: FailureKind, key_hash: str, since: float) -> int:
        """Failures of ``key_hash`` at or after ``since``."""
        ...

    async def counts_since(self, kind: FailureKind, since: float) -> Mapping[str, int]:
        """Failures at or after ``since`` per key hash of ``kind`` (keys without any are
        left out)."""
        ...

    async def add(self, keys: Sequence[tuple[FailureKind, str]], at: float) -> None:
        """One failure at ``at`` for each (kind, key hash)."""
        ...

    async def clear(self, kind: FailureKind, key_hash: str) -> int:
        """Forget every failure of ``key_hash``; how many there were."""
        ...

    async def purge_before(self, before: float) -> int:
        """Forget every failure older than ``before``; how many there were."""
        ...
