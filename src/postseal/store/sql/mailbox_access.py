"""Who may use a mailbox, what a user subscribed to, and how much a user may store.

Rights are RFC 4314 letters. The owner of a mailbox holds every right implicitly; others
hold the union of their own entry (``mailbox_acl``) and anyone's (``mailboxes.anyone_rights``).
Rights are stored in :data:`~postseal.store.ports.ALL_RIGHTS` order, so a query for the
``l`` right is a plain substring test.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from postseal.errors import NotFoundError
from postseal.store.ports import ALL_RIGHTS, ANYONE, Grantee, Quota, Usage
from postseal.store.sql.mailbox_rows import canonical_name, no_mailbox
from postseal.store.sql.statements import ConstraintViolation, guarded, upsert
from postseal.store.sql.tables import mailbox_acl as acl
from postseal.store.sql.tables import mailbox_messages as messages
from postseal.store.sql.tables import mailbox_subscriptions as subscriptions
from postseal.store.sql.tables import mailboxes, quotas

__all__ = ["MailboxAccess", "canonical_rights"]


def canonical_rights(rights: str) -> str:
    """The letters in :data:`ALL_RIGHTS` order, once each; ValueError for another letter."""
    unknown = sorted(set(rights) - set(ALL_RIGHTS))
    if unknown:
        raise ValueError(
            f"{''.join(unknown)!r} are not RFC 4314 rights; use letters of {ALL_RIGHTS!r}"
        )
    return "".join(letter for letter in ALL_RIGHTS if letter in rights)


def _no_user(user_id: int) -> NotFoundError:
    return NotFoundError(f"there is no user with id {user_id}")


class MailboxAccess:
    """Rights, subscriptions and quotas of
    :class:`~postseal.store.sql.mailboxes.SqlMailboxRepository`."""

    _connection: AsyncConnection

    async def set_rights(self, mailbox_id: str, grantee: Grantee, rights: str) -> None:
        letters = canonical_rights(rights)
        if grantee == ANYONE:
            statement = (
                update(mailboxes)
                .where(mailboxes.c.id == mailbox_id)
                .values(anyone_rights=letters or None)
            )
            if (await self._connection.execute(statement)).rowcount == 0:
                raise no_mailbox(mailbox_id)
            return
        if isinstance(grantee, bool) or not isinstance(grantee, int):
            raise ValueError(f"a grantee is a user id or {ANYONE!r}, not {grantee!r}")
        exists = select(mailboxes.c.id).where(mailboxes.c.id == mailbox_id)
        if (await self._connection.execute(exists)).first() is None:
            raise no_mailbox(mailbox_id)
        if not letters:
            await self._connection.execute(
                delete(acl).where(acl.c.mailbox_id == mailbox_id, acl.c.user_id == grantee)
            )
            return
        row = {"mailbox_id": mailbox_id, "user_id": grantee, "rights": letters}
        try:
            await guarded(
                self._connection,
                upsert(self._connection, acl, [row], keys=["mailbox_id", "user_id"]),
            )
        except ConstraintViolation:
            raise _no_user(grantee) from None

    async def rights(self, mailbox_id: str) -> Mapping[Grantee, str]:
        anyone = select(mailboxes.c.anyone_rights).where(mailboxes.c.id == mailbox_id)
        row = (await self._connection.execute(anyone)).first()
        if row is None:
            raise no_mailbox(mailbox_id)
        result: dict[Grantee, str] = {}
        if row.anyone_rights:
            result[ANYONE] = row.anyone_rights
        entries = select(acl.c.user_id, acl.c.rights).where(acl.c.mailbox_id == mailbox_id)
        for entry in await self._connection.execute(entries.order_by(acl.c.user_id)):
            result[int(entry.user_id)] = entry.rights
        return result

    async def rights_of(self, mailbox_id: str, user_id: int) -> str:
        joined = mailboxes.outerjoin(
            acl, (acl.c.mailbox_id == mailboxes.c.id) & (acl.c.user_id == user_id)
        )
        query = (
            select(mailboxes.c.user_id, mailboxes.c.anyone_rights, acl.c.rights)
            .select_from(joined)
            .where(mailboxes.c.id == mailbox_id)
        )
        row = (await self._connection.execute(query)).first()
        if row is None:
            return ""
        if row.user_id == user_id:
            return ALL_RIGHTS
        return canonical_rights((row.anyone_rights or "") + (row.rights or ""))

    async def subscribe(self, user_id: int, name: str) -> None:
        row = {"user_id": user_id, "name": canonical_name(name)}
        statement = upsert(self._connection, subscriptions, [row], keys=["user_id", "name"])
        try:
            await guarded(self._connection, statement)
        except ConstraintViolation:
            raise _no_user(user_id) from None

    async def unsubscribe(self, user_id: int, name: str) -> bool:
        statement = delete(subscriptions).where(
            subscriptions.c.user_id == user_id, subscriptions.c.name == canonical_name(name)
        )
        return bool((await self._connection.execute(statement)).rowcount)

    async def subscriptions(self, user_id: int) -> Sequence[str]:
        query = (
            select(subscriptions.c.name)
            .where(subscriptions.c.user_id == user_id)
            .order_by(subscriptions.c.name)
        )
        return list((await self._connection.execute(query)).scalars())

    async def set_quota(self, user_id: int, quota: Quota) -> None:
        for value in (quota.storage, quota.messages):
            if value is not None and (isinstance(value, bool) or value < 0):
                raise ValueError(f"a quota limit must be a whole number ≥ 0, not {value!r}")
        row = {"user_id": user_id, "storage": quota.storage, "messages": quota.messages}
        try:
            await guarded(
                self._connection, upsert(self._connection, quotas, [row], keys=["user_id"])
            )
        except ConstraintViolation:
            raise _no_user(user_id) from None

    async def quota(self, user_id: int) -> Quota:
        query = select(quotas.c.storage, quotas.c.messages).where(quotas.c.user_id == user_id)
        row = (await self._connection.execute(query)).first()
        return Quota() if row is None else Quota(row.storage, row.messages)

    async def usage(self, user_id: int) -> Usage:
        query = (
            select(func.coalesce(func.sum(messages.c.size), 0), func.count(messages.c.uid))
            .select_from(messages.join(mailboxes, mailboxes.c.id == messages.c.mailbox_id))
            .where(mailboxes.c.user_id == user_id)
        )
        size, count = (await self._connection.execute(query)).one()
        return Usage(size=int(size), messages=int(count))
