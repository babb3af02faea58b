"""Outside correspondents' certificates."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

__all__ = ["ContactRecord", "ContactRepository"]


@dataclass(frozen=True, slots=True)
class ContactRecord:
    """An outside correspondent's certificate, harvested from a verified signature or
    imported; ``capabilities`` are algorithm names, None when unknown."""

    address: str
    fingerprint: str  # SHA-256 of the DER, lower-case hex
    der: bytes
    capabilities: tuple[str, ...] | None
    source: str  # "harvested" | "imported"
    not_after: datetime
    updated_at: datetime


class ContactRepository(Protocol):
    async def put(self, contact: ContactRecord) -> None:
        """Insert, or replace the entry with the same address and fingerprint."""
        ...

    async def list(self, *, address: str | None = None) -> Sequence[ContactRecord]:
        """By address, then the latest ``not_after`` first."""
        ...

    async def remove(self, address: str) -> int:
        """Forget every certificate of ``address``; how many there were."""
        ...
