"""A covering index for mailbox listings (ADR 0017).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23

Written by hand to match ``postseal.store.sql.mailbox_tables.mailbox_messages``: SELECT
and FETCH of flags, dates and sizes read the index alone instead of one table page per
message (the pages the sealed bodies share).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = [
    "mailbox_id",
    "uid",
    "email_id",
    "internal_date",
    "size",
    "flags",
    "message_id_hash",
    "modseq",
]


def upgrade() -> None:
    op.create_index("ix_mailbox_messages_listing", "mailbox_messages", _COLUMNS)


def downgrade() -> None:
    op.drop_index("ix_mailbox_messages_listing", table_name="mailbox_messages")
