"""Organisation-wide facts (``meta``) and the append-only audit trail."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from postseal.store.ports import AuditRecord
from postseal.store.sql.statements import execute, upsert
from postseal.store.sql.tables import audit, meta

__all__ = ["SqlAuditRepository", "SqlMetaRepository"]


class SqlMetaRepository:
    """:class:`~postseal.store.ports.MetaRepository` on SQL; ``set`` overwrites."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def get(self, key: str) -> str | None:
        result = await self._connection.execute(select(meta.c.value).where(meta.c.key == key))
        value: str | None = result.scalar()
        return value

    async def set(self, key: str, value: str) -> None:
        statement = upsert(self._connection, meta, [{"key": key, "value": value}], keys=["key"])
        await execute(self._connection, statement)

    async def all(self) -> Mapping[str, str]:
        query = select(meta.c.key, meta.c.value).order_by(meta.c.key)
        return {row.key: row.value for row in await self._connection.execute(query)}


class SqlAuditRepository:
    """:class:`~postseal.store.ports.AuditRepository` on SQL.

    Entries are stamped with the store's clock (UTC) when appended and numbered in
    order; ``list`` returns the newest ``limit`` entries, newest first. An entry is part
    of its transaction: a rolled-back command leaves no audit entry.
    """

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def append(self, *, actor: str, action: str, target: str, detail: str = "") -> None:
        await self._connection.execute(
            insert(audit).values(
                at=datetime.now(UTC), actor=actor, action=action, target=target, detail=detail
            )
        )

    async def list(self, *, limit: int = 100) -> Sequence[AuditRecord]:
        if limit < 0:
            raise ValueError(f"audit limit must not be negative, got {limit}")
        query = select(audit).order_by(audit.c.id.desc()).limit(limit)
        return [
            AuditRecord(
                id=row.id,
                at=row.at,
                actor=row.actor,
                action=row.action,
                target=row.target,
                detail=row.detail,
            )
            for row in await self._connection.execute(query)
        ]
