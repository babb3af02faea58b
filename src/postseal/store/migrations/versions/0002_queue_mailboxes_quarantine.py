"""The mail queue, minimal mailboxes and the quarantine; message bodies only sealed.

Revision ID: 0002
Revises: 0001
Create Date: 2026-03-01

Written by hand to match ``postseal.store.sql.tables`` (see 0001 for the datetime columns).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC = sa.DateTime(timezone=False)


def upgrade() -> None:
    op.create_table(
        "queue_messages",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("mail_from", sa.Text(), nullable=False),
        sa.Column("received_at", _UTC, nullable=False),
        sa.Column("expires_at", _UTC, nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("listener", sa.Text(), nullable=False),
        sa.Column("client_address", sa.Text(), nullable=False),
        sa.Column("auth_user", sa.Text(), nullable=True),
        sa.Column("dsn_ret", sa.Text(), nullable=True),
        sa.Column("dsn_envid", sa.Text(), nullable=True),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_queue_messages"),
    )
    op.create_table(
        "queue_recipients",
        sa.Column("message_id", sa.Text(), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _UTC, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("finished_at", _UTC, nullable=True),
        sa.Column("notify", sa.Text(), nullable=True),
        sa.Column("orcpt", sa.Text(), nullable=True),
        sa.Column("lease_owner", sa.Text(), nullable=True),
        sa.Column("lease_until", _UTC, nullable=True),
        sa.CheckConstraint("kind IN ('local', 'remote')", name="ck_queue_recipients_kind"),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'failed', 'expired')",
            name="ck_queue_recipients_status",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["queue_messages.id"],
            name="fk_queue_recipients_message_id_queue_messages",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("message_id", "address", name="pk_queue_recipients"),
    )
    op.create_index(
        "ix_queue_recipients_status_next_attempt_at",
        "queue_recipients",
        ["status", "next_attempt_at"],
    )
    op.create_table(
        "mailboxes",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("uidnext", sa.BigInteger(), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_mailboxes_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_mailboxes"),
        sa.UniqueConstraint("user_id", "name", name="uq_mailboxes_user_id_name"),
    )
    op.create_table(
        "mailbox_messages",
        sa.Column("mailbox_id", sa.Text(), nullable=False),
        sa.Column("uid", sa.BigInteger(), nullable=False),
        sa.Column("email_id", sa.Text(), nullable=False),
        sa.Column("internal_date", _UTC, nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("flags", sa.Text(), nullable=False),
        sa.Column("message_id_hash", sa.Text(), nullable=True),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["mailbox_id"],
            ["mailboxes.id"],
            name="fk_mailbox_messages_mailbox_id_mailboxes",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("mailbox_id", "uid", name="pk_mailbox_messages"),
    )
    op.create_table(
        "quarantine",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("queue_message_id", sa.Text(), nullable=True),
        sa.Column("mail_from", sa.Text(), nullable=False),
        sa.Column("recipients", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("signature", sa.Text(), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("released_at", _UTC, nullable=True),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_quarantine"),
    )


def downgrade() -> None:
    for table in (
        "quarantine",
        "mailbox_messages",
        "mailboxes",
        "queue_recipients",
        "queue_messages",
    ):
        op.drop_table(table)
