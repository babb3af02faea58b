"""What the IMAP sessions of one listener share, and the service they talk to.

:class:`MailboxAccess` is the part of ``postseal.services.mailboxes.MailboxService`` the
sessions use, written down as a protocol so that the edge depends on the methods it
calls and a test can hand in an in-memory double with the same methods.
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from postseal.store.ports import UserRecord
from postseal.store.ports.mailbox_reads import MailboxListing
from postseal.store.ports.mailbox_records import (
    FlagUpdate,
    Mailbox,
    MailboxChanges,
    MailboxStatus,
    SpecialUse,
    StoredMessage,
    UidSet,
)

from .session_limits import ConnectionGate, ImapLimits

if TYPE_CHECKING:
    from .session import ImapSession

__all__ = ["Authenticator", "ListenerContext", "MailboxAccess"]

Authenticator = Callable[[str, str, str], Awaitable[UserRecord]]
"""(username, password, client address) → the user; raises AuthenticationError, or
ThrottledError when the address or account has failed too often."""


class MailboxAccess(Protocol):
    """The mailbox use cases an IMAP session needs (see the module docstring)."""

    async def ensure_defaults(self, user: UserRecord) -> None: ...
    async def list_mailboxes(self, user: UserRecord) -> list[Mailbox]: ...
    async def find(self, user: UserRecord, name: str) -> Mailbox: ...
    async def status(self, mailbox: Mailbox) -> MailboxStatus: ...
    async def create(
        self, user: UserRecord, name: str, *, special_use: SpecialUse | None = None
    ) -> Mailbox: ...
    async def delete(self, user: UserRecord, name: str) -> None: ...
    async def rename(self, user: UserRecord, old: str, new: str) -> None: ...
    async def subscribe(self, user: UserRecord, name: str) -> None: ...
    async def unsubscribe(self, user: UserRecord, name: str) -> bool: ...
    async def rights(self, user: UserRecord, mailbox: Mailbox) -> str: ...
    async def subscriptions(self, user: UserRecord) -> list[str]: ...
    async def listing(self, mailbox: Mailbox) -> MailboxListing: ...
    async def messages(
        self, mailbox: Mailbox, uids: UidSet | None = None
    ) -> list[StoredMessage]: ...
    async def summaries(
        self,
        mailbox: Mailbox,
        uids: Sequence[int],
        *,
        email_ids: Mapping[int, str] | None = None,
    ) -> dict[int, bytes]: ...
    async def body(self, mailbox: Mailbox, uid: int, *, email_id: str | None = None) -> bytes: ...
    async def append(
        self,
        user: UserRecord,
        name: str,
        data: bytes,
        *,
        flags: Sequence[str] = (),
        internal_date: datetime | None = None,
    ) -> tuple[int, int]: ...
    async def set_flags(
        self,
        mailbox: Mailbox,
        uids: UidSet,
        *,
        add: Sequence[str] = (),
        remove: Sequence[str] = (),
        replace: Sequence[str] | None = None,
        unchanged_since: int | None = None,
        user: UserRecord | None = None,
    ) -> FlagUpdate: ...
    async def expunge(
        self, mailbox: Mailbox, uids: UidSet | None = None, *, user: UserRecord | None = None
    ) -> list[int]: ...
    async def copy(
        self, user: UserRecord, mailbox: Mailbox, uids: UidSet, target: str
    ) -> tuple[int, list[tuple[int, int]]]: ...
    async def move(
        self, user: UserRecord, mailbox: Mailbox, uids: UidSet, target: str
    ) -> tuple[int, list[tuple[int, int]]]: ...
    async def changes_since(self, mailbox: Mailbox, modseq: int) -> MailboxChanges: ...
    async def highest_modseq(self, mailbox_id: str) -> int: ...
    def change_version(self, mailbox_id: str) -> int: ...
    async def wait_for_change(
        self,
        mailbox_id: str,
        known_modseq: int,
        *,
        timeout: float,  # noqa: ASYNC109
    ) -> bool: ...


@dataclass(eq=False)
class ListenerContext:
    """Shared by every session of one listener. ``starttls`` is None on ``imaps``,
    where TLS is implicit."""

    kind: str
    mailboxes: MailboxAccess
    authenticate: Authenticator
    hostname: str
    limits: ImapLimits
    gate: ConnectionGate
    starttls: ssl.SSLContext | None
    sessions: set[ImapSession] = field(default_factory=set)
    stopping: bool = False
