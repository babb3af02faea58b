"""The one relational schema of the store, for SQLite and PostgreSQL alike.

``migrations/versions`` must build exactly these tables; ``tests/contract`` compares the
two with alembic's autogenerate on both dialects.

Choices that are not obvious from the columns:

* ``users.id`` and ``audit.id`` are never reused (``AUTOINCREMENT`` on SQLite, a sequence
  on PostgreSQL): certificates keep the id of a removed user, and a new user must not
  inherit them.
* ``certificates.user_id`` has no foreign key. Certificates are the CA's issuance record
  and outlive their users; the id stays for the audit. ``issuer_serial`` has none either:
  postseal's issuing CA may be signed by an organisation's existing root, which is not
  stored here.
* Strings are ``TEXT`` without a length: both dialects store them the same way and no
  value is silently cut.
* CRL numbers of other CAs may be up to 20 octets (RFC 5280 §5.2.3), more than any
  integer column holds, so ``imported_crls.number`` keeps the decimal digits as text.
* Queued messages, mailboxes, stored messages and quarantine entries carry text ids the
  caller makes (``custody.sealing.new_id``): their sealed data is bound to the id before
  the row exists. UIDs and UIDVALIDITY are ``BIGINT``: IMAP allows 2^32 - 1, more than
  PostgreSQL's ``INTEGER``. Sealed columns come last, so SQLite reads a row's other
  columns without touching the overflow pages of its body.
* ``quarantine.queue_message_id`` has no foreign key: the queue entry
  may be purged while the quarantined copy stays. Mailboxes go with their user.
* ``policy_rules`` holds a rule's value as JSON text in the shape of postseal.toml's
  ``[policy]`` table; the policy loader, not a column type, judges it (ADR 0019). Its
  ``name`` is ``''`` for the organisation, never NULL, so the key stays a primary key.
* The mailbox tables live in :mod:`postseal.store.sql.mailbox_tables` (re-exported
  here); the ``MetaData`` and its naming convention in :mod:`postseal.store.sql.metadata`.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
)

from postseal.store.sql.mailbox_tables import (
    counters,
    mailbox_acl,
    mailbox_messages,
    mailbox_subscriptions,
    mailbox_summaries,
    mailbox_vanished,
    mailboxes,
    quotas,
)
from postseal.store.sql.metadata import metadata
from postseal.store.sql.types import UtcDateTime

__all__ = [
    "audit",
    "auth_failures",
    "certificates",
    "contacts",
    "counters",
    "crls",
    "directory_attributes",
    "groups",
    "imported_crls",
    "mailbox_acl",
    "mailbox_messages",
    "mailbox_subscriptions",
    "mailbox_summaries",
    "mailbox_vanished",
    "mailboxes",
    "meta",
    "metadata",
    "policy_rules",
    "quarantine",
    "queue_messages",
    "queue_recipients",
    "quotas",
    "templates",
    "trust",
    "user_groups",
    "users",
]

meta = Table(
    "meta",
    metadata,
    Column("key", Text, primary_key=True),
    Column("value", Text, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("address", Text, nullable=False),
    Column("display_name", Text, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("password_hash", Text, nullable=True),
    Column("template", Text, nullable=False),
    Column("extension", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("address"),
    UniqueConstraint("extension"),
    sqlite_autoincrement=True,
)

groups = Table(
    "groups",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False),
    UniqueConstraint("name"),
)

user_groups = Table(
    "user_groups",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("group_id", Integer, ForeignKey("groups.id", ondelete="CASCADE"), nullable=False),
    PrimaryKeyConstraint("user_id", "group_id"),
    Index(None, "group_id"),
)

templates = Table(
    "templates",
    metadata,
    Column("name", Text, primary_key=True),
    Column("description", Text, nullable=False),
    Column("ekus", Text, nullable=False),  # dotted OIDs joined by ","; OIDs hold no comma
    Column("key_type", Text, nullable=False),
    Column("validity_days", Integer, nullable=False),
    Column("renewal_days", Integer, nullable=False),
    Column("superseded_by", Text, nullable=True),
)

certificates = Table(
    "certificates",
    metadata,
    Column("serial", Text, primary_key=True),
    Column("role", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("email", Text, nullable=True),
    Column("user_id", Integer, nullable=True),
    Column("template", Text, nullable=True),
    Column("issuer_serial", Text, nullable=True),
    Column("not_before", UtcDateTime, nullable=False),
    Column("not_after", UtcDateTime, nullable=False),
    Column("fingerprint", Text, nullable=False),
    Column("der", LargeBinary, nullable=False),
    Column("wrapped_key", LargeBinary, nullable=True),
    Column("revoked_at", UtcDateTime, nullable=True),
    Column("revocation_reason", Text, nullable=True),
    Column("superseded_by", Text, nullable=True),
    UniqueConstraint("fingerprint"),
    Index(None, "user_id"),
    Index(None, "role"),
    Index(None, "issuer_serial"),
)

directory_attributes = Table(
    "directory_attributes",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("attribute", Text, nullable=False),
    Column("der", LargeBinary, nullable=False),
    PrimaryKeyConstraint("user_id", "attribute"),
    CheckConstraint("attribute IN ('userCertificate', 'userSMIMECertificate')", name="attribute"),
)

crls = Table(
    "crls",
    metadata,
    Column("issuer_serial", Text, nullable=False),
    Column("number", BigInteger, nullable=False),
    Column("this_update", UtcDateTime, nullable=False),
    Column("next_update", UtcDateTime, nullable=False),
    Column("der", LargeBinary, nullable=False),
    PrimaryKeyConstraint("issuer_serial", "number"),
)

trust = Table(
    "trust",
    metadata,
    Column("fingerprint", Text, primary_key=True),
    Column("kind", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("der", LargeBinary, nullable=False),
    Column("added_at", UtcDateTime, nullable=False),
)

imported_crls = Table(
    "imported_crls",
    metadata,
    Column("issuer", Text, primary_key=True),
    Column("number", Text, nullable=True),
    Column("this_update", UtcDateTime, nullable=False),
    Column("next_update", UtcDateTime, nullable=True),
    Column("der", LargeBinary, nullable=False),
)

audit = Table(
    "audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("target", Text, nullable=False),
    Column("detail", Text, nullable=False),
    sqlite_autoincrement=True,
)

queue_messages = Table(
    "queue_messages",
    metadata,
    Column("id", Text, primary_key=True),
    Column("mail_from", Text, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("listener", Text, nullable=False),
    Column("client_address", Text, nullable=False),
    Column("auth_user", Text, nullable=True),
    Column("dsn_ret", Text, nullable=True),
    Column("dsn_envid", Text, nullable=True),
    Column("wrapped_key", LargeBinary, nullable=False),
    Column("ciphertext", LargeBinary, nullable=False),
)

queue_recipients = Table(
    "queue_recipients",
    metadata,
    Column(
        "message_id",
        Text,
        ForeignKey("queue_messages.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("address", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("finished_at", UtcDateTime, nullable=True),
    Column("notify", Text, nullable=True),
    Column("orcpt", Text, nullable=True),
    Column("lease_owner", Text, nullable=True),
    Column("lease_until", UtcDateTime, nullable=True),
    PrimaryKeyConstraint("message_id", "address"),
    CheckConstraint("kind IN ('local', 'remote')", name="kind"),
    CheckConstraint("status IN ('pending', 'delivered', 'failed', 'expired')", name="status"),
    Index(None, "status", "next_attempt_at"),
)

quarantine = Table(
    "quarantine",
    metadata,
    Column("id", Text, primary_key=True),
    Column("queue_message_id", Text, nullable=True),
    Column("mail_from", Text, nullable=False),
    Column("recipients", Text, nullable=False),  # joined by "\n"; addresses hold no line break
    Column("reason", Text, nullable=False),
    Column("signature", Text, nullable=True),
    Column("size", BigInteger, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("released_at", UtcDateTime, nullable=True),
    Column("wrapped_key", LargeBinary, nullable=False),
    Column("ciphertext", LargeBinary, nullable=False),
)

contacts = Table(
    "contacts",
    metadata,
    Column("address", Text, primary_key=True),
    Column("fingerprint", Text, primary_key=True),
    Column("der", LargeBinary, nullable=False),
    Column("capabilities", Text, nullable=True),  # comma list; NULL = unknown
    Column("source", Text, nullable=False),
    Column("not_after", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    CheckConstraint("source IN ('harvested', 'imported')", name="source"),
)

policy_rules = Table(
    "policy_rules",
    metadata,
    Column("scope", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("key", Text, nullable=False),
    Column("value", Text, nullable=False),  # JSON
    Column("changed_by", Text, nullable=False),
    Column("changed_at", UtcDateTime, nullable=False),
    PrimaryKeyConstraint("scope", "name", "key"),
    CheckConstraint("scope IN ('organisation', 'domain', 'group', 'user')", name="scope"),
    CheckConstraint("(scope = 'organisation') = (name = '')", name="name"),
)

# One failed login per row and key (ADR 0027): every process and protocol of a node, and
# every node of a shared database, counts the same failures. ``key_hash`` is the SHA-256
# of the client address or the lower-cased account name: fixed width, whatever a client
# sends as a user name.
auth_failures = Table(
    "auth_failures",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", Text, nullable=False),
    Column("key_hash", Text, nullable=False),
    Column("at", Float, nullable=False),  # seconds since the epoch
    CheckConstraint("kind IN ('address', 'account')", name="kind"),
    Index(None, "kind", "key_hash", "at"),
    Index(None, "at"),
)
