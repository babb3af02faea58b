"""Quarantined messages: held back by the scanner or by policy, each with a sealed copy."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from postseal.errors import ConflictError, NotFoundError
from postseal.store.ports import QuarantineEntry, SealedBody
from postseal.store.sql.statements import ConstraintViolation, execute, guarded
from postseal.store.sql.tables import quarantine

__all__ = ["SqlQuarantineRepository"]

_ENTRY = [c for c in quarantine.c if c.name not in ("wrapped_key", "ciphertext")]


class SqlQuarantineRepository:
    """:class:`~postseal.store.ports.QuarantineRepository` on SQL; lists are by id, which
    is time-ordered."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, entry: QuarantineEntry, body: SealedBody) -> None:
        if not entry.recipients:
            raise ValueError(f"quarantine entry {entry.id} has no recipient")
        for address in entry.recipients:
            if not address or "\n" in address or "\r" in address:
                raise ValueError(f"quarantine entry {entry.id} has a malformed recipient")
        values = {c.name: getattr(entry, c.name) for c in _ENTRY}
        values["recipients"] = "\n".join(entry.recipients)
        statement = insert(quarantine).values(
            **values, wrapped_key=bytes(body.wrapped_key), ciphertext=bytes(body.ciphertext)
        )
        try:
            await guarded(self._connection, statement)
        except ConstraintViolation:
            raise ConflictError(f"a quarantine entry with id {entry.id} already exists") from None

    async def get(self, entry_id: str) -> QuarantineEntry | None:
        query = select(*_ENTRY).where(quarantine.c.id == entry_id)
        row = (await self._connection.execute(query)).first()
        return None if row is None else _entry(row)

    async def body(self, entry_id: str) -> SealedBody | None:
        query = select(quarantine.c.wrapped_key, quarantine.c.ciphertext).where(
            quarantine.c.id == entry_id
        )
        row = (await self._connection.execute(query)).first()
        return None if row is None else SealedBody(row.wrapped_key, row.ciphertext)

    async def list(
        self, *, released: bool | None = None, limit: int = 100
    ) -> Sequence[QuarantineEntry]:
        query = select(*_ENTRY).order_by(quarantine.c.id).limit(limit)
        if released is True:
            query = query.where(quarantine.c.released_at.is_not(None))
        elif released is False:
            query = query.where(quarantine.c.released_at.is_(None))
        return [_entry(row) for row in await self._connection.execute(query)]

    async def release(self, entry_id: str, *, at: datetime) -> QuarantineEntry:
        statement = (
            update(quarantine)
            .where(quarantine.c.id == entry_id, quarantine.c.released_at.is_(None))
            .values(released_at=at)
        )
        if (await execute(self._connection, statement)).rowcount == 0:
            found = await self.get(entry_id)
            if found is None:
                raise _no_entry(entry_id)
            assert found.released_at is not None
            raise ConflictError(
                f"quarantine entry {entry_id} was released already, "
                f"at {found.released_at:%Y-%m-%d %H:%M:%S} UTC"
            )
        released = await self.get(entry_id)
        assert released is not None
        return released

    async def delete(self, entry_id: str) -> None:
        statement = delete(quarantine).where(quarantine.c.id == entry_id)
        if (await self._connection.execute(statement)).rowcount == 0:
            raise _no_entry(entry_id)


def _no_entry(entry_id: str) -> NotFoundError:
    return NotFoundError(
        f"there is no quarantine entry {entry_id}",
        hint="`postseal quarantine list` shows the entries",
    )


def _entry(row: Row[Any]) -> QuarantineEntry:
    values = {c.name: getattr(row, c.name) for c in _ENTRY}
    values["recipients"] = tuple(row.recipients.split("\n"))
    return QuarantineEntry(**values)
