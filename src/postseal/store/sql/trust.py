"""The trust store (partners' roots, intermediates, cross-certificates) and their CRLs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from postseal.errors import ConflictError, NotFoundError
from postseal.store.ports import ImportedCrlRecord, TrustKind, TrustRecord
from postseal.store.sql.statements import ConstraintViolation, execute, guarded, upsert
from postseal.store.sql.tables import imported_crls, trust

__all__ = ["SqlImportedCrlRepository", "SqlTrustRepository"]


class SqlTrustRepository:
    """:class:`~postseal.store.ports.TrustRepository` on SQL; ``list`` is ordered by
    subject, then fingerprint."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, entry: TrustRecord) -> None:
        statement = insert(trust).values(
            fingerprint=entry.fingerprint,
            kind=TrustKind(entry.kind).value,
            subject=entry.subject,
            der=bytes(entry.der),
            added_at=entry.added_at,
        )
        try:
            await guarded(self._connection, statement)
        except ConstraintViolation:
            raise ConflictError(
                f"the certificate {entry.subject} (SHA-256 {entry.fingerprint}) "
                "is already in the trust store"
            ) from None

    async def get(self, fingerprint: str) -> TrustRecord | None:
        query = select(trust).where(trust.c.fingerprint == fingerprint)
        row = (await self._connection.execute(query)).first()
        return None if row is None else _trust(row)

    async def list(self, *, kind: TrustKind | None = None) -> Sequence[TrustRecord]:
        query = select(trust).order_by(trust.c.subject, trust.c.fingerprint)
        if kind is not None:
            query = query.where(trust.c.kind == TrustKind(kind).value)
        return [_trust(row) for row in await self._connection.execute(query)]

    async def remove(self, fingerprint: str) -> None:
        statement = delete(trust).where(trust.c.fingerprint == fingerprint)
        if not (await self._connection.execute(statement)).rowcount:
            raise NotFoundError(
                f"there is no trusted certificate with SHA-256 fingerprint {fingerprint}",
                hint="`postseal trust list` shows the fingerprints",
            )


def _trust(row: Row[Any]) -> TrustRecord:
    return TrustRecord(
        fingerprint=row.fingerprint,
        kind=TrustKind(row.kind),
        subject=row.subject,
        der=row.der,
        added_at=row.added_at,
    )


class SqlImportedCrlRepository:
    """:class:`~postseal.store.ports.ImportedCrlRepository` on SQL; ``list`` is by issuer.

    CRL numbers of any size (up to the 20 octets of RFC 5280 §5.2.3) round-trip exactly.
    """

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def put(self, crl: ImportedCrlRecord) -> None:
        row = {
            "issuer": crl.issuer,
            "number": None if crl.number is None else str(int(crl.number)),
            "this_update": crl.this_update,
            "next_update": crl.next_update,
            "der": bytes(crl.der),
        }
        await execute(
            self._connection, upsert(self._connection, imported_crls, [row], keys=["issuer"])
        )

    async def get(self, issuer: str) -> ImportedCrlRecord | None:
        query = select(imported_crls).where(imported_crls.c.issuer == issuer)
        row = (await self._connection.execute(query)).first()
        return None if row is None else _imported(row)

    async def list(self) -> Sequence[ImportedCrlRecord]:
        query = select(imported_crls).order_by(imported_crls.c.issuer)
        return [_imported(row) for row in await self._connection.execute(query)]


def _imported(row: Row[Any]) -> ImportedCrlRecord:
    return ImportedCrlRecord(
        issuer=row.issuer,
        number=None if row.number is None else int(row.number),
        this_update=row.this_update,
        next_update=row.next_update,
        der=row.der,
    )
