"""Failed-authentication throttling, per client address and per account (ADR 0027).

A sliding window of failures: ``per_address`` failures from one client address, or
``per_account`` for one account, within ``window`` seconds make further attempts fail
with ThrottledError *before* the password is checked, so a brute force costs the attacker
time and postseal no argon2 work. A success clears the account's failures.

Where failures are counted is a :class:`FailureLog`. The server counts them in the store
(:class:`StoreFailureLog`): SMTP AUTH, IMAP and POP3, every SMTP worker process (ADR 0024)
and every node on a shared PostgreSQL database count the same failures, so none of them
multiplies what a guesser gets. Keys are kept as SHA-256 hashes: the store never holds
what a client sent as a user name. :class:`MemoryFailureLog` counts in one process, for
tests and tools.
"""

from __future__ import annotations

import hashlib
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Protocol

from postseal.errors import InputError, ThrottledError
from postseal.mail.address import parse_address
from postseal.store.ports import FailureKind, Store

__all__ = [
    "PER_ACCOUNT",
    "PER_ADDRESS",
    "WINDOW",
    "AuthThrottle",
    "FailureLog",
    "MemoryFailureLog",
    "StoreFailureLog",
    "account_key",
]

_MAX_TRACKED = 100_000  # keys a MemoryFailureLog holds before it drops expired ones
#: The defaults of :class:`AuthThrottle`: failures allowed per account and per client
#: address within the window, in seconds.
PER_ACCOUNT, PER_ADDRESS, WINDOW = 5, 10, 900.0


class FailureLog(Protocol):
    """Failures as (kind, key hash, time) — what :class:`AuthThrottle` counts."""

    async def count_since(self, keys: Sequence[tuple[FailureKind, str]], since: float) -> list[int]:
        """Failures at or after ``since`` of each key, in order."""
        ...

    async def add(
        self, keys: Sequence[tuple[FailureKind, str]], at: float, *, expired: float
    ) -> None:
        """One failure at ``at`` for each key; failures before ``expired`` may go."""
        ...

    async def clear(self, kind: FailureKind, key_hash: str) -> None: ...


class MemoryFailureLog:
    """A :class:`FailureLog` in this process's memory (bounded)."""

    def __init__(self) -> None:
        self._failures: dict[tuple[str, str], deque[float]] = {}

    async def count_since(self, keys: Sequence[tuple[FailureKind, str]], since: float) -> list[int]:
        return [sum(1 for at in self._failures.get(key, ()) if at >= since) for key in keys]

    async def add(
        self, keys: Sequence[tuple[FailureKind, str]], at: float, *, expired: float
    ) -> None:
        if len(self._failures) > _MAX_TRACKED:
            stale = [k for k, v in self._failures.items() if not v or v[-1] < expired]
            for key in stale:
                del self._failures[key]
        for key in keys:
            times = self._failures.setdefault(key, deque(maxlen=1000))
            while times and times[0] < expired:
                times.popleft()
            times.append(at)

    async def clear(self, kind: FailureKind, key_hash: str) -> None:
        self._failures.pop((kind, key_hash), None)


class StoreFailureLog:
    """A :class:`FailureLog` in the store, shared by every process that opens it."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def count_since(self, keys: Sequence[tuple[FailureKind, str]], since: float) -> list[int]:
        async with self._store.peek() as tx:  # point reads by key, one snapshot (ADR 0023)
            return [await tx.auth_failures.count_since(k, h, since) for k, h in keys]

    async def add(
        self, keys: Sequence[tuple[FailureKind, str]], at: float, *, expired: float
    ) -> None:
        async with self._store.begin() as tx:
            await tx.auth_failures.add(keys, at)
            # the table holds one window of failures: older rows go with every new one
            await tx.auth_failures.purge_before(expired)

    async def clear(self, kind: FailureKind, key_hash: str) -> None:
        # most successful logins follow no failure: they cost a read, not a write
        if (await self.count_since([(kind, key_hash)], 0.0))[0]:
            async with self._store.begin() as tx:
                await tx.auth_failures.clear(kind, key_hash)


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def account_key(account: str) -> str:
    """The key failures of ``account`` are counted under: the hash of its canonical
    address (ADR 0006: ``Bob@Bücher.example`` and ``bob@xn--bcher-kva.example`` are one
    account), or of the lower-cased text when it is no address at all."""
    try:
        return _hash(str(parse_address(account)))
    except InputError:
        return _hash(account.lower())


class AuthThrottle:
    """The throttle of every password login (see the module docstring)."""

    def __init__(
        self,
        *,
        per_address: int = PER_ADDRESS,
        per_account: int = PER_ACCOUNT,
        window: float = WINDOW,
        log: FailureLog | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._limits: dict[FailureKind, int] = {"address": per_address, "account": per_account}
        self._window = window
        self._log: FailureLog = log if log is not None else MemoryFailureLog()
        self._now = clock

    async def check(self, *, address: str, account: str) -> None:
        """ThrottledError when either key has reached its limit within the window."""
        keys = self._keys(address, account)
        counts = await self._log.count_since(keys, self._now() - self._window)
        for (kind, _), count in zip(keys, counts, strict=True):
            if count >= self._limits[kind]:
                raise ThrottledError(
                    "too many failed logins; try again later",
                    hint=f"wait {int(self._window // 60)} minutes",
                )

    async def failed(self, *, address: str, account: str) -> None:
        now = self._now()
        await self._log.add(self._keys(address, account), now, expired=now - self._window)

    async def succeeded(self, *, account: str) -> None:
        await self._log.clear("account", account_key(account))

    @staticmethod
    def _keys(address: str, account: str) -> list[tuple[FailureKind, str]]:
        return [("address", _hash(address)), ("account", account_key(account))]
