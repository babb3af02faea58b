"""Sealing messages into users' mailboxes during delivery, and reading them back.

The sealing conventions (container and label of bodies and summaries) live in
:mod:`postseal.services.mailbox_sealing`, shared with the mailbox service that IMAP and
POP3 read through, so what delivery writes is what they open.

A user's INBOX is created on first delivery (:meth:`MailboxWriter.ensure_inbox`). Two
deliveries racing to create it both end up with the one the store kept
(:meth:`~postseal.store.ports.MailboxRepository.ensure`), and the key is always unwrapped
from the stored record, never from the one this process made.

Everything here runs inside the caller's transaction, so an append commits or rolls back
together with the queue transition that caused it (RFC 5321 §6.1: once accepted, a
message is delivered once). The queue runner seals first (:meth:`MailboxWriter.seal`,
CPU only) and appends in a group commit (:meth:`MailboxWriter.store`, ADR 0016), so the
shared transaction holds no sealing work.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime

from postseal.custody import MasterKey
from postseal.errors import NotFoundError
from postseal.services import mailbox_sealing as sealed
from postseal.services.mailbox_changes import CHANGES
from postseal.store.ports import (
    INBOX,
    Mailbox,
    NewStoredMessage,
    Store,
    StoredMessage,
    Transaction,
)

__all__ = ["INBOX", "MailboxWriter", "read_mailbox"]


class MailboxWriter:
    """Seals messages (body and summary) into mailboxes under their per-mailbox keys."""

    _KEYS = 256  # unwrapped mailbox keys kept, the most recently used (memory only)

    def __init__(self, master: MasterKey) -> None:
        self._master = master
        self._keys: OrderedDict[tuple[str, bytes], bytes] = OrderedDict()

    async def ensure_inbox(self, tx: Transaction, user_id: int, *, now: datetime) -> Mailbox:
        """The user's INBOX, created with a fresh wrapped key when it does not exist."""
        found = await tx.mailboxes.find(user_id, INBOX)
        if found is not None:
            return found
        return await tx.mailboxes.ensure(sealed.new_mailbox(self._master, user_id, INBOX, now=now))

    def mailbox_key(self, mailbox: Mailbox) -> bytes:
        """The mailbox's unwrapped key; kept in memory for the next message to it (the
        wrapped key is part of the lookup, so a re-keyed mailbox is unwrapped again)."""
        slot = (mailbox.id, bytes(mailbox.wrapped_key))
        key = self._keys.get(slot)
        if key is None:
            key = sealed.mailbox_key(self._master, mailbox)
            self._keys[slot] = key
            while len(self._keys) > self._KEYS:
                self._keys.popitem(last=False)
        else:
            self._keys.move_to_end(slot)
        return key

    async def seal(
        self,
        mailbox: Mailbox,
        data: bytes,
        *,
        email_id: str,
        internal_date: datetime,
        flags: tuple[str, ...] = (),
    ) -> NewStoredMessage:
        """``data`` and its summary sealed under the mailbox's key, ready to append."""
        key = self.mailbox_key(mailbox)
        return await sealed.offload(
            len(data),
            lambda: sealed.seal_message(
                key, mailbox.id, data, email_id=email_id, internal_date=internal_date, flags=flags
            ),
        )

    async def store(
        self, tx: Transaction, mailbox_id: str, message: NewStoredMessage
    ) -> StoredMessage:
        """Append a message sealed by :meth:`seal` for this mailbox."""
        stored = await tx.mailboxes.append(mailbox_id, message)
        # Before the caller commits: sessions of this process look at once, and their
        # periodic store check (mailbox_changes.RECHECK_SECONDS) covers the race.
        CHANGES.touch(mailbox_id)
        return stored

    async def append(
        self,
        tx: Transaction,
        mailbox: Mailbox,
        data: bytes,
        *,
        email_id: str,
        internal_date: datetime,
        flags: tuple[str, ...] = (),
    ) -> StoredMessage:
        """Seal ``data`` and its summary under the mailbox's key and append them."""
        message = await self.seal(
            mailbox, data, email_id=email_id, internal_date=internal_date, flags=flags
        )
        return await self.store(tx, mailbox.id, message)

    async def deliver(
        self, tx: Transaction, user_id: int, data: bytes, *, email_id: str, now: datetime
    ) -> StoredMessage:
        """Append ``data`` to the user's INBOX (created if needed); INTERNALDATE is the
        time of final delivery (RFC 3501 §2.3.3)."""
        inbox = await self.ensure_inbox(tx, user_id, now=now)
        return await self.append(tx, inbox, data, email_id=email_id, internal_date=now)

    async def read(self, tx: Transaction, mailbox: Mailbox) -> list[bytes]:
        """Every message of ``mailbox`` in UID order, opened."""
        key = self.mailbox_key(mailbox)
        out = []
        for stored in await tx.mailboxes.list_messages(mailbox.id):
            body = await tx.mailboxes.body(mailbox.id, stored.uid)
            if body is None:  # expunged since the listing
                continue
            out.append(sealed.open_body(key, mailbox.id, stored.email_id, body))
        return out


async def read_mailbox(
    store: Store, master: MasterKey, address: str, *, name: str = INBOX
) -> list[bytes]:
    """The messages of a user's mailbox, opened, in UID order; ``[]`` when the user has
    no such mailbox yet. NotFoundError for an unknown user. For tests and checks."""
    async with store.begin() as tx:
        user = await tx.users.get(address)
        if user is None:
            raise NotFoundError(f"there is no user {address}")
        mailbox = await tx.mailboxes.find(user.id, name)
        if mailbox is None:
            return []
        return await MailboxWriter(master).read(tx, mailbox)
