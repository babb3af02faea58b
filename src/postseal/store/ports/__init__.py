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

The ports live in one module per area (``directory``, ``queue``, ``mailboxes`` …); import
them from this package, which re-exports every name.
"""

from __future__ import annotations

from postseal.store.ports.auth_failures import AuthFailureRepository, FailureKind
from postseal.store.ports.contacts import (
    ContactRecord,
    ContactRepository,
)
from postseal.store.ports.directory import (
    AuditRecord,
    AuditRepository,
    CertificateRecord,
    CertificateRepository,
    CertificateRole,
    CrlRecord,
    CrlRepository,
    DirectoryAttribute,
    DirectoryEntry,
    DirectoryRepository,
    ImportedCrlRecord,
    ImportedCrlRepository,
    MetaRepository,
    NewUser,
    TemplateRecord,
    TemplateRepository,
    TrustKind,
    TrustRecord,
    TrustRepository,
    UserRecord,
    UserRepository,
)
from postseal.store.ports.mailbox_records import (
    ALL_RIGHTS,
    ANYONE,
    INBOX,
    MAX_UID,
    FlagChange,
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
from postseal.store.ports.mailboxes import (
    MailboxRepository,
)
from postseal.store.ports.policy_rules import (
    PolicyRuleRecord,
    PolicyRuleRepository,
    PolicyScope,
)
from postseal.store.ports.quarantine import (
    QuarantineEntry,
    QuarantineRepository,
)
from postseal.store.ports.queue import (
    ClaimedMessage,
    NewRecipient,
    QueuedMessage,
    QueuedRecipient,
    QueueEntry,
    QueueRepository,
    RecipientKind,
    RecipientStatus,
)
from postseal.store.ports.sealed import (
    SealedBody,
)
from postseal.store.ports.transaction import (
    Store,
    Transaction,
)
from postseal.store.ports.zero_access import (
    ZeroAccessRecord,
    ZeroAccessRepository,
)

__all__ = [
    "ALL_RIGHTS",
    "ANYONE",
    "INBOX",
    "MAX_UID",
    "AuditRecord",
    "AuditRepository",
    "AuthFailureRepository",
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
    "FailureKind",
    "FlagChange",
    "FlagUpdate",
    "Grantee",
    "ImportedCrlRecord",
    "ImportedCrlRepository",
    "Mailbox",
    "MailboxChanges",
    "MailboxRepository",
    "MailboxStatus",
    "MessageKeys",
    "MetaRepository",
    "NewMailbox",
    "NewRecipient",
    "NewStoredMessage",
    "NewUser",
    "PolicyRuleRecord",
    "PolicyRuleRepository",
    "PolicyScope",
    "QuarantineEntry",
    "QuarantineRepository",
    "QueueEntry",
    "QueueRepository",
    "QueuedMessage",
    "QueuedRecipient",
    "Quota",
    "RecipientKind",
    "RecipientStatus",
    "SealedBody",
    "SpecialUse",
    "Store",
    "StoredMessage",
    "TemplateRecord",
    "TemplateRepository",
    "Transaction",
    "TrustKind",
    "TrustRecord",
    "TrustRepository",
    "UidSet",
    "Usage",
    "UserRecord",
    "UserRepository",
    "ZeroAccessRecord",
    "ZeroAccessRepository",
]
