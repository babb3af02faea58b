"""Contacts: outside correspondents' certificates and capabilities.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23

Written by hand to match ``postseal.store.sql.tables.contacts``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC = sa.DateTime(timezone=False)


def upgrade() -> None:
    op.create_table(
        "contacts",
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False),
        sa.Column("der", sa.LargeBinary(), nullable=False),
        sa.Column("capabilities", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("not_after", _UTC, nullable=False),
        sa.Column("updated_at", _UTC, nullable=False),
        sa.CheckConstraint("source IN ('harvested', 'imported')", name="ck_contacts_source"),
        sa.PrimaryKeyConstraint("address", "fingerprint", name="pk_contacts"),
    )


def downgrade() -> None:
    op.drop_table("contacts")
