"""The durable mail queue (issue 4)."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from postseal.store.ports.sealed import SealedBody

__all__ = [
    "ClaimedMessage",
    "NewRecipient",
    "QueueEntry",
    "QueueRepository",
    "QueuedMessage",
    "QueuedRecipient",
    "RecipientKind",
    "RecipientStatus",
]


class RecipientKind(enum.StrEnum):
    """Where a queued recipient goes: a local mailbox, or another SMTP server."""

    LOCAL = "local"
    REMOTE = "remote"


class RecipientStatus(enum.StrEnum):
    """A queued recipient's state. Only ``pending`` changes; the other three are final.

    ::

        pending ──claim──▶ pending (leased) ──mark_delivered──▶ delivered
           ▲                     │ ├─────────mark_failed─────▶ failed
           └────mark_deferred────┘ └─────────mark_expired────▶ expired
    """

    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    """The envelope of a queued message (RFC 5321 §2.3.1); its body is a SealedBody.

    ``id`` is made by the caller (``custody.sealing.new_id``) before sealing, because the
    body is bound to it. Addresses are kept in clear: the runner routes by them.
    """

    id: str
    mail_from: str  # "" for the null reverse-path
    received_at: datetime
    expires_at: datetime  # after this, pending recipients expire and the sender gets a DSN
    size: int  # bytes of the plaintext message
    listener: str  # "smtp" | "submission" | "submissions" | "local" (DSNs, releases)
    client_address: str
    auth_user: str | None = None
    dsn_ret: str | None = None  # RFC 3461 §4.3: "FULL" | "HDRS"
    dsn_envid: str | None = None  # RFC 3461 §4.4, xtext-decoded


@dataclass(frozen=True, slots=True)
class NewRecipient:
    address: str
    kind: RecipientKind
    notify: str | None = None  # RFC 3461 §4.1, e.g. "SUCCESS,FAILURE"
    orcpt: str | None = None  # RFC 3461 §4.2, e.g. "rfc822;bob@example.org"


@dataclass(frozen=True, slots=True)
class QueuedRecipient:
    message_id: str
    address: str
    kind: RecipientKind
    status: RecipientStatus
    attempts: int  # claims so far, a crashed attempt included
    next_attempt_at: datetime | None  # None once final
    last_error: str | None
    finished_at: datetime | None  # when it became delivered, failed or expired
    notify: str | None
    orcpt: str | None
    lease_owner: str | None  # the runner working on it, until lease_until
    lease_until: datetime | None


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """A queued message and all its recipients (by address), without the body."""

    message: QueuedMessage
    recipients: tuple[QueuedRecipient, ...]


@dataclass(frozen=True, slots=True)
class ClaimedMessage:
    """What :meth:`QueueRepository.claim_due` hands a runner: the message, its body, and
    those of its recipients leased to this runner."""

    message: QueuedMessage
    body: SealedBody
    recipients: tuple[QueuedRecipient, ...]


class QueueRepository(Protocol):
    """The durable mail queue (issue 4): one transaction commits a message before 250.

    Exactly-once rests on two rules. A runner works only on recipients it has leased with
    :meth:`claim_due`, and every ``mark_*`` moves a *pending* recipient *leased to that
    runner* to its next state, or raises ConflictError and changes nothing. Local delivery
    calls ``mark_delivered`` and :meth:`MailboxRepository.append` in one transaction; if
    either raises, both are undone. A runner that dies leaves its lease to expire, and
    the recipient is claimed again; a late runner's ``mark_*`` then fails.
    """

    async def enqueue(
        self, message: QueuedMessage, body: SealedBody, recipients: Sequence[NewRecipient]
    ) -> None:
        """Store the message with its recipients pending and due at ``received_at``.
        ConflictError if the id exists; ValueError without recipients or with one twice."""
        ...

    async def enqueue_many(
        self, entries: Sequence[tuple[QueuedMessage, SealedBody, Sequence[NewRecipient]]]
    ) -> list[Exception | None]:
        """:meth:`enqueue` for several messages in a few statements (the intake's group
        commit, ADR 0016). Per entry, None when it was stored, or the error
        :meth:`enqueue` would have raised for it (ConflictError, ValueError; an id given
        twice here conflicts the second time) — that entry changed nothing and the
        others are stored all the same."""
        ...

    async def claim_due(
        self, now: datetime, *, owner: str, lease_seconds: float, limit: int = 100
    ) -> Sequence[ClaimedMessage]:
        """Lease up to ``limit`` pending recipients due at ``now`` and not leased to a
        live runner to ``owner`` (unique per runner) until ``now + lease_seconds``; count
        an attempt for each. Two runners never receive the same recipient. Expired
        messages are handed out too: the runner expires them."""
        ...

    async def mark_delivered(
        self, message_id: str, address: str, *, owner: str, at: datetime
    ) -> None: ...
    async def mark_delivered_many(
        self, keys: Sequence[tuple[str, str]], *, owner: str, at: datetime
    ) -> list[Exception | None]:
        """:meth:`mark_delivered` for several (message id, address) pairs in one
        statement (the queue runner's group commit, ADR 0016). Per pair, None when it was
        marked, or the NotFoundError / ConflictError :meth:`mark_delivered` would have
        raised — that pair changed nothing. ValueError, changing nothing, for a pair
        given twice."""
        ...

    async def mark_deferred(
        self, message_id: str, address: str, *, owner: str, error: str, next_attempt_at: datetime
    ) -> None:
        """Keep it pending, due again at ``next_attempt_at``; release the lease."""
        ...

    async def mark_failed(
        self, message_id: str, address: str, *, owner: str, error: str, at: datetime
    ) -> None: ...
    async def mark_expired(
        self, message_id: str, address: str, *, owner: str, at: datetime
    ) -> None:
        """Each ``mark_*``: NotFoundError for an unknown recipient; ConflictError if it is
        final already or leased to another runner (or to none)."""
        ...

    async def release_leases(self, *, owner_prefix: str) -> int:
        """Free the leases of pending recipients whose owner starts with ``owner_prefix``
        (a restarted node taking back what its dead predecessor held); how many."""
        ...

    async def get(self, message_id: str) -> QueueEntry | None: ...
    async def body(self, message_id: str) -> SealedBody | None: ...
    async def list(
        self, *, status: RecipientStatus | None = None, limit: int = 100
    ) -> Sequence[QueueEntry]:
        """Oldest first; with ``status``, messages having a recipient in that status."""
        ...

    async def retry(self, message_id: str, *, now: datetime) -> int:
        """Make every pending recipient due at ``now`` (a leased one once its lease ends);
        the number of them. NotFoundError for an unknown message."""
        ...

    async def delete(self, message_id: str) -> None:
        """Remove the message and its recipients; NotFoundError if absent."""
        ...

    async def next_due(self) -> datetime | None:
        """When the earliest pending recipient becomes claimable; None if none is pending."""
        ...

    async def finished(self, *, limit: int = 100) -> Sequence[QueueEntry]:
        """Messages whose recipients are all final, oldest first."""
        ...

    async def purge_finished(self, before: datetime) -> int:
        """Delete finished messages whose last recipient finished before ``before``."""
        ...
