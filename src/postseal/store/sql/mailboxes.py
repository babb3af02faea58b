"""Users' and shared mailboxes: create, find, list, rename, delete, status (ADR 0011).

The message operations live in :mod:`~postseal.store.sql.stored_messages` and
:mod:`~postseal.store.sql.mailbox_transfer`, rights, subscriptions and quotas in
:mod:`~postseal.store.sql.mailbox_access`; :class:`SqlMailboxRepository` is all of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, case, delete, exists, func, insert, not_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from postseal.errors import ConflictError, NotFoundError
from postseal.store.ports import (
    INBOX,
    MAX_UID,
    Mailbox,
    MailboxStatus,
    NewMailbox,
    NewStoredMessage,
    SpecialUse,
    StoredMessage,
)
from postseal.store.sql.mailbox_access import MailboxAccess
from postseal.store.sql.mailbox_rows import (
    canonical_flags,
    canonical_name,
    has_flag,
    mailbox_record,
    no_mailbox,
    notify,
)
from postseal.store.sql.mailbox_transfer import MailboxTransfer
from postseal.store.sql.statements import ConstraintViolation, execute, guarded, upsert
from postseal.store.sql.tables import counters, mailbox_acl, mailboxes, users
from postseal.store.sql.tables import mailbox_messages as messages
from postseal.store.sql.tables import mailbox_subscriptions as subscriptions
from postseal.store.sql.tables import mailbox_summaries as summaries

__all__ = ["SqlMailboxRepository"]

_UIDVALIDITY = "uidvalidity"


def _owned_by(user_id: int | None) -> Any:
    return mailboxes.c.user_id.is_(None) if user_id is None else mailboxes.c.user_id == user_id


def _owner(user_id: int | None) -> str:
    return "the shared namespace" if user_id is None else f"user {user_id}"


class SqlMailboxRepository(MailboxTransfer, MailboxAccess):
    """:class:`~postseal.store.ports.MailboxRepository` on SQL."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def create(self, mailbox: NewMailbox) -> Mailbox:
        name = canonical_name(mailbox.name)
        if mailbox.created_at.utcoffset() is None:
            raise ValueError(
                f"naive datetime {mailbox.created_at.isoformat()} given to the store: use UTC"
            )
        statement = insert(mailboxes).values(
            id=mailbox.id,
            user_id=mailbox.user_id,
            name=name,
            special_use=None if mailbox.special_use is None else str(mailbox.special_use),
            uidvalidity=await self._next_uidvalidity(mailbox.created_at),
            uidnext=1,
            highestmodseq=1,
            created_at=mailbox.created_at,
            wrapped_key=bytes(mailbox.wrapped_key),
        )
        try:
            await guarded(self._connection, statement)
        except ConstraintViolation:
            raise await self._conflict(mailbox, name) from None
        created = await self.get(mailbox.id)
        assert created is not None
        return created

    async def _next_uidvalidity(self, created_at: datetime) -> int:
        # UIDVALIDITY must change whenever a name is reused (RFC 3501 §2.3.1.1): take the
        # creation second, but above every value any mailbox has ever had, deleted ones
        # included, which only a high-water mark remembers.
        second = int(created_at.timestamp())
        following = counters.c.value + 1
        statement = (
            update(counters)
            .where(counters.c.name == _UIDVALIDITY)
            .values(value=case((following > second, following), else_=second))
            .returning(counters.c.value)
        )
        value = (await self._connection.execute(statement)).scalar()
        if value is None:  # migration 0004 writes the row; only a repaired database lacks it
            highest = (
                await self._connection.execute(func.max(mailboxes.c.uidvalidity).select())
            ).scalar()
            value = max(second, (highest or 0) + 1)
            await self._connection.execute(insert(counters).values(name=_UIDVALIDITY, value=value))
        return int(value)

    async def _conflict(self, mailbox: NewMailbox, name: str) -> Exception:
        if mailbox.user_id is not None:
            known = select(exists().where(users.c.id == mailbox.user_id))
            if not (await self._connection.execute(known)).scalar():
                return NotFoundError(f"there is no user with id {mailbox.user_id}")
        if await self.find(mailbox.user_id, name) is not None:
            return ConflictError(
                f"{_owner(mailbox.user_id)} already has a mailbox named {name}",
                hint="choose another name",
            )
        return ConflictError(f"a mailbox with id {mailbox.id} already exists")

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

    async def find(self, user_id: int | None, name: str) -> Mailbox | None:
        try:
            name = canonical_name(name)
        except ValueError:
            return None
        return await self._one(_owned_by(user_id) & (mailboxes.c.name == name))

    async def list(self, user_id: int | None) -> Sequence[Mailbox]:
        query = select(mailboxes).where(_owned_by(user_id)).order_by(mailboxes.c.name)
        return [mailbox_record(row) for row in await self._connection.execute(query)]

    async def list_visible(self, user_id: int) -> Sequence[Mailbox]:
        granted = exists().where(
            mailbox_acl.c.mailbox_id == mailboxes.c.id,
            mailbox_acl.c.user_id == user_id,
            mailbox_acl.c.rights.contains("l"),
        )
        own = mailboxes.c.user_id == user_id
        query = (
            select(mailboxes)
            .where(or_(own, mailboxes.c.anyone_rights.contains("l"), granted))
            .order_by(case((own, 0), else_=1), mailboxes.c.name, mailboxes.c.id)
        )
        return [mailbox_record(row) for row in await self._connection.execute(query)]

    async def rename(self, mailbox_id: str, new_name: str) -> Mailbox:
        box = await self.get(mailbox_id)
        if box is None:
            raise no_mailbox(mailbox_id)
        new = canonical_name(new_name)
        old = box.name
        if box.user_id is not None and INBOX in (old, new):
            raise ConflictError(
                "INBOX cannot be renamed, and no mailbox can take its name",
                hint="to empty INBOX into another mailbox, create that mailbox and move "
                "the messages (RFC 3501 §6.3.5)",
            )
        if new == old or new.startswith(old + "/"):
            raise ConflictError(f"cannot rename {old} to itself or to a name below it")
        owned = _owned_by(box.user_id)
        subtree = (mailboxes.c.name == old) | mailboxes.c.name.startswith(
            old + "/", autoescape=True
        )
        query = select(mailboxes.c.id, mailboxes.c.name).where(owned, subtree)
        renames = {
            row.id: new + row.name[len(old) :] for row in await self._connection.execute(query)
        }
        taken = select(mailboxes.c.name).where(
            owned,
            mailboxes.c.name.in_(list(renames.values())),
            mailboxes.c.id.not_in(list(renames)),
        )
        clash = (await self._connection.execute(taken.limit(1))).scalar()
        if clash is not None:
            raise ConflictError(
                f"{_owner(box.user_id)} already has a mailbox named {clash}",
                hint="choose another name, or rename or delete that mailbox first",
            )
        # Two passes, because a unique constraint is checked row by row: a name may be
        # taken by another renamed mailbox until that one has moved on.
        by_id = (
            update(mailboxes)
            .where(mailboxes.c.id == bindparam("b_id"))
            .values(name=bindparam("b_name"))
        )
        await self._connection.execute(by_id, [{"b_id": i, "b_name": f"\x1f{i}"} for i in renames])
        await self._connection.execute(
            by_id, [{"b_id": i, "b_name": n} for i, n in renames.items()]
        )
        if box.user_id is not None:
            await self._rename_subscriptions(box.user_id, old, new)
        renamed = await self.get(mailbox_id)
        assert renamed is not None
        return renamed

    async def _rename_subscriptions(self, user_id: int, old: str, new: str) -> None:
        names = subscriptions.c.name
        mine = subscriptions.c.user_id == user_id
        query = select(names).where(
            mine, (names == old) | names.startswith(old + "/", autoescape=True)
        )
        found = list((await self._connection.execute(query)).scalars())
        if not found:
            return
        await self._connection.execute(delete(subscriptions).where(mine, names.in_(found)))
        rows = [{"user_id": user_id, "name": new + name[len(old) :]} for name in found]
        await self._connection.execute(
            upsert(self._connection, subscriptions, rows, keys=["user_id", "name"])
        )

    async def delete(self, mailbox_id: str) -> None:
        box = await self.get(mailbox_id)
        if box is None:
            raise no_mailbox(mailbox_id)
        if box.user_id is not None and box.name == INBOX:
            raise ConflictError(
                "a user's INBOX cannot be deleted", hint="expunge its messages instead"
            )
        await self._connection.execute(delete(mailboxes).where(mailboxes.c.id == mailbox_id))
        await notify(self._connection, mailbox_id)

    async def set_special_use(self, mailbox_id: str, special_use: SpecialUse | None) -> Mailbox:
        value = None if special_use is None else str(SpecialUse(special_use))
        statement = update(mailboxes).where(mailboxes.c.id == mailbox_id).values(special_use=value)
        if (await self._connection.execute(statement)).rowcount == 0:
            raise no_mailbox(mailbox_id)
        changed = await self.get(mailbox_id)
        assert changed is not None
        return changed

    async def status(self, mailbox_id: str) -> MailboxStatus | None:
        return (await self.statuses([mailbox_id])).get(mailbox_id)

    async def statuses(self, mailbox_ids: Sequence[str]) -> Mapping[str, MailboxStatus]:
        if not mailbox_ids:
            return {}
        seen, deleted = (
            has_flag(messages.c.flags, "\\Seen"),
            has_flag(messages.c.flags, "\\Deleted"),
        )
        query = (
            select(
                mailboxes.c.id,
                mailboxes.c.uidnext,
                mailboxes.c.uidvalidity,
                mailboxes.c.highestmodseq,
                func.count(messages.c.uid).label("messages"),
                func.coalesce(func.sum(case((not_(seen), 1), else_=0)), 0).label("unseen"),
                func.coalesce(func.sum(case((deleted, 1), else_=0)), 0).label("deleted"),
                func.coalesce(func.sum(messages.c.size), 0).label("size"),
            )
            .select_from(mailboxes.outerjoin(messages, messages.c.mailbox_id == mailboxes.c.id))
            .where(mailboxes.c.id.in_(list(set(mailbox_ids))))
            .group_by(
                mailboxes.c.id,
                mailboxes.c.uidnext,
                mailboxes.c.uidvalidity,
                mailboxes.c.highestmodseq,
            )
        )
        return {
            row.id: MailboxStatus(
                mailbox_id=row.id,
                messages=int(row.messages),
                unseen=int(row.unseen),
                deleted=int(row.deleted),
                size=int(row.size),
                uidnext=int(row.uidnext),
                uidvalidity=int(row.uidvalidity),
                highestmodseq=int(row.highestmodseq),
            )
            for row in await self._connection.execute(query)
        }

    async def append_many(
        self, mailbox_id: str, messages_: Sequence[NewStoredMessage]
    ) -> Sequence[StoredMessage]:
        # Checked before the UIDs are taken, so that a refusal changes nothing.
        flags = [canonical_flags(m.flags) for m in messages_]
        for message in messages_:
            if message.internal_date.utcoffset() is None:
                raise ValueError(
                    f"naive datetime {message.internal_date.isoformat()} given to the store:"
                    " use UTC"
                )
        count = len(messages_)
        if count == 0:
            return []
        # One UPDATE … RETURNING takes all the UIDs and MODSEQs: the row stays locked (the
        # database on SQLite) until commit, as for a single append.
        advance = (
            update(mailboxes)
            .where(mailboxes.c.id == mailbox_id, mailboxes.c.uidnext + (count - 1) <= MAX_UID)
            .values(
                uidnext=mailboxes.c.uidnext + count,
                highestmodseq=mailboxes.c.highestmodseq + count,
            )
            .returning(mailboxes.c.uidnext, mailboxes.c.highestmodseq)
        )
        row = (await self._connection.execute(advance)).first()
        if row is None:
            if await self.highest_modseq(mailbox_id) is None:
                raise no_mailbox(mailbox_id)
            raise ConflictError(
                f"mailbox {mailbox_id} has no {count} UIDs left of those IMAP allows",
                hint="recreate the mailbox (a new UIDVALIDITY) and move its messages there",
            )
        first_uid = int(row.uidnext) - count
        first_modseq = int(row.highestmodseq) - count + 1
        stored = [
            StoredMessage(
                mailbox_id=mailbox_id,
                uid=first_uid + n,
                email_id=message.email_id,
                internal_date=message.internal_date,
                size=message.size,
                flags=flags[n],
                message_id_hash=message.message_id_hash,
                modseq=first_modseq + n,
            )
            for n, message in enumerate(messages_)
        ]
        await execute(
            self._connection,
            insert(messages),
            [
                {
                    "mailbox_id": mailbox_id,
                    "uid": record.uid,
                    "email_id": record.email_id,
                    "internal_date": record.internal_date,
                    "size": record.size,
                    "flags": " ".join(record.flags),
                    "message_id_hash": record.message_id_hash,
                    "modseq": record.modseq,
                    "wrapped_key": bytes(message.body.wrapped_key),
                    "ciphertext": bytes(message.body.ciphertext),
                }
                for record, message in zip(stored, messages_, strict=True)
            ],
        )
        sealed_summaries = [
            {
                "mailbox_id": mailbox_id,
                "uid": record.uid,
                "wrapped_key": bytes(message.summary.wrapped_key),
                "ciphertext": bytes(message.summary.ciphertext),
            }
            for record, message in zip(stored, messages_, strict=True)
            if message.summary is not None
        ]
        if sealed_summaries:
            await execute(self._connection, insert(summaries), sealed_summaries)
        await notify(self._connection, mailbox_id)
        return stored

    async def _one(self, condition: Any) -> Mailbox | None:
        row = (await self._connection.execute(select(mailboxes).where(condition))).first()
        return None if row is None else mailbox_record(row)
