"""Zero-access mailbox settings on SQL (one row per user in the mode)."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from postseal.store.ports.zero_access import ZeroAccessRecord
from postseal.store.sql.mailbox_tables import zero_access
from postseal.store.sql.statements import execute, upsert

__all__ = ["SqlZeroAccessRepository"]


class SqlZeroAccessRepository:
    """:class:`~postseal.store.ports.ZeroAccessRepository` on SQL."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def get(self, user_id: int) -> ZeroAccessRecord | None:
        row = (
            await self._connection.execute(
                select(zero_access).where(zero_access.c.user_id == user_id)
            )
        ).first()
        if row is None:
            return None
        return ZeroAccessRecord(
            user_id=row.user_id,
            certificate=row.certificate,
            fingerprint=row.fingerprint,
            enabled_at=row.enabled_at,
            enabled_by=row.enabled_by,
        )

    async def put(self, record: ZeroAccessRecord) -> None:
        row = {
            "user_id": record.user_id,
            "certificate": bytes(record.certificate),
            "fingerprint": record.fingerprint,
            "enabled_at": record.enabled_at,
            "enabled_by": record.enabled_by,
        }
        await execute(
            self._connection, upsert(self._connection, zero_access, [row], keys=("user_id",))
        )

    async def remove(self, user_id: int) -> bool:
        result = await self._connection.execute(
            delete(zero_access).where(zero_access.c.user_id == user_id)
        )
        return bool(result.rowcount)
