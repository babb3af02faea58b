"""What every mailbox operation shares: names, flags, rows to records, the mailbox lock,
the MODSEQ counter and the change notification.

The lock rule (ADR 0011): a change of a mailbox's messages first locks the mailbox's row
— ``SELECT … FOR UPDATE`` on PostgreSQL, in mailbox-id order when there are two; SQLite
holds the database write lock from ``BEGIN IMMEDIATE`` — and then takes the mailbox's
next MODSEQ with ``UPDATE … RETURNING``. Reads after the lock see every committed change.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any, Final

from sqlalchemy import ColumnElement, Row, func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from postseal.errors import NotFoundError
from postseal.store.ports import INBOX, Mailbox, SpecialUse, StoredMessage
from postseal.store.sql.tables import mailbox_messages as messages
from postseal.store.sql.tables import mailboxes

__all__ = [
    "METADATA",
    "NOTIFY_CHANNEL",
    "advance_modseq",
    "canonical_flags",
    "canonical_name",
    "has_flag",
    "lock_mailboxes",
    "mailbox_record",
    "message_record",
    "no_mailbox",
    "notify",
]

NOTIFY_CHANNEL: Final = "postseal_mailbox"
METADATA = [c for c in messages.c if c.name not in ("wrapped_key", "ciphertext")]

_FLAG = re.compile(r"\S+")
_SYSTEM_FLAGS = {
    flag.lower(): flag for flag in ("\\Answered", "\\Deleted", "\\Draft", "\\Flagged", "\\Seen")
}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def canonical_name(name: str) -> str:
    """The stored form of a mailbox name: ``inbox`` (any case) as the first hierarchy
    level becomes ``INBOX`` (RFC 3501 §5.1). ValueError for an empty name, an empty level
    (``a//b``, ``/a``, ``a/``) or a control character."""
    if not name:
        raise ValueError("a mailbox name must not be empty")
    if _CONTROL.search(name):
        raise ValueError(f"the mailbox name {name!r} holds a control character")
    levels = name.split("/")
    if not all(levels):
        raise ValueError(f"the mailbox name {name!r} has an empty hierarchy level")
    if levels[0].upper() == INBOX:
        levels[0] = INBOX
    return "/".join(levels)


def canonical_flags(flags: Iterable[str]) -> tuple[str, ...]:
    """Sorted, without duplicates, system flags spelled as in RFC 3501 §2.3.2; ValueError
    for a flag that is empty or holds white space."""
    result = set()
    for flag in flags:
        if not _FLAG.fullmatch(flag):
            raise ValueError(f"the flag {flag!r} is empty or holds white space")
        result.add(_SYSTEM_FLAGS.get(flag.lower(), flag))
    return tuple(sorted(result))


def has_flag(flags: Any, flag: str) -> ColumnElement[bool]:
    """SQL: the space-joined ``flags`` column holds ``flag`` as a whole word."""
    padded = literal(" ") + flags + literal(" ")
    return padded.contains(f" {flag} ", autoescape=True)  # type: ignore[no-any-return]


def no_mailbox(mailbox_id: str) -> NotFoundError:
    return NotFoundError(f"there is no mailbox with id {mailbox_id}")


async def lock_mailboxes(connection: AsyncConnection, mailbox_ids: Sequence[str]) -> None:
    """Lock the mailboxes' rows until commit, in id order; NotFoundError for one absent."""
    wanted = sorted(set(mailbox_ids))
    query = (
        select(mailboxes.c.id)
        .where(mailboxes.c.id.in_(wanted))
        .order_by(mailboxes.c.id)
        .with_for_update()
    )
    found = set((await connection.execute(query)).scalars())
    for mailbox_id in wanted:
        if mailbox_id not in found:
            raise no_mailbox(mailbox_id)


async def advance_modseq(connection: AsyncConnection, mailbox_id: str) -> int:
    """Take the mailbox's next MODSEQ (RFC 7162 §3.1); the caller holds its lock."""
    statement = (
        update(mailboxes)
        .where(mailboxes.c.id == mailbox_id)
        .values(highestmodseq=mailboxes.c.highestmodseq + 1)
        .returning(mailboxes.c.highestmodseq)
    )
    row = (await connection.execute(statement)).first()
    if row is None:
        raise no_mailbox(mailbox_id)
    return int(row.highestmodseq)


async def notify(connection: AsyncConnection, mailbox_id: str) -> None:
    """On PostgreSQL, ``NOTIFY postseal_mailbox, '<mailbox id>'``: delivered to listeners
    when the transaction commits, once however often it was sent. SQLite has no
    listeners; sessions there poll ``highest_modseq``."""
    if connection.dialect.name == "postgresql":
        await connection.execute(select(func.pg_notify(NOTIFY_CHANNEL, mailbox_id)))


def mailbox_record(row: Row[Any]) -> Mailbox:
    return Mailbox(
        id=row.id,
        user_id=row.user_id,
        name=row.name,
        uidvalidity=int(row.uidvalidity),
        uidnext=int(row.uidnext),
        wrapped_key=row.wrapped_key,
        created_at=row.created_at,
        special_use=None if row.special_use is None else SpecialUse(row.special_use),
        highestmodseq=int(row.highestmodseq),
    )


def message_record(row: Row[Any]) -> StoredMessage:
    return StoredMessage(
        mailbox_id=row.mailbox_id,
        uid=int(row.uid),
        email_id=row.email_id,
        internal_date=row.internal_date,
        size=int(row.size),
        flags=tuple(row.flags.split()) if row.flags else (),
        message_id_hash=row.message_id_hash,
        modseq=int(row.modseq),
    )
