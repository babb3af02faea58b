"""The CA's records: certificate templates, issued certificates and issued CRLs."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, exists, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from postseal.errors import ConflictError, NotFoundError
from postseal.store.ports import CertificateRecord, CertificateRole, CrlRecord, TemplateRecord
from postseal.store.sql.statements import ConstraintViolation, execute, guarded, upsert
from postseal.store.sql.tables import certificates, crls, templates

__all__ = ["SqlCertificateRepository", "SqlCrlRepository", "SqlTemplateRepository"]

_DOTTED_OID = re.compile(r"[0-2](\.(0|[1-9][0-9]*))+")


class SqlTemplateRepository:
    """:class:`~postseal.store.ports.TemplateRepository` on SQL; ``list`` is by name."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def put(self, template: TemplateRecord) -> None:
        """Insert or replace by name; ValueError if an EKU is not a dotted OID (the column
        keeps them as one comma-separated string)."""
        for eku in template.ekus:
            if not _DOTTED_OID.fullmatch(eku):
                raise ValueError(f"EKU {eku!r} of template {template.name} is not a dotted OID")
        row = {
            "name": template.name,
            "description": template.description,
            "ekus": ",".join(template.ekus),
            "key_type": template.key_type,
            "validity_days": template.validity_days,
            "renewal_days": template.renewal_days,
            "superseded_by": template.superseded_by,
        }
        await execute(self._connection, upsert(self._connection, templates, [row], keys=["name"]))

    async def get(self, name: str) -> TemplateRecord | None:
        query = select(templates).where(templates.c.name == name)
        row = (await self._connection.execute(query)).first()
        return None if row is None else _template(row)

    async def list(self) -> Sequence[TemplateRecord]:
        rows = await self._connection.execute(select(templates).order_by(templates.c.name))
        return [_template(row) for row in rows]


def _template(row: Row[Any]) -> TemplateRecord:
    return TemplateRecord(
        name=row.name,
        description=row.description,
        ekus=tuple(row.ekus.split(",")) if row.ekus else (),
        key_type=row.key_type,
        validity_days=row.validity_days,
        renewal_days=row.renewal_days,
        superseded_by=row.superseded_by,
    )


class SqlCertificateRepository:
    """:class:`~postseal.store.ports.CertificateRepository` on SQL.

    Lists are ordered newest ``not_before`` first, then by serial, so equal times still
    give a stable order. ``issuer_serial`` and ``superseded_by`` are not checked against
    stored certificates on :meth:`add` (an issuing CA may hang under an outside root);
    :meth:`set_superseded` does check both serials.
    """

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, cert: CertificateRecord) -> None:
        statement = insert(certificates).values(
            serial=cert.serial,
            role=CertificateRole(cert.role).value,
            subject=cert.subject,
            email=cert.email,
            user_id=cert.user_id,
            template=cert.template,
            issuer_serial=cert.issuer_serial,
            not_before=cert.not_before,
            not_after=cert.not_after,
            fingerprint=cert.fingerprint,
            der=bytes(cert.der),
            wrapped_key=None if cert.wrapped_key is None else bytes(cert.wrapped_key),
            revoked_at=cert.revoked_at,
            revocation_reason=cert.revocation_reason,
            superseded_by=cert.superseded_by,
        )
        try:
            await guarded(self._connection, statement)
        except ConstraintViolation:
            if await self._exists(certificates.c.serial == cert.serial):
                raise ConflictError(
                    f"a certificate with serial {cert.serial} already exists"
                ) from None
            raise ConflictError(
                f"a certificate with SHA-256 fingerprint {cert.fingerprint} already exists"
            ) from None

    async def get(self, serial: str) -> CertificateRecord | None:
        return await self._one(certificates.c.serial == serial)

    async def get_by_fingerprint(self, fingerprint: str) -> CertificateRecord | None:
        return await self._one(certificates.c.fingerprint == fingerprint)

    async def list(
        self, *, user_id: int | None = None, role: CertificateRole | None = None
    ) -> Sequence[CertificateRecord]:
        query = select(certificates)
        if user_id is not None:
            query = query.where(certificates.c.user_id == user_id)
        if role is not None:
            query = query.where(certificates.c.role == CertificateRole(role).value)
        return await self._many(query)

    async def current_ca(self, role: CertificateRole) -> CertificateRecord | None:
        query = (
            select(certificates)
            .where(certificates.c.role == CertificateRole(role).value)
            .where(certificates.c.revoked_at.is_(None))
        )
        found = await self._many(query.limit(1))
        return found[0] if found else None

    async def revoke(self, serial: str, *, at: datetime, reason: str) -> None:
        statement = (
            update(certificates)
            .where(certificates.c.serial == serial)
            .where(certificates.c.revoked_at.is_(None))
            .values(revoked_at=at, revocation_reason=reason)
        )
        if (await execute(self._connection, statement)).rowcount:
            return
        current = await self.get(serial)
        if current is None:
            raise _no_certificate(serial)
        assert current.revoked_at is not None
        raise ConflictError(
            f"the certificate {serial} was already revoked on {current.revoked_at:%Y-%m-%d}"
            f" ({current.revocation_reason})"
        )

    async def set_superseded(self, serial: str, by_serial: str) -> None:
        """Record that ``by_serial`` renewed ``serial``; NotFoundError if either is absent."""
        if not await self._exists(certificates.c.serial == by_serial):
            raise _no_certificate(by_serial)
        statement = (
            update(certificates)
            .where(certificates.c.serial == serial)
            .values(superseded_by=by_serial)
        )
        if not (await self._connection.execute(statement)).rowcount:
            raise _no_certificate(serial)

    async def revoked_by(self, issuer_serial: str) -> Sequence[CertificateRecord]:
        query = (
            select(certificates)
            .where(certificates.c.issuer_serial == issuer_serial)
            .where(certificates.c.revoked_at.is_not(None))
        )
        return await self._many(query)

    async def _exists(self, condition: Any) -> bool:
        result = await self._connection.execute(select(exists().where(condition)))
        return bool(result.scalar())

    async def _one(self, condition: Any) -> CertificateRecord | None:
        row = (await self._connection.execute(select(certificates).where(condition))).first()
        return None if row is None else _certificate(row)

    async def _many(self, query: Any) -> Sequence[CertificateRecord]:
        ordered = query.order_by(certificates.c.not_before.desc(), certificates.c.serial.desc())
        return [_certificate(row) for row in await self._connection.execute(ordered)]


def _no_certificate(serial: str) -> NotFoundError:
    return NotFoundError(f"there is no certificate with serial {serial}")


def _certificate(row: Row[Any]) -> CertificateRecord:
    return CertificateRecord(
        serial=row.serial,
        role=CertificateRole(row.role),
        subject=row.subject,
        email=row.email,
        user_id=row.user_id,
        template=row.template,
        issuer_serial=row.issuer_serial,
        not_before=row.not_before,
        not_after=row.not_after,
        fingerprint=row.fingerprint,
        der=row.der,
        wrapped_key=row.wrapped_key,
        revoked_at=row.revoked_at,
        revocation_reason=row.revocation_reason,
        superseded_by=row.superseded_by,
    )


class SqlCrlRepository:
    """:class:`~postseal.store.ports.CrlRepository` on SQL.

    :meth:`add` raises ConflictError when the issuer already has a CRL with that number
    (RFC 5280 §5.2.3: CRL numbers increase strictly). ``latest`` is the highest number.
    """

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, crl: CrlRecord) -> None:
        statement = insert(crls).values(
            issuer_serial=crl.issuer_serial,
            number=crl.number,
            this_update=crl.this_update,
            next_update=crl.next_update,
            der=bytes(crl.der),
        )
        try:
            await guarded(self._connection, statement)
        except ConstraintViolation:
            raise ConflictError(
                f"CRL number {crl.number} of the CA {crl.issuer_serial} already exists",
                hint="issue the next CRL with a higher number",
            ) from None

    async def latest(self, issuer_serial: str) -> CrlRecord | None:
        query = (
            select(crls)
            .where(crls.c.issuer_serial == issuer_serial)
            .order_by(crls.c.number.desc())
            .limit(1)
        )
        row = (await self._connection.execute(query)).first()
        if row is None:
            return None
        return CrlRecord(
            issuer_serial=row.issuer_serial,
            number=row.number,
            this_update=row.this_update,
            next_update=row.next_update,
            der=row.der,
        )
