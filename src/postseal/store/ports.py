"""The store's ports: what services may ask of persistence, and the records it returns.

Every adapter passes the same contract suite (``tests/contract``). All methods are
coroutines that run inside one transaction opened by :meth:`Store.begin`; leaving the
``async with`` block commits, an exception rolls everything back, so a failed command
changes nothing. Records are frozen values; datetimes are timezone-aware UTC.

Nothing here knows about SMTP, IMAP or HTTP; private keys arrive already wrapped by the
master key (``wrapped_key``) and leave the same way, and message bodies arrive sealed
(:class:`SealedBody`, made by ``postseal.custody.sealing``): the store never sees a
message in clear. Ids of queued messages, mailboxes and quarantine entries are made by the
caller, because sealed data is bound to them before it reaches the store.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

__all__ = [
    "AuditRecord",
    "AuditRepository",
    "CertificateRecord",
    "CertificateRepository",
    "CertificateRole",
    "ClaimedMessage",
    "ContactRecord",
    "ContactRepository",
    "CrlRecord",
    "CrlRepository",
    "DirectoryAttribute",
    "DirectoryEntry",
    "DirectoryRepository",
    "ImportedCrlRecord",
    "ImportedCrlRepository",
    "Mailbox",
    "MailboxRepository",
    "MetaRepository",
    "NewMailbox",
    "NewRecipient",
    "NewStoredMessage",
    "NewUser",
    "QuarantineEntry",
    "QuarantineRepository",
    "QueueEntry",
    "QueueRepository",
    "QueuedMessage",
    "QueuedRecipient",
    "RecipientKind",
    "RecipientStatus",
    "SealedBody",
    "Store",
    "StoredMessage",
    "TemplateRecord",
    "TemplateRepository",
    "Transaction",
    "TrustKind",
    "TrustRecord",
    "TrustRepository",
    "UserRecord",
    "UserRepository",
]


class CertificateRole(enum.StrEnum):
    """What a certificate issued by postseal's own CA is for."""

    ROOT = "root"
    ISSUING = "issuing"  # S/MIME issuing CA: signs user certificates and their CRL
    SERVICE_ISSUING = "service-issuing"  # issues TLS server certificates only
    TLS = "tls"  # the server's TLS certificate
    USER = "user"  # a user's S/MIME certificate


class TrustKind(enum.StrEnum):
    """The seed's certificate stores: trusted roots, intermediates, cross-certificates."""

    ROOT = "root"
    INTERMEDIATE = "intermediate"
    CROSS = "cross"


class DirectoryAttribute(enum.StrEnum):
    """The two certificate attributes of a directory user, named as in Active Directory."""

    USER_CERTIFICATE = "userCertificate"
    USER_SMIME_CERTIFICATE = "userSMIMECertificate"


@dataclass(frozen=True, slots=True)
class NewUser:
    address: str
    display_name: str
    template: str
    password_hash: str | None = None
    extension: str | None = None
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: int
    address: str
    display_name: str
    enabled: bool
    password_hash: str | None
    template: str
    extension: str | None
    groups: tuple[str, ...]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class TemplateRecord:
    """A certificate template (RFC 5280 profile choices an administrator names)."""

    name: str
    description: str
    ekus: tuple[str, ...]  # dotted OIDs, in order
    key_type: str  # "rsa-2048" | "rsa-3072" | "ecdsa-p256" | "ecdsa-p384"
    validity_days: int
    renewal_days: int  # renew when fewer days than this remain
    superseded_by: str | None = None


@dataclass(frozen=True, slots=True)
class CertificateRecord:
    serial: str  # upper-case hex, no separators
    role: CertificateRole
    subject: str  # RFC 4514
    email: str | None
    user_id: int | None
    template: str | None
    issuer_serial: str | None  # None for the self-signed root
    not_before: datetime
    not_after: datetime
    fingerprint: str  # SHA-256 of the DER, lower-case hex
    der: bytes
    wrapped_key: bytes | None  # private key wrapped under the master key
    revoked_at: datetime | None = None
    revocation_reason: str | None = None  # RFC 5280 §5.3.1 name, e.g. "keyCompromise"
    superseded_by: str | None = None  # serial of the renewal that replaced it


@dataclass(frozen=True, slots=True)
class DirectoryEntry:
    """A user's two certificate attributes (DER), each possibly empty."""

    user_certificate: bytes | None
    user_smime_certificate: bytes | None


@dataclass(frozen=True, slots=True)
class CrlRecord:
    """A CRL postseal issued (RFC 5280 §5)."""

    issuer_serial: str
    number: int
    this_update: datetime
    next_update: datetime
    der: bytes


@dataclass(frozen=True, slots=True)
class TrustRecord:
    fingerprint: str  # SHA-256 of the DER, lower-case hex
    kind: TrustKind
    subject: str
    der: bytes
    added_at: datetime


@dataclass(frozen=True, slots=True)
class ImportedCrlRecord:
    """A CRL of another CA, imported by hand or fetched; keyed by its issuer's name."""

    issuer: str  # RFC 4514 issuer name of the CRL
    number: int | None
    this_update: datetime
    next_update: datetime | None
    der: bytes


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    detail: str


class MetaRepository(Protocol):
    """Organisation-wide facts written at ``init`` (org name, domain, key check, …)."""

    async def get(self, key: str) -> str | None: ...
    async def set(self, key: str, value: str) -> None: ...
    async def all(self) -> Mapping[str, str]: ...


class UserRepository(Protocol):
    async def add(self, user: NewUser) -> UserRecord:
        """Insert a user; :class:`~postseal.errors.ConflictError` if the address or the
        extension is taken."""
        ...

    async def get(self, address: str) -> UserRecord | None: ...
    async def get_by_id(self, user_id: int) -> UserRecord | None: ...
    async def get_by_extension(self, extension: str) -> UserRecord | None: ...
    async def list(self, *, enabled_only: bool = False) -> Sequence[UserRecord]: ...

    async def update(
        self,
        user_id: int,
        *,
        display_name: str | None = None,
        enabled: bool | None = None,
        password_hash: str | None = None,
        template: str | None = None,
        extension: str | None = None,
    ) -> UserRecord:
        """Change the given fields (``None`` leaves a field alone); NotFoundError if absent."""
        ...

    async def set_groups(self, user_id: int, groups: Sequence[str]) -> None: ...
    async def remove(self, user_id: int) -> None:
        """Delete the user, their groups and directory attributes. Certificates stay
        (they are the CA's issuance record) with ``user_id`` kept for the audit."""
        ...


class TemplateRepository(Protocol):
    async def put(self, template: TemplateRecord) -> None:
        """Insert or replace by name."""
        ...

    async def get(self, name: str) -> TemplateRecord | None: ...
    async def list(self) -> Sequence[TemplateRecord]: ...


class CertificateRepository(Protocol):
    async def add(self, cert: CertificateRecord) -> None:
        """ConflictError if the serial or fingerprint exists."""
        ...

    async def get(self, serial: str) -> CertificateRecord | None: ...
    async def get_by_fingerprint(self, fingerprint: str) -> CertificateRecord | None: ...
    async def list(
        self, *, user_id: int | None = None, role: CertificateRole | None = None
    ) -> Sequence[CertificateRecord]:
        """Newest ``not_before`` first."""
        ...

    async def current_ca(self, role: CertificateRole) -> CertificateRecord | None:
        """The newest unrevoked certificate of a CA role (root, issuing, service-issuing, tls)."""
        ...

    async def revoke(self, serial: str, *, at: datetime, reason: str) -> None:
        """Mark revoked; NotFoundError if absent, ConflictError if already revoked."""
        ...

    async def set_superseded(self, serial: str, by_serial: str) -> None: ...
    async def revoked_by(self, issuer_serial: str) -> Sequence[CertificateRecord]:
        """Revoked certificates issued by ``issuer_serial`` (a CRL's entries)."""
        ...


class DirectoryRepository(Protocol):
    async def get(self, user_id: int) -> DirectoryEntry: ...
    async def set(self, user_id: int, attribute: DirectoryAttribute, der: bytes | None) -> None:
        """Set one attribute (``None`` clears it). Services publish through
        :meth:`publish`; this exists to repair and to model legacy clients."""
        ...

    async def publish(self, user_id: int, der: bytes | None) -> None:
        """Set both attributes to the same certificate in one statement."""
        ...


class CrlRepository(Protocol):
    async def add(self, crl: CrlRecord) -> None: ...
    async def latest(self, issuer_serial: str) -> CrlRecord | None: ...


class TrustRepository(Protocol):
    async def add(self, entry: TrustRecord) -> None:
        """ConflictError if the fingerprint is present."""
        ...

    async def get(self, fingerprint: str) -> TrustRecord | None: ...
    async def list(self, *, kind: TrustKind | None = None) -> Sequence[TrustRecord]: ...
    async def remove(self, fingerprint: str) -> None:
        """NotFoundError if absent."""
        ...


class ImportedCrlRepository(Protocol):
    async def put(self, crl: ImportedCrlRecord) -> None:
        """Keep one CRL per issuer: replace the stored one."""
        ...

    async def get(self, issuer: str) -> ImportedCrlRecord | None: ...
    async def list(self) -> Sequence[ImportedCrlRecord]: ...


class AuditRepository(Protocol):
    async def append(self, *, actor: str, action: str, target: str, detail: str = "") -> None: ...
    async def list(self, *, limit: int = 100) -> Sequence[AuditRecord]:
        """Newest first."""
        ...


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
class SealedBody:
    """A message sealed by :mod:`postseal.custody.sealing`: the message key wrapped by its
    container's key, and the AES-GCM body. Opaque to the store."""

    wrapped_key: bytes
    ciphertext: bytes

    def __repr__(self) -> str:
        return f"SealedBody({len(self.wrapped_key)} + {len(self.ciphertext)} bytes)"


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


@dataclass(frozen=True, slots=True)
class NewMailbox:
    """A mailbox to create. ``id`` (``custody.sealing.new_id``; RFC 8474 MAILBOXID) is
    made by the caller, because ``wrapped_key`` — the mailbox's container key wrapped by
    the master key — is bound to it."""

    id: str
    user_id: int
    name: str  # "INBOX", "Sent", "Projects/2026" …
    wrapped_key: bytes
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Mailbox:
    id: str
    user_id: int
    name: str
    uidvalidity: int  # RFC 3501 §2.3.1.1
    uidnext: int  # the UID the next appended message gets
    wrapped_key: bytes
    created_at: datetime


@dataclass(frozen=True, slots=True)
class NewStoredMessage:
    """A message to append. ``email_id`` (RFC 8474 EMAILID) is the label its body was
    sealed with; a queued message delivered locally keeps its queue id."""

    email_id: str
    internal_date: datetime
    size: int  # bytes of the plaintext message (RFC822.SIZE)
    body: SealedBody
    flags: tuple[str, ...] = ()  # system flags and keywords, e.g. ("\\Seen", "$Label1")
    message_id_hash: str | None = None  # a keyed hash of Message-ID, for duplicates


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


class MailboxRepository(Protocol):
    """Users' mailboxes and their messages; protocol-neutral (no selected state)."""

    async def create(self, mailbox: NewMailbox) -> Mailbox:
        """NotFoundError for an unknown user; ConflictError if the user has a mailbox of
        that name. UIDVALIDITY is the creation second, above any of the user's before."""
        ...

    async def ensure(self, mailbox: NewMailbox) -> Mailbox:
        """The user's mailbox of that name, created from ``mailbox`` if missing; safe
        when two transactions ensure the same one."""
        ...

    async def get(self, mailbox_id: str) -> Mailbox | None: ...
    async def find(self, user_id: int, name: str) -> Mailbox | None: ...
    async def list(self, user_id: int) -> Sequence[Mailbox]:
        """By name."""
        ...

    async def append(self, mailbox_id: str, message: NewStoredMessage) -> StoredMessage:
        """Store under UID ``uidnext`` and advance it. Concurrent appends get distinct,
        increasing UIDs in commit order. NotFoundError for an unknown mailbox; ValueError
        for a flag that is empty or holds white space."""
        ...

    async def list_messages(self, mailbox_id: str) -> Sequence[StoredMessage]:
        """By UID."""
        ...

    async def get_message(self, mailbox_id: str, uid: int) -> StoredMessage | None: ...
    async def body(self, mailbox_id: str, uid: int) -> SealedBody | None: ...


@dataclass(frozen=True, slots=True)
class QuarantineEntry:
    """A message held back (infected, or unscannable by policy), with its own sealed copy
    labelled ``id`` under the quarantine key."""

    id: str
    mail_from: str
    recipients: tuple[str, ...]
    reason: str  # a sentence: "infected: Eicar-Signature", "encrypted, cannot scan"
    signature: str | None  # the scanner's malware name
    size: int
    created_at: datetime
    queue_message_id: str | None = None  # set when quarantined after queueing
    released_at: datetime | None = None


class QuarantineRepository(Protocol):
    async def add(self, entry: QuarantineEntry, body: SealedBody) -> None:
        """ConflictError if the id exists; ValueError without recipients."""
        ...

    async def get(self, entry_id: str) -> QuarantineEntry | None: ...
    async def body(self, entry_id: str) -> SealedBody | None: ...
    async def list(
        self, *, released: bool | None = None, limit: int = 100
    ) -> Sequence[QuarantineEntry]:
        """Oldest first; ``released`` False/True keeps held / released ones only."""
        ...

    async def release(self, entry_id: str, *, at: datetime) -> QuarantineEntry:
        """Mark released (the caller enqueues it in the same transaction); NotFoundError
        if absent, ConflictError if released already."""
        ...

    async def delete(self, entry_id: str) -> None:
        """Remove the entry and its sealed copy; NotFoundError if absent."""
        ...


@dataclass(frozen=True, slots=True)
class ContactRecord:
    """An outside correspondent's certificate, harvested from a verified signature or
    imported; ``capabilities`` are algorithm names, None when unknown."""

    address: str
    fingerprint: str  # SHA-256 of the DER, lower-case hex
    der: bytes
    capabilities: tuple[str, ...] | None
    source: str  # "harvested" | "imported"
    not_after: datetime
    updated_at: datetime


class ContactRepository(Protocol):
    async def put(self, contact: ContactRecord) -> None:
        """Insert, or replace the entry with the same address and fingerprint."""
        ...

    async def list(self, *, address: str | None = None) -> Sequence[ContactRecord]:
        """By address, then the latest ``not_after`` first."""
        ...

    async def remove(self, address: str) -> int:
        """Forget every certificate of ``address``; how many there were."""
        ...


class Transaction(Protocol):
    """The repositories, all bound to one database transaction."""

    @property
    def meta(self) -> MetaRepository: ...
    @property
    def users(self) -> UserRepository: ...
    @property
    def templates(self) -> TemplateRepository: ...
    @property
    def certificates(self) -> CertificateRepository: ...
    @property
    def directory(self) -> DirectoryRepository: ...
    @property
    def crls(self) -> CrlRepository: ...
    @property
    def trust(self) -> TrustRepository: ...
    @property
    def imported_crls(self) -> ImportedCrlRepository: ...
    @property
    def audit(self) -> AuditRepository: ...
    @property
    def queue(self) -> QueueRepository: ...
    @property
    def mailboxes(self) -> MailboxRepository: ...
    @property
    def quarantine(self) -> QuarantineRepository: ...
    @property
    def contacts(self) -> ContactRepository: ...


class Store(Protocol):
    def begin(self) -> AbstractAsyncContextManager[Transaction]:
        """Open a transaction: commit on normal exit, roll back on exception."""
        ...

    async def close(self) -> None: ...
