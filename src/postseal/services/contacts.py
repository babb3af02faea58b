"""Contacts: outside correspondents' certificates and what their mail programs can read.

Harvested from every verified signature (what Outlook does with a signed message's
certificate), or imported by hand. A contact is kept per (address, certificate); the
newest certificate of an address that still validates for encryption is the one used.
Capabilities come from the signer's SMIMECapabilities attribute (RFC 8551 §2.5.2), or from
the administrator (`contact import --capabilities …`); ``None`` means unknown, and
unknown recipients get the profile every peer reads (ADR 0004).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from postseal.errors import InputError, NotFoundError
from postseal.mail.address import parse_address
from postseal.pki import trust as pki_trust
from postseal.pki.validation import Usage, validate
from postseal.services.clock import Clock
from postseal.services.trust import TrustService
from postseal.smime.ciphers import canonical_name
from postseal.smime.results import VerifyResult
from postseal.smime.sign import certificate_addresses
from postseal.store.ports import ContactRecord, Store

__all__ = ["ContactService"]

_MAX_KNOWN = 5000


class ContactService:
    def __init__(self, store: Store, *, trust: TrustService, clock: Clock) -> None:
        self._store = store
        self._trust = trust
        self._clock = clock

    async def list_contacts(self, *, address: str | None = None) -> Sequence[ContactRecord]:
        wanted = str(parse_address(address)) if address else None
        async with self._store.begin(readonly=True) as tx:
            return await tx.contacts.list(address=wanted)

    async def certificates(self) -> list[x509.Certificate]:
        """Every contact certificate (newest first), for verifying messages that do not
        carry their signer's certificate."""
        async with self._store.begin(readonly=True) as tx:
            records = await tx.contacts.list()
        return [x509.load_der_x509_certificate(r.der) for r in records[:_MAX_KNOWN]]

    async def harvest(self, result: VerifyResult) -> list[ContactRecord]:
        """Record the certificate and capabilities of every signer whose signature is good
        and whose chain is trusted; returns what was recorded."""
        recorded = []
        for signer in result.signers:
            if signer.certificate is None or not (
                signer.signature_valid and signer.content_intact and signer.chain.trusted
            ):
                continue
            names = tuple(
                name
                for c in signer.capabilities
                if (name := canonical_name(c.name) or canonical_name(c.oid))
            )
            recorded.extend(
                await self._put(signer.certificate, capabilities=names or None, source="harvested")
            )
        return recorded

    async def import_certificates(
        self, data: bytes, *, capabilities: Sequence[str] | None = None
    ) -> list[ContactRecord]:
        """Import certificates from a PEM/DER file; each must name an email address."""
        names = None
        if capabilities is not None:
            names = tuple(_capability(c) for c in capabilities)
        recorded = []
        for cert in pki_trust.load_certificates(data):
            if not certificate_addresses(cert):
                raise InputError(
                    f"{cert.subject.rfc4514_string()} names no email address; it cannot be a contact"
                )
            recorded.extend(await self._put(cert, capabilities=names, source="imported"))
        return recorded

    async def remove(self, address: str) -> int:
        canonical = str(parse_address(address))
        async with self._store.begin() as tx:
            removed = await tx.contacts.remove(canonical)
        if not removed:
            raise NotFoundError(f"no contact {canonical}", hint="see `postseal contact list`")
        return removed

    async def encryption_certificate(self, address: str) -> x509.Certificate | None:
        """The newest contact certificate of ``address`` valid for encryption now."""
        cert, _ = await self.encryption_certificate_or_reason(address)
        return cert

    async def encryption_certificate_or_reason(
        self, address: str
    ) -> tuple[x509.Certificate | None, str | None]:
        """As :meth:`encryption_certificate`, and when postseal holds certificates for
        ``address`` but none is usable, why the newest one is not (the validation
        service's sentence, naming the fix)."""
        async with self._store.peek() as tx:
            records = await tx.contacts.list(address=address)
            context = await self._trust.context(tx)
        reason = None
        for record in records:
            cert = x509.load_der_x509_certificate(record.der)
            result = validate(cert, context, usage=Usage.SMIME_ENCRYPT)
            if result.valid:
                return cert, None
            reason = reason or result.reason
        return None, reason

    async def capabilities(self, address: str, cert: x509.Certificate) -> tuple[str, ...] | None:
        return (await self.capabilities_of({address: cert})).get(address)

    async def capabilities_of(
        self, certificates: Mapping[str, x509.Certificate]
    ) -> dict[str, tuple[str, ...] | None]:
        """Per address, the capabilities recorded with exactly that certificate (harvested
        or imported), or None when unknown; every address in one transaction."""
        if not certificates:
            return {}
        wanted = {a: c.fingerprint(hashes.SHA256()).hex() for a, c in certificates.items()}
        result: dict[str, tuple[str, ...] | None] = dict.fromkeys(wanted)
        async with self._store.peek() as tx:
            for address, fingerprint in wanted.items():
                for record in await tx.contacts.list(address=address):
                    if record.fingerprint == fingerprint:
                        result[address] = record.capabilities
        return result

    async def _put(
        self, cert: x509.Certificate, *, capabilities: tuple[str, ...] | None, source: str
    ) -> list[ContactRecord]:
        now = self._clock()
        recorded = []
        async with self._store.begin() as tx:
            for raw in certificate_addresses(cert):
                try:
                    address = str(parse_address(raw))
                except InputError:
                    continue
                record = ContactRecord(
                    address=address,
                    fingerprint=cert.fingerprint(hashes.SHA256()).hex(),
                    der=cert.public_bytes(serialization.Encoding.DER),
                    capabilities=capabilities,
                    source=source,
                    not_after=cert.not_valid_after_utc,
                    updated_at=now,
                )
                await tx.contacts.put(record)
                recorded.append(record)
        return recorded


def _capability(text: str) -> str:
    name = canonical_name(text.strip())
    if name is None:
        raise InputError(
            f"unknown capability {text!r}",
            hint="use names such as aes256-gcm, aes128-gcm, aes256-cbc, aes128-cbc, rsaes-oaep",
        )
    return name
