"""Zero-access mailboxes: the owner's own encryption certificate, per user (ADR 0020)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

__all__ = ["ZeroAccessRecord", "ZeroAccessRepository"]


@dataclass(frozen=True, slots=True)
class ZeroAccessRecord:
    """A user whose incoming mail is stored encrypted to ``certificate`` (DER) only.

    The certificate is public; its private key is held by the owner alone (postseal
    refuses a certificate whose key it holds), so what is stored under it cannot be read
    by the server, its administrators or anyone holding the master key.
    """

    user_id: int
    certificate: bytes
    fingerprint: str  # SHA-256 of the DER, lower-case hex
    enabled_at: datetime
    enabled_by: str


class ZeroAccessRepository(Protocol):
    async def get(self, user_id: int) -> ZeroAccessRecord | None:
        """The user's setting; None when their mailbox is not in zero-access mode."""
        ...

    async def put(self, record: ZeroAccessRecord) -> None:
        """Turn the mode on for ``record.user_id``, or replace its certificate."""
        ...

    async def remove(self, user_id: int) -> bool:
        """Turn the mode off; whether it was on."""
        ...
