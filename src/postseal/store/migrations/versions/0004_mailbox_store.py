"""The mailbox store of issue 5: shared mailboxes, special use, MODSEQ, tombstones,
summaries, access rights, subscriptions, quotas.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23

Written by hand to match ``postseal.store.sql.mailbox_tables``. Existing mailboxes get
HIGHESTMODSEQ 1 and their messages MODSEQ 1.

SQLite cannot make ``mailboxes.user_id`` nullable in place, and alembic's batch mode
(copy, ``DROP TABLE mailboxes``, rename) would cascade: with foreign keys on (they cannot
be switched off inside the migration's transaction) the drop deletes every stored
message. So on SQLite both tables are rebuilt parent-first under new names, the data is
copied, and the old tables are dropped child-first, when nothing references them any more.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC = sa.DateTime(timezone=False)
_SPECIAL_USE = "special_use IN ('archive', 'drafts', 'junk', 'sent', 'trash')"
_COPY_MAILBOXES = """
INSERT INTO mailboxes
    (id, user_id, name, uidvalidity, uidnext, created_at, wrapped_key, highestmodseq)
SELECT id, user_id, name, uidvalidity, uidnext, created_at, wrapped_key, 1
FROM _0004_mailboxes
"""
_COPY_MESSAGES = """
INSERT INTO mailbox_messages
    (mailbox_id, uid, email_id, internal_date, size, flags, message_id_hash,
     wrapped_key, ciphertext, modseq)
SELECT mailbox_id, uid, email_id, internal_date, size, flags, message_id_hash,
     wrapped_key, ciphertext, 1
FROM _0004_mailbox_messages
"""


def _create_mailboxes() -> None:
    op.create_table(
        "mailboxes",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("special_use", sa.Text(), nullable=True),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("uidnext", sa.BigInteger(), nullable=False),
        sa.Column("highestmodseq", sa.BigInteger(), nullable=False),
        sa.Column("anyone_rights", sa.Text(), nullable=True),
        sa.Column("created_at", _UTC, nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint(_SPECIAL_USE, name="ck_mailboxes_special_use"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_mailboxes_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_mailboxes"),
        sa.UniqueConstraint("user_id", "name", name="uq_mailboxes_user_id_name"),
    )


def _create_messages() -> None:
    op.create_table(
        "mailbox_messages",
        sa.Column("mailbox_id", sa.Text(), nullable=False),
        sa.Column("uid", sa.BigInteger(), nullable=False),
        sa.Column("email_id", sa.Text(), nullable=False),
        sa.Column("internal_date", _UTC, nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("flags", sa.Text(), nullable=False),
        sa.Column("message_id_hash", sa.Text(), nullable=True),
        sa.Column("modseq", sa.BigInteger(), nullable=False),
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


def _rebuild_on_sqlite() -> None:
    # Renaming the parent rewrites the child's REFERENCES to the renamed table, so the
    # new tables start with no row pointing at them.
    op.execute("ALTER TABLE mailbox_messages RENAME TO _0004_mailbox_messages")
    op.execute("ALTER TABLE mailboxes RENAME TO _0004_mailboxes")
    _create_mailboxes()
    op.execute(_COPY_MAILBOXES)
    _create_messages()
    op.execute(_COPY_MESSAGES)
    op.drop_table("_0004_mailbox_messages")
    op.drop_table("_0004_mailboxes")


def _alter_on_postgresql() -> None:
    op.alter_column("mailboxes", "user_id", existing_type=sa.Integer(), nullable=True)
    op.add_column("mailboxes", sa.Column("special_use", sa.Text(), nullable=True))
    op.add_column(
        "mailboxes",
        sa.Column("highestmodseq", sa.BigInteger(), nullable=False, server_default="1"),
    )
    op.alter_column("mailboxes", "highestmodseq", server_default=None)
    op.add_column("mailboxes", sa.Column("anyone_rights", sa.Text(), nullable=True))
    op.create_check_constraint("ck_mailboxes_special_use", "mailboxes", _SPECIAL_USE)
    op.add_column(
        "mailbox_messages",
        sa.Column("modseq", sa.BigInteger(), nullable=False, server_default="1"),
    )
    op.alter_column("mailbox_messages", "modseq", server_default=None)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_on_sqlite()
    else:
        _alter_on_postgresql()
    op.create_index(
        "ux_mailboxes_shared_name",
        "mailboxes",
        ["name"],
        unique=True,
        sqlite_where=sa.text("user_id IS NULL"),
        postgresql_where=sa.text("user_id IS NULL"),
    )
    op.create_index(
        "ix_mailbox_messages_mailbox_id_modseq", "mailbox_messages", ["mailbox_id", "modseq"]
    )
    op.create_table(
        "mailbox_summaries",
        sa.Column("mailbox_id", sa.Text(), nullable=False),
        sa.Column("uid", sa.BigInteger(), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["mailbox_id", "uid"],
            ["mailbox_messages.mailbox_id", "mailbox_messages.uid"],
            name="fk_mailbox_summaries_mailbox_id_mailbox_messages",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("mailbox_id", "uid", name="pk_mailbox_summaries"),
    )
    op.create_table(
        "mailbox_vanished",
        sa.Column("mailbox_id", sa.Text(), nullable=False),
        sa.Column("uid", sa.BigInteger(), nullable=False),
        sa.Column("modseq", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["mailbox_id"],
            ["mailboxes.id"],
            name="fk_mailbox_vanished_mailbox_id_mailboxes",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("mailbox_id", "uid", name="pk_mailbox_vanished"),
    )
    op.create_index(
        "ix_mailbox_vanished_mailbox_id_modseq", "mailbox_vanished", ["mailbox_id", "modseq"]
    )
    op.create_table(
        "mailbox_acl",
        sa.Column("mailbox_id", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("rights", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["mailbox_id"],
            ["mailboxes.id"],
            name="fk_mailbox_acl_mailbox_id_mailboxes",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_mailbox_acl_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("mailbox_id", "user_id", name="pk_mailbox_acl"),
    )
    op.create_index("ix_mailbox_acl_user_id", "mailbox_acl", ["user_id"])
    op.create_table(
        "mailbox_subscriptions",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name="fk_mailbox_subscriptions_user_id_users",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "name", name="pk_mailbox_subscriptions"),
    )
    op.create_table(
        "quotas",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("storage", sa.BigInteger(), nullable=True),
        sa.Column("messages", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_quotas_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name="pk_quotas"),
    )
    op.create_table(
        "counters",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_counters"),
    )
    op.execute(
        "INSERT INTO counters (name, value) "
        "SELECT 'uidvalidity', COALESCE(MAX(uidvalidity), 0) FROM mailboxes"
    )


def downgrade() -> None:
    raise NotImplementedError(
        "revision 0004 cannot be undone: shared mailboxes and MODSEQs have no place in 0003"
    )
