""":class:`~postseal.store.ports.mailbox_reads.MailboxReads` through the async engine:
each read is one read-only transaction (ADR 0017).

The read path of PostgreSQL, whose driver is asyncio-native (a read costs one round trip
to the server plus the transaction's), and of an in-memory SQLite database, which only
the engine's own connection can see. A file-backed SQLite store reads through
:mod:`postseal.store.sql.sqlite_reads` instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy.ext.asyncio import AsyncEngine

from postseal.store.ports.mailbox_reads import MailboxListing
from postseal.store.ports.mailbox_records import Mailbox, MailboxChanges, StoredMessage, UidSet
from postseal.store.ports.sealed import SealedBody
from postseal.store.sql.engine import transaction
from postseal.store.sql.mailboxes import SqlMailboxRepository

__all__ = ["EngineMailboxReads"]

_DOING = "read"


class EngineMailboxReads:
    """Reads in read-only transactions of ``engine`` (READ ONLY on PostgreSQL)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def find(self, user_id: int | None, name: str) -> Mailbox | None:
        async with transaction(self._engine, doing=_DOING, readonly=True) as connection:
            return await SqlMailboxRepository(connection).find(user_id, name)

    async def highest_modseq(self, mailbox_id: str) -> int | None:
        async with transaction(self._engine, doing=_DOING, readonly=True) as connection:
            return await SqlMailboxRepository(connection).highest_modseq(mailbox_id)

    async def listing(self, mailbox_id: str) -> MailboxListing | None:
        async with transaction(self._engine, doing=_DOING, readonly=True) as connection:
            repository = SqlMailboxRepository(connection)
            # The row first: under READ COMMITTED each statement has its own snapshot,
            # and messages newer than the row's HIGHESTMODSEQ are merely seen twice.
            mailbox = await repository.get(mailbox_id)
            if mailbox is None:
                return None
            messages = await repository.messages(mailbox_id)
        return MailboxListing(mailbox, tuple(messages))

    async def messages(
        self, mailbox_id: str, uids: UidSet | None = None
    ) -> Sequence[StoredMessage]:
        async with transaction(self._engine, doing=_DOING, readonly=True) as connection:
            return await SqlMailboxRepository(connection).messages(mailbox_id, uids)

    async def body(self, mailbox_id: str, uid: int) -> SealedBody | None:
        async with transaction(self._engine, doing=_DOING, readonly=True) as connection:
            return await SqlMailboxRepository(connection).body(mailbox_id, uid)

    async def summaries(self, mailbox_id: str, uids: UidSet) -> Mapping[int, SealedBody]:
        async with transaction(self._engine, doing=_DOING, readonly=True) as connection:
            return await SqlMailboxRepository(connection).summaries(mailbox_id, uids)

    async def changes_since(self, mailbox_id: str, modseq: int) -> MailboxChanges:
        async with transaction(self._engine, doing=_DOING, readonly=True) as connection:
            return await SqlMailboxRepository(connection).changes_since(mailbox_id, modseq)

    async def close(self) -> None:
        """Nothing of its own to release: the engine's pool is the store's."""
