"""Messages held back by the scanner or by policy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from postseal.store.ports.sealed import SealedBody

__all__ = ["QuarantineEntry", "QuarantineRepository"]


@dataclass(frozen=True, slots=True)
class QuarantineEntry:
    """A message held back (infected, or unscannable by policy), with its own sealed copy
    labelled ``id`` under the quarantine key."""

    id: str
    mail_from: str
    recipients: tuple[str, ...]
    reason: str  # a sentence: "infected: Eicar-Signature", "encrypted, cannot scan"
    signature: str | None  # the scanner's malware name
    size: int
    created_at: datetime
    queue_message_id: str | None = None  # set when quarantined after queueing
    released_at: datetime | None = None


class QuarantineRepository(Protocol):
    async def add(self, entry: QuarantineEntry, body: SealedBody) -> None:
        """ConflictError if the id exists; ValueError without recipients."""
        ...

    async def get(self, entry_id: str) -> QuarantineEntry | None: ...
    async def body(self, entry_id: str) -> SealedBody | None: ...
    async def list(
        self, *, released: bool | None = None, limit: int = 100
    ) -> Sequence[QuarantineEntry]:
        """Oldest first; ``released`` False/True keeps held / released ones only."""
        ...

    async def release(self, entry_id: str, *, at: datetime) -> QuarantineEntry:
        """Mark released (the caller enqueues it in the same transaction); NotFoundError
        if absent, ConflictError if released already."""
        ...

    async def delete(self, entry_id: str) -> None:
        """Remove the entry and its sealed copy; NotFoundError if absent."""
        ...
