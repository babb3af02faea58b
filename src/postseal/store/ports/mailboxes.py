"""Mailboxes and their messages (issue 5; ADR 0008 and ADR 0011).

One rule makes the message operations safe under concurrency: every change to a
mailbox's messages (append, flags, expunge, copy into it, move out of it) first locks the
mailbox's row, and gives the change the next MODSEQ of that mailbox. Two changes of one
mailbox never interleave and never share a MODSEQ, whichever process or node makes them.
On PostgreSQL each change also sends ``NOTIFY postseal_mailbox, '<mailbox id>'``, which
is delivered when the transaction commits; :meth:`MailboxRepository.highest_modseq` is
the poll that works on every database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from postseal.store.ports.mailbox_records import (
    FlagUpdate,
    Grantee,
    Mailbox,
    MailboxChanges,
    MailboxStatus,
    MessageKeys,
    NewMailbox,
    NewStoredMessage,
    Quota,
    SpecialUse,
    StoredMessage,
    UidSet,
    Usage,
)
from postseal.store.ports.sealed import SealedBody

__all__ = ["MailboxRepository"]


class MailboxRepository(Protocol):
    """Users' and shared mailboxes and their messages; protocol-neutral (no selected
    state, no sequence numbers). Malformed arguments raise ValueError and change nothing."""

    async def create(self, mailbox: NewMailbox) -> Mailbox:
        """NotFoundError for an unknown user; ConflictError if the owner (or, for a shared
        mailbox, the shared namespace) has a mailbox of that name; ValueError for an empty
        name or an empty hierarchy level. UIDVALIDITY is the creation second, above any
        value any mailbox has had before (RFC 3501 §2.3.1.1), so a deleted and recreated
        name never repeats one. Parents need not exist."""
        ...

    async def ensure(self, mailbox: NewMailbox) -> Mailbox:
        """The owner's mailbox of that name, created from ``mailbox`` if missing; safe
        when two transactions ensure the same one."""
        ...

    async def get(self, mailbox_id: str) -> Mailbox | None: ...
    async def find(self, user_id: int | None, name: str) -> Mailbox | None:
        """By owner (None: shared) and name; any spelling of INBOX finds INBOX."""
        ...

    async def list(self, user_id: int | None) -> Sequence[Mailbox]:
        """The owner's (None: the shared) mailboxes, by name."""
        ...

    async def list_visible(self, user_id: int) -> Sequence[Mailbox]:
        """The user's own mailboxes, then every other mailbox on which the user, or
        anyone, has the ``l`` right (RFC 4314 §4), each group by name."""
        ...

    async def rename(self, mailbox_id: str, new_name: str) -> Mailbox:
        """Rename the mailbox and every mailbox below it (``a/…`` → ``b/…``) at once,
        keeping ids, UIDs and UIDVALIDITY (RFC 3501 §6.3.5), and the owner's
        subscriptions of those names. NotFoundError for an unknown mailbox;
        ConflictError for INBOX (its messages move instead: the service creates the new
        mailbox and calls :meth:`move`), for the name INBOX, when any new name is taken,
        or when the new name lies below the old one."""
        ...

    async def delete(self, mailbox_id: str) -> None:
        """Delete the mailbox with its messages, rights and tombstones. Mailboxes below it
        stay (whether a name with children may be deleted, or becomes ``\\Noselect``, is
        the service's call, RFC 3501 §6.3.4); subscriptions stay (§6.3.7).
        NotFoundError for an unknown mailbox; ConflictError for a user's INBOX."""
        ...

    async def set_special_use(self, mailbox_id: str, special_use: SpecialUse | None) -> Mailbox:
        """RFC 6154 §5: set or clear what the mailbox is for; NotFoundError if absent."""
        ...

    async def status(self, mailbox_id: str) -> MailboxStatus | None: ...
    async def statuses(self, mailbox_ids: Sequence[str]) -> Mapping[str, MailboxStatus]:
        """:meth:`status` of many mailboxes in one query (LIST-STATUS, RFC 5819); unknown
        ids are left out."""
        ...

    async def highest_modseq(self, mailbox_id: str) -> int | None:
        """The mailbox's HIGHESTMODSEQ from its row alone (cheap enough to poll); None if
        the mailbox does not exist (any more)."""
        ...

    async def subscribe(self, user_id: int, name: str) -> None:
        """Add a name to the user's subscriptions; it need not name a mailbox
        (RFC 3501 §6.3.6). Subscribing twice is no error."""
        ...

    async def unsubscribe(self, user_id: int, name: str) -> bool:
        """Remove a name; whether it was subscribed."""
        ...

    async def subscriptions(self, user_id: int) -> Sequence[str]:
        """The user's subscribed names, sorted."""
        ...

    async def set_rights(self, mailbox_id: str, grantee: Grantee, rights: str) -> None:
        """Replace the grantee's rights (RFC 4314 §2.1 letters; "" removes the entry).
        The owner of a mailbox always holds every right. NotFoundError for an unknown
        mailbox or user; ValueError for an unknown letter."""
        ...

    async def rights(self, mailbox_id: str) -> Mapping[Grantee, str]:
        """Every grantee's rights on the mailbox (GETACL, RFC 4314 §3.3); the owner's
        implicit ones are not listed."""
        ...

    async def rights_of(self, mailbox_id: str, user_id: int) -> str:
        """The user's rights on the mailbox: all for the owner, else the union of the
        user's and anyone's entry, in :data:`ALL_RIGHTS` order. "" when the mailbox does
        not exist either, so a caller cannot tell the two apart."""
        ...

    async def set_quota(self, user_id: int, quota: Quota) -> None:
        """Replace the user's limits; NotFoundError for an unknown user."""
        ...

    async def quota(self, user_id: int) -> Quota:
        """The user's limits; unlimited when none were set."""
        ...

    async def usage(self, user_id: int) -> Usage:
        """Bytes and messages in the user's own mailboxes, in one query. Refusing an
        append over quota is the service's decision."""
        ...

    async def append(self, mailbox_id: str, message: NewStoredMessage) -> StoredMessage:
        """Store under UID ``uidnext`` and advance it; the message gets the mailbox's next
        MODSEQ. Concurrent appends get distinct, increasing UIDs in commit order.
        NotFoundError for an unknown mailbox; ValueError for a flag that is empty or holds
        white space. The five system flags are stored in their RFC 3501 spelling
        (``\\seen`` → ``\\Seen``)."""
        ...

    async def append_many(
        self, mailbox_id: str, messages: Sequence[NewStoredMessage]
    ) -> Sequence[StoredMessage]:
        """:meth:`append` of several messages at once, in order: the same UIDs, MODSEQs
        and errors as appending them one after the other, in a few statements (the queue
        runner's group commit, ADR 0016). All or nothing: an error changes nothing."""
        ...

    async def list_messages(self, mailbox_id: str) -> Sequence[StoredMessage]:
        """By UID."""
        ...

    async def get_message(self, mailbox_id: str, uid: int) -> StoredMessage | None: ...
    async def body(self, mailbox_id: str, uid: int) -> SealedBody | None: ...

    async def messages(
        self, mailbox_id: str, uids: UidSet | None = None
    ) -> Sequence[StoredMessage]:
        """The messages among ``uids`` (None: all), by UID, in one query."""
        ...

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
        """Add and remove flags, or ``replace`` them all, on the messages among ``uids``.

        Messages whose flags really change get one new MODSEQ, shared by this call; a
        message left as it was keeps its MODSEQ, and a call that changes nothing changes
        no MODSEQ. With ``unchanged_since``, a message whose MODSEQ is above it is not
        touched and is reported in ``failed_modified`` (RFC 7162 §3.1.3). UIDs that do not
        exist are ignored. NotFoundError for an unknown mailbox; ValueError for a bad flag
        or ``replace`` together with ``add``/``remove``."""
        ...

    async def expunge(self, mailbox_id: str, uids: UidSet | None = None) -> Sequence[int]:
        """Remove the messages flagged ``\\Deleted`` (among ``uids``, for UID EXPUNGE,
        RFC 4315 §2.1) and keep a tombstone (UID, MODSEQ) of each for
        :meth:`changes_since`; the UIDs removed, ascending. NotFoundError if absent."""
        ...

    async def changes_since(
        self, mailbox_id: str, modseq: int, uids: UidSet | None = None
    ) -> MailboxChanges:
        """Messages changed or appended, and UIDs expunged, after ``modseq`` (among
        ``uids``); CONDSTORE's CHANGEDSINCE and QRESYNC's VANISHED. Tombstones live as long
        as their mailbox. NotFoundError for an unknown mailbox."""
        ...

    async def message_keys(self, mailbox_id: str, uids: UidSet) -> Sequence[MessageKeys]:
        """The wrapped keys of the messages among ``uids``, by UID, in one query: what the
        service re-wraps (``sealing.rewrap``) before :meth:`copy` or :meth:`move`."""
        ...

    async def copy(
        self,
        source_id: str,
        uids: UidSet,
        target_id: str,
        rewrapped: Mapping[int, bytes],
        *,
        summaries: Mapping[int, bytes] | None = None,
    ) -> Sequence[tuple[int, int]]:
        """Copy the messages among ``uids`` to ``target_id``: new UIDs in the order of the
        old ones, the same flags, internal date, size and email_id (RFC 8474 §5.1), one new
        MODSEQ of the target. ``rewrapped`` maps each source UID to its message key
        re-wrapped for the target; the sealed body is copied as it is. ``summaries`` does
        the same for summaries; a summary without a re-wrapped key is not copied (the
        service may rebuild it). Returns (source UID, target UID) pairs for COPYUID
        (RFC 4315 §3). NotFoundError for an unknown mailbox; ValueError when a UID's key is
        missing; ConflictError when the target would exceed :data:`MAX_UID`."""
        ...

    async def move(
        self,
        source_id: str,
        uids: UidSet,
        target_id: str,
        rewrapped: Mapping[int, bytes],
        *,
        summaries: Mapping[int, bytes] | None = None,
    ) -> Sequence[tuple[int, int]]:
        """:meth:`copy`, then remove the copied messages from the source whatever their
        flags, with tombstones (RFC 6851 §3.3); both or neither."""
        ...

    async def summaries(self, mailbox_id: str, uids: UidSet) -> Mapping[int, SealedBody]:
        """The sealed summaries of the messages among ``uids`` that have one, in one
        query."""
        ...

    async def put_summary(self, mailbox_id: str, uid: int, summary: SealedBody) -> None:
        """Store or replace a message's summary (for messages appended without one); no
        MODSEQ change, the message is the same. NotFoundError for an unknown message."""
        ...
