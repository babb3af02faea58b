"""Contacts: outside correspondents' certificates and capabilities (harvested or imported)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from postseal.store.ports import ContactRecord
from postseal.store.sql.statements import execute, upsert
from postseal.store.sql.tables import contacts

__all__ = ["SqlContactRepository"]


class SqlContactRepository:
    """:class:`~postseal.store.ports.ContactRepository` on SQL; ``list`` is by address,
    then newest ``not_after`` first."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def put(self, contact: ContactRecord) -> None:
        row = {
            "address": contact.address,
            "fingerprint": contact.fingerprint,
            "der": bytes(contact.der),
            "capabilities": None
            if contact.capabilities is None
            else ",".join(contact.capabilities),
            "source": contact.source,
            "not_after": contact.not_after,
            "updated_at": contact.updated_at,
        }
        await execute(
            self._connection,
            upsert(self._connection, contacts, [row], keys=("address", "fingerprint")),
        )

    async def list(self, *, address: str | None = None) -> Sequence[ContactRecord]:
        query = select(contacts).order_by(contacts.c.address, contacts.c.not_after.desc())
        if address is not None:
            query = query.where(contacts.c.address == address)
        return [_contact(row) for row in await self._connection.execute(query)]

    async def remove(self, address: str) -> int:
        result = await self._connection.execute(
            delete(contacts).where(contacts.c.address == address)
        )
        return int(result.rowcount or 0)


def _contact(row: Row[Any]) -> ContactRecord:
    return ContactRecord(
        address=row.address,
        fingerprint=row.fingerprint,
        der=row.der,
        capabilities=None
        if row.capabilities is None
        else tuple(c for c in row.capabilities.split(",") if c),
        source=row.source,
        not_after=row.not_after,
        updated_at=row.updated_at,
    )
