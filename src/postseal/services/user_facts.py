"""What the intake asks the directory about users, kept for a few seconds.

For every message the intake checks at ``RCPT`` that a local recipient exists and is
enabled, and again after ``DATA`` which groups the recipients (inbound) or the sender
(outbound) belong to, for the policy. Each of these was a store transaction; a burst to
the same mailboxes asked the same question hundreds of times a second. A
:class:`UserFactsCache` answers from memory for ``ttl`` seconds after it last read a
user (ADR 0016), and reads all the misses of one message in one read-only transaction.

What this may change, and why it is acceptable: a user disabled, removed, or moved
between groups by another process is seen by this one at most ``ttl`` seconds late —
the same order of delay that already separates a ``RCPT`` check from the end of its
``DATA``. Users that do *not* exist are never remembered, so a newly added user receives
mail at once (a cached "no such user" would bounce their first messages with 550). The
queue runner does not use this: it looks the recipient up in the delivery transaction.

:class:`SmimeFactsCache` does the same for the two S/MIME facts the policy decides on for
outbound mail — which recipients have a certificate valid for encryption, and whether
the server can sign as the sender — each a lookup with certificate validation. Only the
*decision* reads them: signing and encryption themselves look the keys and certificates
up afresh, so a certificate revoked within the TTL still cannot be used (the message is
refused, as it would be had it arrived a moment earlier with the policy then in force).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from postseal.services.smime import SmimeService
from postseal.store.ports import Store

__all__ = ["SmimeFactsCache", "UserFacts", "UserFactsCache"]


@dataclass(frozen=True, slots=True)
class UserFacts:
    """A directory user as the intake needs it."""

    address: str
    enabled: bool
    groups: frozenset[str]


class UserFactsCache:
    """Per-process memory of :class:`UserFacts`, by canonical address; at most ``size``
    users, each for ``ttl`` seconds of ``clock`` (monotonic seconds)."""

    def __init__(
        self,
        store: Store,
        *,
        ttl: float = 2.0,
        size: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl < 0 or size < 1:
            raise ValueError("the user facts cache needs ttl >= 0 and size >= 1")
        self._store = store
        self._ttl = ttl
        self._size = size
        self._clock = clock
        self._known: OrderedDict[str, tuple[float, UserFacts]] = OrderedDict()

    async def get(self, address: str) -> UserFacts | None:
        """The user with this canonical address, or None if there is none."""
        return (await self.many([address])).get(address)

    async def many(self, addresses: Iterable[str]) -> dict[str, UserFacts]:
        """The users among ``addresses`` (canonical), by address; absent ones left out.
        Whatever is not remembered is read in one read-only transaction."""
        now = self._clock()
        found: dict[str, UserFacts] = {}
        missing = []
        for address in dict.fromkeys(addresses):
            entry = self._known.get(address)
            if entry is not None and now - entry[0] < self._ttl:
                found[address] = entry[1]
            else:
                missing.append(address)
        if not missing:
            return found
        async with self._store.peek() as tx:
            records = [await tx.users.get(address) for address in missing]
        now = self._clock()
        for address, record in zip(missing, records, strict=True):
            if record is None:
                self._known.pop(address, None)
                continue
            facts = UserFacts(record.address, record.enabled, frozenset(record.groups))
            found[address] = facts
            self._known[address] = (now, facts)
            self._known.move_to_end(address)
        while len(self._known) > self._size:
            self._known.popitem(last=False)
        return found

    def forget(self, address: str | None = None) -> None:
        """Drop what is remembered of ``address`` (of everyone without one): for a change
        made by this process, which need not wait for the TTL."""
        if address is None:
            self._known.clear()
        else:
            self._known.pop(address, None)


class SmimeFactsCache:
    """Per-process memory of S/MIME facts for the policy, each for ``ttl`` seconds."""

    def __init__(
        self,
        smime: SmimeService,
        *,
        ttl: float = 2.0,
        size: int = 4096,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl < 0 or size < 1:
            raise ValueError("the S/MIME facts cache needs ttl >= 0 and size >= 1")
        self._smime = smime
        self._ttl = ttl
        self._size = size
        self._clock = clock
        self._certified: OrderedDict[str, tuple[float, bool]] = OrderedDict()
        self._signers: OrderedDict[str, tuple[float, bool]] = OrderedDict()

    async def certified(self, addresses: Iterable[str]) -> frozenset[str]:
        """Those of ``addresses`` with a certificate valid for encryption (directory
        users, then contacts), one look-up for all that are not remembered."""
        wanted = list(dict.fromkeys(addresses))
        known = {a: v for a in wanted if (v := self._recall(self._certified, a)) is not None}
        missing = [a for a in wanted if a not in known]
        if missing:
            found, _ = await self._smime.lookup(missing)
            for address in missing:
                known[address] = address in found
                self._remember(self._certified, address, known[address])
        return frozenset(a for a in wanted if known[a])

    async def can_sign(self, address: str) -> bool:
        """The server holds a valid signing certificate and key for ``address``."""
        value = self._recall(self._signers, address)
        if value is None:
            value = await self._smime.can_sign(address)
            self._remember(self._signers, address, value)
        return value

    def _recall(self, memory: OrderedDict[str, tuple[float, bool]], address: str) -> bool | None:
        entry = memory.get(address)
        if entry is None or self._clock() - entry[0] >= self._ttl:
            return None
        return entry[1]

    def _remember(
        self, memory: OrderedDict[str, tuple[float, bool]], address: str, value: bool
    ) -> None:
        memory[address] = (self._clock(), value)
        memory.move_to_end(address)
        while len(memory) > self._size:
            memory.popitem(last=False)
