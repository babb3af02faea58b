"""``postseal init``: a new organisation in one transaction.

Creates the organisation facts, the default templates, the two-tier PKI (root, S/MIME
issuing CA, service CA for TLS), a TLS certificate for the host name, the first CRLs and
the first administrator with a generated password and an Administrator certificate.
Either all of it is stored or none of it (the caller removes a master key it created
when this fails).
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from postseal.custody import MasterKey
from postseal.errors import ConflictError, InputError
from postseal.mail.address import parse_address
from postseal.pki import authority
from postseal.pki.keys import CaKey, KeyType, generate_key
from postseal.pki.templates import default_templates
from postseal.services import pki_state
from postseal.services.certificates import CertificateService, new_serial, record_for
from postseal.services.clock import Clock
from postseal.services.passwords import PasswordService, generate_password
from postseal.store.ports import CertificateRole, NewUser, Store, TemplateRecord, Transaction

__all__ = ["InitRequest", "InitResult", "SetupService", "check_request"]

_HOSTNAME_LABEL = "abcdefghijklmnopqrstuvwxyz0123456789-"


@dataclass(frozen=True, slots=True)
class InitRequest:
    org: str
    domain: str
    hostname: str
    pki_url: str
    key_type: KeyType
    admin_local_part: str = "admin"


@dataclass(frozen=True, slots=True)
class InitResult:
    admin_address: str
    admin_password: str
    root_fingerprint: str
    pki_url: str


def _check_hostname(hostname: str) -> str:
    host = hostname.strip().lower().rstrip(".")
    labels = host.split(".")
    if (
        not host
        or len(host) > 253
        or not all(0 < len(label) <= 63 and set(label) <= set(_HOSTNAME_LABEL) for label in labels)
    ):
        raise InputError(f"{hostname!r} is not a valid host name")
    return host


def check_request(request: InitRequest) -> None:
    """Validate everything ``init`` was given before anything is written (InputError)."""
    parse_address(f"{request.admin_local_part}@{request.domain}")
    _check_hostname(request.hostname)
    authority.PkiUrls(request.pki_url)
    authority.check_org(request.org)


class SetupService:
    def __init__(
        self, store: Store, master: MasterKey, *, clock: Clock, passwords: PasswordService
    ) -> None:
        self._store = store
        self._master = master
        self._clock = clock
        self._passwords = passwords

    async def initialise(self, request: InitRequest) -> InitResult:
        check_request(request)
        domain = parse_address(f"{request.admin_local_part}@{request.domain}")
        hostname = _check_hostname(request.hostname)
        urls = authority.PkiUrls(request.pki_url)
        org = request.org.strip()
        admin_password = generate_password()
        password_hash = await self._passwords.hash(admin_password)
        keys = await asyncio.gather(
            *(asyncio.to_thread(generate_key, request.key_type) for _ in range(4))
        )
        root_key, issuing_key, service_key, tls_key = keys
        now = self._clock()
        templates = default_templates(request.key_type)
        root = authority.build_root(root_key, org=org, now=now, serial=new_serial())
        issuing = authority.build_issuing_ca(
            issuing_key,
            org=org,
            ekus=tuple(oid for t in templates for oid in t.ekus),
            root=root,
            root_key=root_key,
            urls=urls,
            now=now,
            serial=new_serial(),
        )
        service = authority.build_service_ca(
            service_key,
            org=org,
            root=root,
            root_key=root_key,
            urls=urls,
            now=now,
            serial=new_serial(),
        )
        tls = authority.build_tls_certificate(
            tls_key.public_key(),
            hostname=hostname,
            issuer=service,
            issuer_key=service_key,
            urls=urls,
            now=now,
            serial=new_serial(),
        )
        async with self._store.begin() as tx:
            if await tx.meta.get("org") is not None:
                raise ConflictError(
                    "this data directory is already initialised; nothing was changed",
                    hint="use another --data-dir for a new organisation",
                )
            for name, value in {
                "org": org,
                "domain": domain.domain,
                "hostname": hostname,
                "pki_url": urls.base,
                "key_type": request.key_type,
                "master_key_check": self._master.check_value(os.urandom(12)).hex(),
                "initialised_at": now.isoformat(),
            }.items():
                await tx.meta.set(name, value)
            for template in templates:
                await tx.templates.put(
                    TemplateRecord(
                        template.name,
                        template.description,
                        template.ekus,
                        template.key_type,
                        template.validity_days,
                        template.renewal_days,
                    )
                )
            root_serial = await self._store_ca(tx, root, root_key, CertificateRole.ROOT, None)
            for cert, key, role in (
                (issuing, issuing_key, CertificateRole.ISSUING),
                (service, service_key, CertificateRole.SERVICE_ISSUING),
            ):
                await self._store_ca(tx, cert, key, role, root_serial)
            await self._store_ca(
                tx, tls, tls_key, CertificateRole.TLS, format(service.serial_number, "X")
            )
            certificates = CertificateService(self._store, self._master, clock=self._clock)
            for ca in (root, issuing, service):
                await certificates.publish_crl_in(tx, format(ca.serial_number, "X"))
            admin = await tx.users.add(
                NewUser(
                    address=str(domain),
                    display_name=f"{org} administrator",
                    template="Administrator",
                    password_hash=password_hash,
                )
            )
            template = await certificates.effective_template(tx, "Administrator")
            await certificates.issue_prepared(
                tx, admin, template, await asyncio.to_thread(generate_key, request.key_type)
            )
            await tx.audit.append(
                actor="init", action="init", target=org, detail=f"domain={domain.domain}"
            )
        return InitResult(
            admin_address=str(domain),
            admin_password=admin_password,
            root_fingerprint=root.fingerprint(hashes.SHA256()).hex(),
            pki_url=urls.base,
        )

    async def _store_ca(
        self,
        tx: Transaction,
        cert: x509.Certificate,
        key: CaKey,
        role: CertificateRole,
        issuer_serial: str | None,
    ) -> str:
        serial = format(cert.serial_number, "X")
        await tx.certificates.add(
            record_for(
                cert,
                role,
                wrapped_key=self._master.wrap_private_key(key, label=serial, nonce=os.urandom(12)),
                issuer_serial=issuer_serial,
            )
        )
        await pki_state.mark_changed(tx)
        return serial
