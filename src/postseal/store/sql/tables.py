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
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
)

from postseal.store.sql.types import UtcDateTime

__all__ = [
    "audit",
    "certificates",
    "crls",
    "directory_attributes",
    "groups",
    "imported_crls",
    "meta",
    "metadata",
    "templates",
    "trust",
    "user_groups",
    "users",
]

# Named constraints let later migrations alter them, and SQLite's batch mode recreate them.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

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
