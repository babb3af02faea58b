"""The initial store: directory, PKI, trust store and audit.

Revision ID: 0001
Revises:
Create Date: 2025-11-23

Written by hand to match ``postseal.store.sql.tables``. Datetime columns are plain
``TIMESTAMP WITHOUT TIME ZONE``: the UTC handling lives in the ``UtcDateTime`` type on the
Python side, and a migration must not import application types that may change later.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC = sa.DateTime(timezone=False)


def upgrade() -> None:
    op.create_table(
        "meta",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_meta"),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("display_name", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=True),
        sa.Column("template", sa.Text(), nullable=False),
        sa.Column("extension", sa.Text(), nullable=True),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("address", name="uq_users_address"),
        sa.UniqueConstraint("extension", name="uq_users_extension"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "groups",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_groups"),
        sa.UniqueConstraint("name", name="uq_groups_name"),
    )
    op.create_table(
        "user_groups",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_user_groups_user_id_users", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.id"], name="fk_user_groups_group_id_groups", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "group_id", name="pk_user_groups"),
    )
    op.create_index("ix_user_groups_group_id", "user_groups", ["group_id"])
    op.create_table(
        "templates",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("ekus", sa.Text(), nullable=False),
        sa.Column("key_type", sa.Text(), nullable=False),
        sa.Column("validity_days", sa.Integer(), nullable=False),
        sa.Column("renewal_days", sa.Integer(), nullable=False),
        sa.Column("superseded_by", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_templates"),
    )
    op.create_table(
        "certificates",
        sa.Column("serial", sa.Text(), nullable=False),
        sa.Column("role", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("email", sa.Text(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("template", sa.Text(), nullable=True),
        sa.Column("issuer_serial", sa.Text(), nullable=True),
        sa.Column("not_before", _UTC, nullable=False),
        sa.Column("not_after", _UTC, nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("der", sa.LargeBinary(), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=True),
        sa.Column("revoked_at", _UTC, nullable=True),
        sa.Column("revocation_reason", sa.Text(), nullable=True),
        sa.Column("superseded_by", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("serial", name="pk_certificates"),
        sa.UniqueConstraint("fingerprint", name="uq_certificates_fingerprint"),
    )
    op.create_index("ix_certificates_user_id", "certificates", ["user_id"])
    op.create_index("ix_certificates_role", "certificates", ["role"])
    op.create_index("ix_certificates_issuer_serial", "certificates", ["issuer_serial"])
    op.create_table(
        "directory_attributes",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("attribute", sa.Text(), nullable=False),
        sa.Column("der", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint(
            "attribute IN ('userCertificate', 'userSMIMECertificate')",
            name="ck_directory_attributes_attribute",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name="fk_directory_attributes_user_id_users",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "attribute", name="pk_directory_attributes"),
    )
    op.create_table(
        "crls",
        sa.Column("issuer_serial", sa.Text(), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("this_update", _UTC, nullable=False),
        sa.Column("next_update", _UTC, nullable=False),
        sa.Column("der", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("issuer_serial", "number", name="pk_crls"),
    )
    op.create_table(
        "trust",
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("der", sa.LargeBinary(), nullable=False),
        sa.Column("added_at", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("fingerprint", name="pk_trust"),
    )
    op.create_table(
        "imported_crls",
        sa.Column("issuer", sa.Text(), nullable=False),
        sa.Column("number", sa.Text(), nullable=True),
        sa.Column("this_update", _UTC, nullable=False),
        sa.Column("next_update", _UTC, nullable=True),
        sa.Column("der", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("issuer", name="pk_imported_crls"),
    )
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", _UTC, nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit"),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    for table in (
        "audit",
        "imported_crls",
        "trust",
        "crls",
        "directory_attributes",
        "certificates",
        "templates",
        "user_groups",
        "groups",
        "users",
        "meta",
    ):
        op.drop_table(table)
