"""The tables of mailboxes, their messages, access rights, subscriptions and quotas.

Part of the one schema of :mod:`postseal.store.sql.tables` (which re-exports them), kept
apart only for size. See ADR 0008 and ADR 0011:

* ``mailboxes.user_id`` NULL is a shared mailbox; names are unique per owner, and among
  shared mailboxes by a partial index (NULLs are distinct in a unique constraint).
* ``highestmodseq`` is the mailbox's MODSEQ counter (RFC 7162): every change of its
  messages locks the row and advances it. The rights of "anyone" sit on the mailbox row,
  each user's in ``mailbox_acl``.
* ``mailbox_vanished`` keeps a tombstone (UID, MODSEQ) per expunged message for as long
  as the mailbox lives. ``mailbox_summaries`` keeps the sealed summaries apart from the
  bodies, so reading 10,000 of them never touches a body's pages.
* ``counters`` holds the UIDVALIDITY high-water mark, which must outlive deleted
  mailboxes. ``quotas`` has a row only for users with limits.
* ``zero_access`` has a row only for users whose incoming mail is stored encrypted to
  their own certificate (ADR 0020).
* Sealed columns come last, as everywhere in the store.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from postseal.store.sql.metadata import metadata
from postseal.store.sql.types import UtcDateTime

__all__ = [
    "counters",
    "mailbox_acl",
    "mailbox_messages",
    "mailbox_subscriptions",
    "mailbox_summaries",
    "mailbox_vanished",
    "mailboxes",
    "quotas",
    "zero_access",
]

mailboxes = Table(
    "mailboxes",
    metadata,
    Column("id", Text, primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=True),
    Column("name", Text, nullable=False),
    Column("special_use", Text, nullable=True),
    Column("uidvalidity", BigInteger, nullable=False),
    Column("uidnext", BigInteger, nullable=False),
    Column("highestmodseq", BigInteger, nullable=False),
    Column("anyone_rights", Text, nullable=True),  # RFC 4314 letters granted to "anyone"
    Column("created_at", UtcDateTime, nullable=False),
    Column("wrapped_key", LargeBinary, nullable=False),
    UniqueConstraint("user_id", "name"),
    CheckConstraint(
        "special_use IN ('archive', 'drafts', 'junk', 'sent', 'trash')", name="special_use"
    ),
    # NULLs are distinct in a unique constraint: shared names need their own index.
    Index(
        "ux_mailboxes_shared_name",
        "name",
        unique=True,
        sqlite_where=text("user_id IS NULL"),
        postgresql_where=text("user_id IS NULL"),
    ),
)

mailbox_messages = Table(
    "mailbox_messages",
    metadata,
    Column("mailbox_id", Text, ForeignKey("mailboxes.id", ondelete="CASCADE"), nullable=False),
    Column("uid", BigInteger, nullable=False),
    Column("email_id", Text, nullable=False),
    Column("internal_date", UtcDateTime, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("flags", Text, nullable=False),  # sorted, joined by " "; flags hold no space
    Column("message_id_hash", Text, nullable=True),
    Column("modseq", BigInteger, nullable=False),
    Column("wrapped_key", LargeBinary, nullable=False),
    Column("ciphertext", LargeBinary, nullable=False),
    PrimaryKeyConstraint("mailbox_id", "uid"),
    Index(None, "mailbox_id", "modseq"),
    # Covers the listing (SELECT, FETCH FLAGS/INTERNALDATE/SIZE, SEARCH by flags): read
    # from the index alone, without the table pages the sealed bodies share (ADR 0017).
    Index(
        "ix_mailbox_messages_listing",
        "mailbox_id",
        "uid",
        "email_id",
        "internal_date",
        "size",
        "flags",
        "message_id_hash",
        "modseq",
    ),
)

mailbox_summaries = Table(
    "mailbox_summaries",
    metadata,
    Column("mailbox_id", Text, nullable=False),
    Column("uid", BigInteger, nullable=False),
    Column("wrapped_key", LargeBinary, nullable=False),
    Column("ciphertext", LargeBinary, nullable=False),
    PrimaryKeyConstraint("mailbox_id", "uid"),
    ForeignKeyConstraint(
        ["mailbox_id", "uid"],
        ["mailbox_messages.mailbox_id", "mailbox_messages.uid"],
        ondelete="CASCADE",
    ),
)

mailbox_vanished = Table(
    "mailbox_vanished",
    metadata,
    Column("mailbox_id", Text, ForeignKey("mailboxes.id", ondelete="CASCADE"), nullable=False),
    Column("uid", BigInteger, nullable=False),
    Column("modseq", BigInteger, nullable=False),
    PrimaryKeyConstraint("mailbox_id", "uid"),
    Index(None, "mailbox_id", "modseq"),
)

mailbox_acl = Table(
    "mailbox_acl",
    metadata,
    Column("mailbox_id", Text, ForeignKey("mailboxes.id", ondelete="CASCADE"), nullable=False),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("rights", Text, nullable=False),
    PrimaryKeyConstraint("mailbox_id", "user_id"),
    Index(None, "user_id"),
)

mailbox_subscriptions = Table(
    "mailbox_subscriptions",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("name", Text, nullable=False),
    PrimaryKeyConstraint("user_id", "name"),
)

quotas = Table(
    "quotas",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("storage", BigInteger, nullable=True),  # bytes; NULL = unlimited
    Column("messages", BigInteger, nullable=True),
)

# A row per user whose incoming mail is stored encrypted to their own certificate only
# (ADR 0020). The certificate is public; its key is never held by postseal.
zero_access = Table(
    "zero_access",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("fingerprint", Text, nullable=False),
    Column("enabled_at", UtcDateTime, nullable=False),
    Column("enabled_by", Text, nullable=False),
    Column("certificate", LargeBinary, nullable=False),
)

counters = Table(
    "counters",
    metadata,
    Column("name", Text, primary_key=True),
    Column("value", BigInteger, nullable=False),
)
