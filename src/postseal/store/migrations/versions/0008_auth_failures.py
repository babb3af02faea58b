"""Failed logins counted in the store, shared by every process and protocol (ADR 0027).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24

Written by hand to match ``postseal.store.sql.tables.auth_failures``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "auth_failures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("key_hash", sa.Text(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.CheckConstraint("kind IN ('address', 'account')", name="ck_auth_failures_kind"),
        sa.PrimaryKeyConstraint("id", name="pk_auth_failures"),
    )
    op.create_index(
        "ix_auth_failures_kind_key_hash_at", "auth_failures", ["kind", "key_hash", "at"]
    )
    op.create_index("ix_auth_failures_at", "auth_failures", ["at"])


def downgrade() -> None:
    op.drop_table("auth_failures")
