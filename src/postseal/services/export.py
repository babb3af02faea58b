"""Exporting a user's certificate, and with it, on request, their private key.

A private key leaves postseal only inside a password-protected PKCS#12, and every export
of a key is audited.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Literal

from cryptography import x509

from postseal.errors import InputError
from postseal.pki.export import to_pem_bundle, to_pkcs12
from postseal.services.certificates import CertificateService
from postseal.services.clock import Clock
from postseal.store.ports import CertificateRole, Store

__all__ = ["ExportService", "Exported"]

Format = Literal["pem", "der", "p12"]


@dataclass(frozen=True, slots=True)
class Exported:
    data: bytes
    serial: str
    binary: bool
    secret: bool


class ExportService:
    def __init__(self, store: Store, *, certificates: CertificateService, clock: Clock) -> None:
        self._store = store
        self._certs = certificates
        self._clock = clock

    async def export(
        self,
        address: str,
        *,
        fmt: Format,
        with_key: bool = False,
        password: str | None = None,
        legacy: bool = False,
        actor: str,
    ) -> Exported:
        if with_key and fmt != "p12":
            raise InputError(
                "a private key is exported only inside a password-protected PKCS#12",
                hint="use --format p12 --with-key --password-stdin",
            )
        if legacy and fmt != "p12":
            raise InputError("--legacy-p12 applies to --format p12 only")
        record = await self._certs.current_for(address)
        cert = x509.load_der_x509_certificate(record.der)
        if fmt == "der":
            return Exported(record.der, record.serial, binary=True, secret=False)
        cas = await self._certs.ca_certificates()
        chain = [cas[r] for r in (CertificateRole.ISSUING, CertificateRole.ROOT) if r in cas]
        if fmt == "pem":
            return Exported(to_pem_bundle([cert]), record.serial, binary=False, secret=False)
        if password is None:
            raise InputError("a PKCS#12 needs a password", hint="pass it with --password-stdin")
        key = await self._certs.private_key(record) if with_key else None
        data = await asyncio.to_thread(
            to_pkcs12,
            cert,
            key,
            chain=chain,
            password=password.encode(),
            friendly_name=record.email or record.subject,
            legacy=legacy,
        )
        if with_key:
            async with self._store.begin() as tx:
                await tx.audit.append(
                    actor=actor,
                    action="cert.export-key",
                    target=record.serial,
                    detail="legacy p12" if legacy else "p12",
                )
        return Exported(data, record.serial, binary=True, secret=with_key)
