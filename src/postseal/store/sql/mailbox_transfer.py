"""COPY and MOVE between mailboxes (RFC 3501 §6.4.7, RFC 4315 §3, RFC 6851).

Both mailboxes are locked in id order first, so two moves in opposite directions wait
for each other instead of deadlocking. The target's UIDs are taken in one
``UPDATE … RETURNING`` (``uidnext += n``), and each message is copied by an
``INSERT … SELECT`` executed once per message with its new UID and re-wrapped key: the
sealed body goes from row to row inside the database and never through Python.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import BigInteger, LargeBinary, Text, bindparam, insert, select, update

from postseal.errors import ConflictError
from postseal.store.ports import MAX_UID, UidSet
from postseal.store.sql.mailbox_rows import lock_mailboxes, notify
from postseal.store.sql.stored_messages import StoredMessages
from postseal.store.sql.tables import mailbox_messages as messages
from postseal.store.sql.tables import mailbox_summaries as summaries
from postseal.store.sql.tables import mailboxes
from postseal.store.sql.uid_sets import match_uids

__all__ = ["MailboxTransfer"]

_TARGET = bindparam("b_target", type_=Text)
_NEW_UID = bindparam("b_new_uid", type_=BigInteger)
_KEY = bindparam("b_key", type_=LargeBinary)
_SOURCE = bindparam("b_source", type_=Text)
_OLD_UID = bindparam("b_old_uid", type_=BigInteger)

_COPY_MESSAGE = insert(messages).from_select(
    [
        "mailbox_id",
        "uid",
        "email_id",
        "internal_date",
        "size",
        "flags",
        "message_id_hash",
        "modseq",
        "wrapped_key",
        "ciphertext",
    ],
    select(
        _TARGET,
        _NEW_UID,
        messages.c.email_id,
        messages.c.internal_date,
        messages.c.size,
        messages.c.flags,
        messages.c.message_id_hash,
        bindparam("b_modseq", type_=BigInteger),
        _KEY,
        messages.c.ciphertext,
    ).where(messages.c.mailbox_id == _SOURCE, messages.c.uid == _OLD_UID),
)

_COPY_SUMMARY = insert(summaries).from_select(
    ["mailbox_id", "uid", "wrapped_key", "ciphertext"],
    select(_TARGET, _NEW_UID, _KEY, summaries.c.ciphertext).where(
        summaries.c.mailbox_id == _SOURCE, summaries.c.uid == _OLD_UID
    ),
)


class MailboxTransfer(StoredMessages):
    """The messages of :class:`~postseal.store.sql.mailboxes.SqlMailboxRepository`, with
    copy and move."""

    async def copy(
        self,
        source_id: str,
        uids: UidSet,
        target_id: str,
        rewrapped: Mapping[int, bytes],
        *,
        summaries: Mapping[int, bytes] | None = None,
    ) -> Sequence[tuple[int, int]]:
        return await self._transfer(source_id, uids, target_id, rewrapped, summaries or {})

    async def move(
        self,
        source_id: str,
        uids: UidSet,
        target_id: str,
        rewrapped: Mapping[int, bytes],
        *,
        summaries: Mapping[int, bytes] | None = None,
    ) -> Sequence[tuple[int, int]]:
        pairs = await self._transfer(source_id, uids, target_id, rewrapped, summaries or {})
        await self._remove(source_id, [old for old, _ in pairs])
        return pairs

    async def _transfer(
        self,
        source_id: str,
        uids: UidSet,
        target_id: str,
        rewrapped: Mapping[int, bytes],
        summary_keys: Mapping[int, bytes],
    ) -> list[tuple[int, int]]:
        match = match_uids(uids)
        await lock_mailboxes(self._connection, [source_id, target_id])
        query = (
            select(messages.c.uid)
            .where(messages.c.mailbox_id == source_id, match.condition(messages.c.uid))
            .order_by(messages.c.uid)
        )
        found = match.filter([int(u) for u in (await self._connection.execute(query)).scalars()])
        missing = [uid for uid in found if uid not in rewrapped]
        if missing:
            raise ValueError(
                f"no re-wrapped key for UID {missing[0]} of mailbox {source_id} "
                f"({len(missing)} missing): re-wrap every message key for {target_id}"
            )
        if not found:
            return []
        first, modseq = await self._take_uids(target_id, len(found))
        pairs = [(old, first + n) for n, old in enumerate(found)]
        base = {"b_source": source_id, "b_target": target_id, "b_modseq": modseq}
        await self._connection.execute(
            _COPY_MESSAGE,
            [{**base, "b_old_uid": o, "b_new_uid": n, "b_key": rewrapped[o]} for o, n in pairs],
        )
        with_summary = [(o, n) for o, n in pairs if o in summary_keys]
        if with_summary:
            await self._connection.execute(
                _COPY_SUMMARY,
                [
                    {**base, "b_old_uid": o, "b_new_uid": n, "b_key": summary_keys[o]}
                    for o, n in with_summary
                ],
            )
        await notify(self._connection, target_id)
        return pairs

    async def _take_uids(self, mailbox_id: str, count: int) -> tuple[int, int]:
        """Advance ``uidnext`` by ``count`` and the MODSEQ by one; the first new UID and
        the new MODSEQ."""
        statement = (
            update(mailboxes)
            .where(mailboxes.c.id == mailbox_id, mailboxes.c.uidnext + count - 1 <= MAX_UID)
            .values(
                uidnext=mailboxes.c.uidnext + count,
                highestmodseq=mailboxes.c.highestmodseq + 1,
            )
            .returning(mailboxes.c.uidnext, mailboxes.c.highestmodseq)
        )
        row = (await self._connection.execute(statement)).first()
        if row is None:
            raise ConflictError(
                f"mailbox {mailbox_id} has too few UIDs left for {count} more messages",
                hint="recreate the mailbox (a new UIDVALIDITY) and move its messages there",
            )
        return int(row.uidnext) - count, int(row.highestmodseq)
