"""The mailbox read path: what sessions read on every command, outside any transaction.

An IMAP or POP3 session reads a mailbox far more often than anything writes it: a body
per ``FETCH``, HIGHESTMODSEQ after commands, the whole listing at ``SELECT``. These
reads need no transaction of the caller's, so the store may serve them on a path of its
own (ADR 0017: on SQLite a read-only connection, one worker-thread call per read).

Each method reads committed data only and sees every change committed before it was
called; none of them writes. The values are those of the
:class:`~postseal.store.ports.MailboxRepository` methods of the same names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from postseal.store.ports.mailbox_records import Mailbox, MailboxChanges, StoredMessage, UidSet
from postseal.store.ports.sealed import SealedBody

__all__ = ["MailboxListing", "MailboxReads"]


@dataclass(frozen=True, slots=True)
class MailboxListing:
    """A mailbox's row and its messages (without bodies) by UID, read together: the
    row's ``highestmodseq`` is never newer than the messages listed, so a change racing
    the read is seen again by ``changes_since``, never missed."""

    mailbox: Mailbox
    messages: tuple[StoredMessage, ...]


class MailboxReads(Protocol):
    """Reads of one mailbox's messages, each a complete call of its own (no ``begin``).
    A malformed UID set raises ValueError, as in the repository."""

    async def find(self, user_id: int | None, name: str) -> Mailbox | None:
        """The mailbox of ``user_id`` (None: a shared one) named ``name`` (``inbox``
        in any case is INBOX); None when there is none or the name is malformed."""
        ...

    async def highest_modseq(self, mailbox_id: str) -> int | None:
        """HIGHESTMODSEQ (RFC 7162 §3.1.1) from the mailbox row; None when it is gone."""
        ...

    async def listing(self, mailbox_id: str) -> MailboxListing | None:
        """The mailbox and all its messages (``SELECT``); None when it is gone."""
        ...

    async def messages(
        self, mailbox_id: str, uids: UidSet | None = None
    ) -> Sequence[StoredMessage]:
        """The messages among ``uids`` (None: all) by UID, without bodies."""
        ...

    async def body(self, mailbox_id: str, uid: int) -> SealedBody | None:
        """The sealed body of one message; None when the UID does not exist."""
        ...

    async def summaries(self, mailbox_id: str, uids: UidSet) -> Mapping[int, SealedBody]:
        """The sealed summaries of the messages among ``uids`` that have one, by UID."""
        ...

    async def changes_since(self, mailbox_id: str, modseq: int) -> MailboxChanges:
        """Messages changed and UIDs expunged after ``modseq`` (RFC 7162 §3.1.4);
        NotFoundError when the mailbox is gone."""
        ...
