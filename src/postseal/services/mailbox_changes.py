"""In-process change notices for mailboxes (ADR 0014, "Change notifications").

Every write the mailbox service performs (append, flags, expunge, copy, move, import,
delete, rename, delivery) touches the mailbox's counter here, in memory, in this process
only. An IMAP session compares the counter with the one it saw at its last store check:
unchanged, and checked less than :data:`RECHECK_SECONDS` ago, means no write of this
process can have moved the mailbox, and the per-command HIGHESTMODSEQ read is skipped.

Writes of other processes (``postseal mail import`` next to a running server, another
node on PostgreSQL) never touch this counter: sessions still read HIGHESTMODSEQ at least
every :data:`RECHECK_SECONDS` (at the next command), and always on NOOP, CHECK, IDLE,
EXPUNGE and SELECT. The service touches the counter after its transaction commits, so a
session woken by it reads the change; a delivery touches it inside the delivering
transaction (the caller commits), which the periodic check also covers.
"""

from __future__ import annotations

from typing import Final

__all__ = ["CHANGES", "RECHECK_SECONDS", "ChangeBoard"]

RECHECK_SECONDS: Final = 0.5
"""The longest a session trusts the in-process counter without reading the store."""


class ChangeBoard:
    """Per-mailbox counters; a counter only ever grows while the process lives."""

    __slots__ = ("_versions",)

    def __init__(self) -> None:
        self._versions: dict[str, int] = {}

    def version(self, mailbox_id: str) -> int:
        return self._versions.get(mailbox_id, 0)

    def touch(self, *mailbox_ids: str) -> None:
        for mailbox_id in mailbox_ids:
            self._versions[mailbox_id] = self._versions.get(mailbox_id, 0) + 1


CHANGES: Final = ChangeBoard()
"""The process's board: every MailboxService and MailboxWriter of the process share it."""
