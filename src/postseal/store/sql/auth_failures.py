"""Failed logins on SQL (ADR 0027)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from postseal.store.ports.auth_failures import FailureKind
from postseal.store.sql.statements import execute
from postseal.store.sql.tables import auth_failures

__all__ = ["SqlAuthFailureRepository"]


class SqlAuthFailureRepository:
    """:class:`~postseal.store.ports.AuthFailureRepository` on SQL."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def count_since(self, kind: FailureKind, key_hash: str, since: float) -> int:
        query = select(func.count()).where(
            auth_failures.c.kind == kind,
            auth_failures.c.key_hash == key_hash,
            auth_failures.c.at >= since,
        )
        return int((await self._connection.execute(query)).scalar_one())

    async def counts_since(self, kind: FailureKind, since: float) -> Mapping[str, int]:
        query = (
            select(auth_failures.c.key_hash, func.count())
            .where(auth_failures.c.kind == kind, auth_failures.c.at >= since)
            .group_by(auth_failures.c.key_hash)
        )
        return {key: int(count) for key, count in await self._connection.execute(query)}

    async def add(self, keys: Sequence[tuple[FailureKind, str]], at: float) -> None:
        if keys:
            rows = [{"kind": kind, "key_hash": key, "at": at} for kind, key in keys]
            await execute(self._connection, insert(auth_failures), rows)

    async def clear(self, kind: FailureKind, key_hash: str) -> int:
        statement = delete(auth_failures).where(
            auth_failures.c.kind == kind, auth_failures.c.key_hash == key_hash
        )
        return int((await self._connection.execute(statement)).rowcount)

    async def purge_before(self, before: float) -> int:
        statement = delete(auth_failures).where(auth_failures.c.at < before)
        return int((await self._connection.execute(statement)).rowcount)
