"""Zero-access mailboxes: the owner's own encryption certificate, per user (ADR 0020).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23

Written by hand to match ``postseal.store.sql.mailbox_tables.zero_access``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC = sa.DateTime(timezone=False)


def upgrade() -> None:
    op.create_table(
        "zero_access",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("enabled_at", _UTC, nullable=False),
        sa.Column("enabled_by", sa.Text(), nullable=False),
        sa.Column("certificate", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_zero_access_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name="pk_zero_access"),
    )


def downgrade() -> None:
    op.drop_table("zero_access")
