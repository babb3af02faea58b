"""The maildrop of one POP3 session: a snapshot of the user's INBOX taken at login
(RFC 1939 §4), numbered 1..n, with the deletion marks of DELE and RSET (§5, §6)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from postseal.errors import InputError
from postseal.store.ports import StoredMessage

__all__ = ["Maildrop", "uidl"]


def uidl(uidvalidity: int, uid: int) -> str:
    """A unique-id that never changes for a message and is never reused in the mailbox
    (RFC 1939 §7): Dovecot's default layout ``%08Xu%08Xv``."""
    return f"{uid:08X}{uidvalidity:08X}"


@dataclass(slots=True)
class Maildrop:
    uidvalidity: int
    messages: Sequence[StoredMessage]
    deleted: set[int] = field(default_factory=set)  # message numbers
    retrieved: set[int] = field(default_factory=set)

    def get(self, number: int) -> StoredMessage:
        """Message ``number``; InputError for one that does not exist or is deleted."""
        if not 1 <= number <= len(self.messages):
            raise InputError(f"there is no message {number}")
        if number in self.deleted:
            raise InputError(f"message {number} is already deleted")
        return self.messages[number - 1]

    def live(self) -> list[tuple[int, StoredMessage]]:
        return [(n, m) for n, m in enumerate(self.messages, 1) if n not in self.deleted]

    def stat(self) -> tuple[int, int]:
        """Count and octets of the messages not marked deleted (RFC 1939 §5 STAT)."""
        live = self.live()
        return len(live), sum(m.size for _, m in live)

    def uid_of(self, numbers: set[int]) -> list[int]:
        return sorted(self.messages[n - 1].uid for n in numbers)
