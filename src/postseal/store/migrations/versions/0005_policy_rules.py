"""Mail policy rules in the database, next to postseal.toml's ``[policy]`` (ADR 0019).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23

Written by hand to match ``postseal.store.sql.tables.policy_rules``. The policy version
readers poll is a row of ``meta`` (``policy_version``), written with the first change.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC = sa.DateTime(timezone=False)


def upgrade() -> None:
    op.create_table(
        "policy_rules",
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("changed_by", sa.Text(), nullable=False),
        sa.Column("changed_at", _UTC, nullable=False),
        sa.CheckConstraint(
            "scope IN ('organisation', 'domain', 'group', 'user')",
            name="ck_policy_rules_scope",
        ),
        sa.CheckConstraint("(scope = 'organisation') = (name = '')", name="ck_policy_rules_name"),
        sa.PrimaryKeyConstraint("scope", "name", "key", name="pk_policy_rules"),
    )


def downgrade() -> None:
    op.drop_table("policy_rules")
    op.execute("DELETE FROM meta WHERE key = 'policy_version'")
