"""Users' mailboxes and the sealed messages in them (minimal: issue 5 extends it).

UIDs come from ``mailboxes.uidnext``, advanced by ``UPDATE … RETURNING`` in the appending
transaction. The update holds the mailbox row until commit (a row lock on PostgreSQL, the
database write lock on SQLite), so concurrent appends get distinct UIDs and commit in UID
order: no reader ever sees UID n+1 before UID n (RFC 3501 §2.3.1.1), and a rolled-back
append gives its UID back.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, exists, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from postseal.errors import ConflictError, NotFoundError
from postseal.store.ports import Mailbox, NewMailbox, NewStoredMessage, SealedBody, StoredMessage
from postseal.store.sql.statements import ConstraintViolation, execute, guarded
from postseal.store.sql.tables import mailbox_messages as messages
from postseal.store.sql.tables import mailboxes, users

__all__ = ["SqlMailboxRepository"]

_MAX_UID = 2**32 - 1  # RFC 3501 §9: nz-number is a 32-bit unsigned integer
_FLAG = re.compile(r"\S+")
_METADATA = [c for c in messages.c if c.name not in ("wrapped_key", "ciphertext")]


class SqlMailboxRepository:
    """:class:`~postseal.store.ports.MailboxRepository` on SQL."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def create(self, mailbox: NewMailbox) -> Mailbox:
        if not mailbox.name:
            raise ValueError("a mailbox name must not be empty")
        # UIDVALIDITY must change when a name is reused (RFC 3501 §2.3.1.1): take the
        # creation second, but above every value this user's mailboxes have had so far.
        highest = select(func.max(mailboxes.c.uidvalidity)).where(
            mailboxes.c.user_id == mailbox.user_id
        )
        before = (await self._connection.execute(highest)).scalar() or 0
        uidvalidity = max(int(mailbox.created_at.timestamp()), before + 1)
        statement = insert(mailboxes).values(
            id=mailbox.id,
            user_id=mailbox.user_id,
            name=mailbox.name,
            uidvalidity=uidvalidity,
            uidnext=1,
            created_at=mailbox.created_at,
            wrapped_key=bytes(mailbox.wrapped_key),
        )
        try:
            await guarded(self._connection, statement)
        except ConstraintViolation:
            raise await self._conflict(mailbox) from None
        created = await self.get(mailbox.id)
        assert created is not None
        return created

    async def ensure(self, mailbox: NewMailbox) -> Mailbox:
        found = await self.find(mailbox.user_id, mailbox.name)
        if found is not None:
            return found
        try:
            return await self.create(mailbox)
        except ConflictError:
            # Another transaction created it after our look-up and has committed.
            found = await self.find(mailbox.user_id, mailbox.name)
            if found is None:
                raise
            return found

    async def get(self, mailbox_id: str) -> Mailbox | None:
        return await self._one(mailboxes.c.id == mailbox_id)

    async def find(self, user_id: int, name: str) -> Mailbox | None:
        return await self._one((mailboxes.c.user_id == user_id) & (mailboxes.c.name == name))

    async def list(self, user_id: int) -> Sequence[Mailbox]:
        query = select(mailboxes).where(mailboxes.c.user_id == user_id).order_by(mailboxes.c.name)
        return [_mailbox(row) for row in await self._connection.execute(query)]

    async def append(self, mailbox_id: str, message: NewStoredMessage) -> StoredMessage:
        flags = tuple(sorted(set(message.flags)))
        for flag in flags:
            if not _FLAG.fullmatch(flag):
                raise ValueError(f"the flag {flag!r} is empty or holds white space")
        if message.internal_date.utcoffset() is None:
            # Checked before the UID is taken, so that the refusal changes nothing.
            raise ValueError(
                f"naive datetime {message.internal_date.isoformat()} given to the store: use UTC"
            )
        advance = (
            update(mailboxes)
            .where(mailboxes.c.id == mailbox_id, mailboxes.c.uidnext <= _MAX_UID)
            .values(uidnext=mailboxes.c.uidnext + 1)
            .returning(mailboxes.c.uidnext)
        )
        row = (await self._connection.execute(advance)).first()
        if row is None:
            if await self.get(mailbox_id) is None:
                raise _no_mailbox(mailbox_id)
            raise ConflictError(
                f"mailbox {mailbox_id} has used every UID IMAP allows",
                hint="recreate the mailbox (a new UIDVALIDITY) and move its messages there",
            )
        uid = int(row.uidnext) - 1
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
                wrapped_key=bytes(message.body.wrapped_key),
                ciphertext=bytes(message.body.ciphertext),
            ),
        )
        return StoredMessage(
            mailbox_id=mailbox_id,
            uid=uid,
            email_id=message.email_id,
            internal_date=message.internal_date,
            size=message.size,
            flags=flags,
            message_id_hash=message.message_id_hash,
        )

    async def list_messages(self, mailbox_id: str) -> Sequence[StoredMessage]:
        query = (
            select(*_METADATA).where(messages.c.mailbox_id == mailbox_id).order_by(messages.c.uid)
        )
        return [_message(row) for row in await self._connection.execute(query)]

    async def get_message(self, mailbox_id: str, uid: int) -> StoredMessage | None:
        query = select(*_METADATA).where(messages.c.mailbox_id == mailbox_id, messages.c.uid == uid)
        row = (await self._connection.execute(query)).first()
        return None if row is None else _message(row)

    async def body(self, mailbox_id: str, uid: int) -> SealedBody | None:
        query = select(messages.c.wrapped_key, messages.c.ciphertext).where(
            messages.c.mailbox_id == mailbox_id, messages.c.uid == uid
        )
        row = (await self._connection.execute(query)).first()
        return None if row is None else SealedBody(row.wrapped_key, row.ciphertext)

    async def _one(self, condition: Any) -> Mailbox | None:
        row = (await self._connection.execute(select(mailboxes).where(condition))).first()
        return None if row is None else _mailbox(row)

    async def _conflict(self, mailbox: NewMailbox) -> Exception:
        known = await self._connection.execute(
            select(exists().where(users.c.id == mailbox.user_id))
        )
        if not known.scalar():
            return NotFoundError(f"there is no user with id {mailbox.user_id}")
        if await self.find(mailbox.user_id, mailbox.name) is not None:
            return ConflictError(
                f"user {mailbox.user_id} already has a mailbox named {mailbox.name}",
                hint="choose another name",
            )
        return ConflictError(f"a mailbox with id {mailbox.id} already exists")


def _no_mailbox(mailbox_id: str) -> NotFoundError:
    return NotFoundError(f"there is no mailbox with id {mailbox_id}")


def _mailbox(row: Row[Any]) -> Mailbox:
    return Mailbox(
        id=row.id,
        user_id=row.user_id,
        name=row.name,
        uidvalidity=int(row.uidvalidity),
        uidnext=int(row.uidnext),
        wrapped_key=row.wrapped_key,
        created_at=row.created_at,
    )


def _message(row: Row[Any]) -> StoredMessage:
    return StoredMessage(
        mailbox_id=row.mailbox_id,
        uid=int(row.uid),
        email_id=row.email_id,
        internal_date=row.internal_date,
        size=int(row.size),
        flags=tuple(row.flags.split()) if row.flags else (),
        message_id_hash=row.message_id_hash,
    )
