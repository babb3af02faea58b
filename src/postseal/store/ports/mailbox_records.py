"""The values of the mailbox port: mailboxes, stored messages, UID sets, rights, quotas.

Everything is protocol-neutral: UIDs, UIDVALIDITY and MODSEQ are the store's own
counters (IMAP exposes them as such, POP3's UIDL and the webmail use them too); sequence
numbers, the selected mailbox and IMAP syntax belong to the sessions.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Literal

from postseal.store.ports.sealed import SealedBody

__all__ = [
    "ALL_RIGHTS",
    "ANYONE",
    "INBOX",
    "MAX_UID",
    "FlagChange",
    "FlagUpdate",
    "Grantee",
    "Mailbox",
    "MailboxChanges",
    "MailboxStatus",
    "MessageKeys",
    "NewMailbox",
    "NewStoredMessage",
    "Quota",
    "SpecialUse",
    "StoredMessage",
    "UidSet",
    "Usage",
]

INBOX: Final = "INBOX"
"""The one name that is case-insensitive (RFC 3501 §5.1): the store keeps "INBOX" for
every spelling of a name whose first hierarchy level is ``inbox``."""

MAX_UID: Final = 2**32 - 1
"""RFC 3501 §9: a UID is a 32-bit unsigned nz-number."""

ALL_RIGHTS: Final = "lrswipkxtea"
"""The rights letters of RFC 4314 §2.1, in the order the store writes them."""

ANYONE: Final = "anyone"
"""The grantee that stands for every user (RFC 4314 §2)."""

Grantee = int | Literal["anyone"]
"""Who holds rights on a mailbox: a user id, or :data:`ANYONE`."""

UidSet = Sequence[tuple[int, int]]
"""UIDs as inclusive ranges ``[(first, last), …]``, in any order, overlapping or not; the
two ends of a range may come in either order. IMAP's ``1:*`` is ``[(1, MAX_UID)]``: the
session resolves ``*`` (RFC 3501 §9 seq-number), the store only matches UIDs that exist.
Any number of ranges costs one query."""


class SpecialUse(enum.StrEnum):
    """What a mailbox is for (RFC 6154 §2; the roles of RFC 8621 §2). IMAP shows
    ``\\Sent`` for ``SENT`` and so on."""

    ARCHIVE = "archive"
    DRAFTS = "drafts"
    JUNK = "junk"
    SENT = "sent"
    TRASH = "trash"


@dataclass(frozen=True, slots=True)
class NewMailbox:
    """A mailbox to create. ``id`` (``custody.sealing.new_id``; RFC 8474 MAILBOXID) is
    made by the caller, because ``wrapped_key`` — the mailbox's container key wrapped by
    the master key — is bound to it. ``user_id`` None makes a shared (public) mailbox,
    owned by nobody and reached through its access rights."""

    id: str
    user_id: int | None
    name: str  # "INBOX", "Sent", "Projects/2026" …: "/" separates hierarchy levels
    wrapped_key: bytes
    created_at: datetime
    special_use: SpecialUse | None = None


@dataclass(frozen=True, slots=True)
class Mailbox:
    id: str
    user_id: int | None  # None for a shared mailbox
    name: str
    uidvalidity: int  # RFC 3501 §2.3.1.1
    uidnext: int  # the UID the next appended message gets
    wrapped_key: bytes
    created_at: datetime
    special_use: SpecialUse | None
    highestmodseq: int  # RFC 7162 §3.1.1: the MODSEQ of the mailbox's latest change


@dataclass(frozen=True, slots=True)
class NewStoredMessage:
    """A message to append. ``email_id`` (RFC 8474 EMAILID) is the label its body was
    sealed with; a queued message delivered locally keeps its queue id. ``summary`` is an
    optional sealed blob the reading service makes once (pre-parsed envelope, body
    structure, header fields), so that listing a mailbox does not open every body."""

    email_id: str
    internal_date: datetime
    size: int  # bytes of the plaintext message (RFC822.SIZE)
    body: SealedBody
    flags: tuple[str, ...] = ()  # system flags and keywords, e.g. ("\\Seen", "$Label1")
    message_id_hash: str | None = None  # a keyed hash of Message-ID, for duplicates
    summary: SealedBody | None = None


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A message in a mailbox, without its body (:meth:`MailboxRepository.body`)."""

    mailbox_id: str
    uid: int
    email_id: str
    internal_date: datetime
    size: int
    flags: tuple[str, ...]  # sorted, no duplicates
    message_id_hash: str | None
    modseq: int  # RFC 7162 §3.1: the MODSEQ of its latest change (or of its arrival)


@dataclass(frozen=True, slots=True)
class MailboxStatus:
    """Counts of one mailbox, all from one query (RFC 3501 §6.3.10, RFC 9051 §6.3.11)."""

    mailbox_id: str
    messages: int
    unseen: int  # messages without \\Seen
    deleted: int  # messages with \\Deleted
    size: int  # bytes of all its messages (RFC 9051 STATUS SIZE)
    uidnext: int
    uidvalidity: int
    highestmodseq: int


@dataclass(frozen=True, slots=True)
class FlagChange:
    uid: int
    flags: tuple[str, ...]  # sorted, after the change
    modseq: int


@dataclass(frozen=True, slots=True)
class FlagUpdate:
    """What :meth:`MailboxRepository.set_flags` did: the messages it changed, and the UIDs
    it left alone because they changed after ``unchanged_since`` (RFC 7162 §3.1.3)."""

    changed: tuple[FlagChange, ...]
    failed_modified: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class MailboxChanges:
    """What changed in a mailbox after a MODSEQ (RFC 7162 §3.1.4, RFC 7162 §3.2.6)."""

    highestmodseq: int
    changed: tuple[StoredMessage, ...]  # changed or appended since, by UID
    vanished: tuple[int, ...]  # UIDs expunged since, ascending


@dataclass(frozen=True, slots=True)
class MessageKeys:
    """A message's wrapped keys, for re-wrapping on COPY and MOVE (``sealing.rewrap``)."""

    uid: int
    email_id: str  # the label both were sealed with
    body: bytes
    summary: bytes | None


@dataclass(frozen=True, slots=True)
class Quota:
    """A user's limits (RFC 9208 STORAGE and MESSAGE); None is unlimited."""

    storage: int | None = None  # bytes
    messages: int | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    """What a user's own mailboxes hold (shared mailboxes count for nobody)."""

    size: int  # bytes
    messages: int
