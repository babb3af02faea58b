"""The messages of a mailbox: append, read, flags, expunge, changes, summaries.

UIDs come from ``mailboxes.uidnext``, advanced by ``UPDATE … RETURNING`` in the appending
transaction together with the MODSEQ counter. The update holds the mailbox row until
commit (a row lock on PostgreSQL, the database write lock on SQLite), so concurrent
appends get distinct UIDs and commit in UID order: no reader ever sees UID n+1 before
UID n (RFC 3501 §2.3.1.1), and a rolled-back append gives its UID back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import BigInteger, Text, bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from postseal.errors import ConflictError, NotFoundError
from postseal.store.ports import (
    MAX_UID,
    FlagChange,
    FlagUpdate,
    MailboxChanges,
    MessageKeys,
    NewStoredMessage,
    SealedBody,
    StoredMessage,
    UidSet,
)
from postseal.store.sql.mailbox_rows import (
    METADATA,
    advance_modseq,
    canonical_flags,
    has_flag,
    lock_mailboxes,
    message_record,
    no_mailbox,
    notify,
)
from postseal.store.sql.statements import execute, upsert
from postseal.store.sql.tables import mailbox_messages as messages
from postseal.store.sql.tables import mailbox_summaries as summaries
from postseal.store.sql.tables import mailbox_vanished as vanished
from postseal.store.sql.tables import mailboxes
from postseal.store.sql.uid_sets import match_uids

__all__ = ["StoredMessages"]

_BY_KEY = (messages.c.mailbox_id == bindparam("b_mailbox", type_=Text)) & (
    messages.c.uid == bindparam("b_uid", type_=BigInteger)
)

# Built once: the reads every IMAP command may make skip statement construction.
_BODY = select(messages.c.wrapped_key, messages.c.ciphertext).where(_BY_KEY)
_HIGHEST = select(mailboxes.c.highestmodseq).where(
    mailboxes.c.id == bindparam("b_mailbox", type_=Text)
)


class StoredMessages:
    """The message half of :class:`~postseal.store.sql.mailboxes.SqlMailboxRepository`."""

    _connection: AsyncConnection

    async def append(self, mailbox_id: str, message: NewStoredMessage) -> StoredMessage:
        flags = canonical_flags(message.flags)
        if message.internal_date.utcoffset() is None:
            # Checked before the UID is taken, so that the refusal changes nothing.
            raise ValueError(
                f"naive datetime {message.internal_date.isoformat()} given to the store: use UTC"
            )
        advance = (
            update(mailboxes)
            .where(mailboxes.c.id == mailbox_id, mailboxes.c.uidnext <= MAX_UID)
            .values(uidnext=mailboxes.c.uidnext + 1, highestmodseq=mailboxes.c.highestmodseq + 1)
            .returning(mailboxes.c.uidnext, mailboxes.c.highestmodseq)
        )
        row = (await self._connection.execute(advance)).first()
        if row is None:
            if await self.highest_modseq(mailbox_id) is None:
                raise no_mailbox(mailbox_id)
            raise ConflictError(
                f"mailbox {mailbox_id} has used every UID IMAP allows",
                hint="recreate the mailbox (a new UIDVALIDITY) and move its messages there",
            )
        uid, modseq = int(row.uidnext) - 1, int(row.highestmodseq)
        await execute(
            self._connection,
            insert(messages).values(
                mailbox_id=mailbox_id,
                uid=uid,
                email_id=message.email_id,
                internal_date=message.internal_date,
                size=message.size,
                flags=" ".join(flags),
                message_id_hash=message.message_id_hash,
                modseq=modseq,
                wrapped_key=bytes(message.body.wrapped_key),
                ciphertext=bytes(message.body.ciphertext),
            ),
        )
        if message.summary is not None:
            await self._connection.execute(
                insert(summaries).values(
                    mailbox_id=mailbox_id,
                    uid=uid,
                    wrapped_key=bytes(message.summary.wrapped_key),
                    ciphertext=bytes(message.summary.ciphertext),
                )
            )
        await notify(self._connection, mailbox_id)
        return StoredMessage(
            mailbox_id=mailbox_id,
            uid=uid,
            email_id=message.email_id,
            internal_date=message.internal_date,
            size=message.size,
            flags=flags,
            message_id_hash=message.message_id_hash,
            modseq=modseq,
        )

    async def highest_modseq(self, mailbox_id: str) -> int | None:
        value = (await self._connection.execute(_HIGHEST, {"b_mailbox": mailbox_id})).scalar()
        return None if value is None else int(value)

    async def list_messages(self, mailbox_id: str) -> Sequence[StoredMessage]:
        return await self.messages(mailbox_id)

    async def get_message(self, mailbox_id: str, uid: int) -> StoredMessage | None:
        query = select(*METADATA).where(messages.c.mailbox_id == mailbox_id, messages.c.uid == uid)
        row = (await self._connection.execute(query)).first()
        return None if row is None else message_record(row)

    async def body(self, mailbox_id: str, uid: int) -> SealedBody | None:
        keys = {"b_mailbox": mailbox_id, "b_uid": uid}
        row = (await self._connection.execute(_BODY, keys)).first()
        return None if row is None else SealedBody(row.wrapped_key, row.ciphertext)

    async def messages(
        self, mailbox_id: str, uids: UidSet | None = None
    ) -> Sequence[StoredMessage]:
        match = match_uids(uids)
        query = (
            select(*METADATA)
            .where(messages.c.mailbox_id == mailbox_id, match.condition(messages.c.uid))
            .order_by(messages.c.uid)
        )
        rows = await self._connection.execute(query)
        return [message_record(row) for row in rows if match.contains(row.uid)]

    async def set_flags(
        self,
        mailbox_id: str,
        uids: UidSet,
        *,
        add: Sequence[str] = (),
        remove: Sequence[str] = (),
        replace: Sequence[str] | None = None,
        unchanged_since: int | None = None,
    ) -> FlagUpdate:
        if replace is not None and (add or remove):
            raise ValueError("give either flags to replace, or flags to add and remove")
        added, removed = set(canonical_flags(add)), set(canonical_flags(remove))
        replacement = None if replace is None else canonical_flags(replace)
        match = match_uids(uids)
        await lock_mailboxes(self._connection, [mailbox_id])
        query = (
            select(messages.c.uid, messages.c.flags, messages.c.modseq)
            .where(messages.c.mailbox_id == mailbox_id, match.condition(messages.c.uid))
            .order_by(messages.c.uid)
        )
        changes: list[tuple[int, tuple[str, ...]]] = []
        failed: list[int] = []
        for row in await self._connection.execute(query):
            if not match.contains(row.uid):
                continue
            if unchanged_since is not None and row.modseq > unchanged_since:
                failed.append(int(row.uid))
                continue
            old = tuple(row.flags.split())
            if replacement is not None:
                new = replacement
            else:
                new = tuple(sorted((set(old) | added) - removed))
            if new != old:
                changes.append((int(row.uid), new))
        if not changes:
            return FlagUpdate(changed=(), failed_modified=tuple(failed))
        modseq = await advance_modseq(self._connection, mailbox_id)
        statement = (
            update(messages)
            .where(_BY_KEY)
            .values(flags=bindparam("b_flags"), modseq=bindparam("b_modseq"))
        )
        await self._connection.execute(
            statement,
            [
                {"b_mailbox": mailbox_id, "b_uid": uid, "b_flags": " ".join(f), "b_modseq": modseq}
                for uid, f in changes
            ],
        )
        await notify(self._connection, mailbox_id)
        changed = tuple(FlagChange(uid, flags, modseq) for uid, flags in changes)
        return FlagUpdate(changed=changed, failed_modified=tuple(failed))

    async def expunge(self, mailbox_id: str, uids: UidSet | None = None) -> Sequence[int]:
        match = match_uids(uids)
        await lock_mailboxes(self._connection, [mailbox_id])
        query = (
            select(messages.c.uid)
            .where(
                messages.c.mailbox_id == mailbox_id,
                has_flag(messages.c.flags, "\\Deleted"),
                match.condition(messages.c.uid),
            )
            .order_by(messages.c.uid)
        )
        found = match.filter(
            [int(uid) for uid in (await self._connection.execute(query)).scalars()]
        )
        await self._remove(mailbox_id, found)
        return found

    async def _remove(self, mailbox_id: str, uids: Sequence[int]) -> None:
        """Delete the messages with tombstones under one new MODSEQ; the caller holds the
        mailbox's lock."""
        if not uids:
            return
        modseq = await advance_modseq(self._connection, mailbox_id)
        keys = [{"b_mailbox": mailbox_id, "b_uid": uid} for uid in uids]
        await self._connection.execute(delete(messages).where(_BY_KEY), keys)
        await self._connection.execute(
            insert(vanished), [{"mailbox_id": mailbox_id, "uid": u, "modseq": modseq} for u in uids]
        )
        await notify(self._connection, mailbox_id)

    async def changes_since(
        self, mailbox_id: str, modseq: int, uids: UidSet | None = None
    ) -> MailboxChanges:
        match = match_uids(uids)
        highest = await self.highest_modseq(mailbox_id)
        if highest is None:
            raise no_mailbox(mailbox_id)
        changed = (
            select(*METADATA)
            .where(
                messages.c.mailbox_id == mailbox_id,
                messages.c.modseq > modseq,
                match.condition(messages.c.uid),
            )
            .order_by(messages.c.uid)
        )
        gone = (
            select(vanished.c.uid)
            .where(
                vanished.c.mailbox_id == mailbox_id,
                vanished.c.modseq > modseq,
                match.condition(vanished.c.uid),
            )
            .order_by(vanished.c.uid)
        )
        rows = await self._connection.execute(changed)
        records = tuple(message_record(row) for row in rows if match.contains(row.uid))
        expunged = match.filter(
            [int(uid) for uid in (await self._connection.execute(gone)).scalars()]
        )
        return MailboxChanges(highestmodseq=highest, changed=records, vanished=tuple(expunged))

    async def message_keys(self, mailbox_id: str, uids: UidSet) -> Sequence[MessageKeys]:
        match = match_uids(uids)
        joined = messages.outerjoin(
            summaries,
            (summaries.c.mailbox_id == messages.c.mailbox_id) & (summaries.c.uid == messages.c.uid),
        )
        query = (
            select(
                messages.c.uid,
                messages.c.email_id,
                messages.c.wrapped_key,
                summaries.c.wrapped_key.label("summary_key"),
            )
            .select_from(joined)
            .where(messages.c.mailbox_id == mailbox_id, match.condition(messages.c.uid))
            .order_by(messages.c.uid)
        )
        return [
            MessageKeys(int(row.uid), row.email_id, row.wrapped_key, row.summary_key)
            for row in await self._connection.execute(query)
            if match.contains(row.uid)
        ]

    async def summaries(self, mailbox_id: str, uids: UidSet) -> Mapping[int, SealedBody]:
        match = match_uids(uids)
        query = select(summaries.c.uid, summaries.c.wrapped_key, summaries.c.ciphertext).where(
            summaries.c.mailbox_id == mailbox_id, match.condition(summaries.c.uid)
        )
        return {
            int(row.uid): SealedBody(row.wrapped_key, row.ciphertext)
            for row in await self._connection.execute(query)
            if match.contains(row.uid)
        }

    async def put_summary(self, mailbox_id: str, uid: int, summary: SealedBody) -> None:
        if await self.get_message(mailbox_id, uid) is None:
            raise NotFoundError(f"mailbox {mailbox_id} has no message with UID {uid}")
        row = {
            "mailbox_id": mailbox_id,
            "uid": uid,
            "wrapped_key": bytes(summary.wrapped_key),
            "ciphertext": bytes(summary.ciphertext),
        }
        statement = upsert(self._connection, summaries, [row], keys=["mailbox_id", "uid"])
        await self._connection.execute(statement)
