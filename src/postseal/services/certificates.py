"""The certificate authority as a use case: issue, renew, revoke, publish CRLs, export.

Key generation and signing are CPU-bound and run in a worker thread; every change to the
store happens in one transaction together with its audit record and, for revocations,
the CRL that announces it — a revocation is never stored without its CRL.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from postseal.custody import MasterKey
from postseal.errors import ConflictError, InputError, NotFoundError
from postseal.mail.address import parse_address
from postseal.pki import authority, crl
from postseal.pki.keys import CaKey, KeyType, PrivateKey, generate_key, parse_key_type
from postseal.pki.templates import TemplateProfile
from postseal.services import pki_state
from postseal.services.clock import Clock
from postseal.store.ports import (
    CertificateRecord,
    CertificateRole,
    CrlRecord,
    Store,
    TemplateRecord,
    Transaction,
    UserRecord,
)

__all__ = [
    "CA_ROLES",
    "CertificateService",
    "IssuedCertificate",
    "new_serial",
    "normalise_serial",
    "record_for",
    "to_profile",
]

CA_ROLES = (CertificateRole.ROOT, CertificateRole.ISSUING, CertificateRole.SERVICE_ISSUING)
_MAX_SUPERSEDE_CHAIN = 16
_KEY_CACHE = 256


def new_serial() -> int:
    """A positive 127-bit serial: 126 bits from the CSPRNG (BR §7.1 wants at least 64)."""
    return secrets.randbits(126) | (1 << 126)


def normalise_serial(text: str) -> str:
    """Accept ``0A:1B…``, ``0a1b…`` or ``0x0A1B``; return upper-case hex without zeros in front."""
    cleaned = text.strip().removeprefix("0x").removeprefix("0X").replace(":", "").upper()
    if not cleaned or len(cleaned) > 64 or any(c not in "0123456789ABCDEF" for c in cleaned):
        raise InputError(f"{text!r} is not a certificate serial number (hexadecimal expected)")
    return cleaned.lstrip("0") or "0"


def to_profile(record: TemplateRecord) -> TemplateProfile:
    return TemplateProfile(
        record.name,
        record.description,
        record.ekus,
        record.key_type,
        record.validity_days,
        record.renewal_days,
        record.superseded_by,
    )


def record_for(
    cert: x509.Certificate,
    role: CertificateRole,
    *,
    wrapped_key: bytes | None,
    issuer_serial: str | None,
    user: UserRecord | None = None,
    template: str | None = None,
) -> CertificateRecord:
    der = cert.public_bytes(serialization.Encoding.DER)
    return CertificateRecord(
        serial=format(cert.serial_number, "X"),
        role=role,
        subject=cert.subject.rfc4514_string(),
        email=user.address if user else None,
        user_id=user.id if user else None,
        template=template,
        issuer_serial=issuer_serial,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        fingerprint=cert.fingerprint(hashes.SHA256()).hex(),
        der=der,
        wrapped_key=wrapped_key,
    )


@dataclass(frozen=True, slots=True)
class IssuedCertificate:
    record: CertificateRecord
    certificate: x509.Certificate


class CertificateService:
    """Issues and manages certificates with the keys held under the master key."""

    def __init__(
        self, store: Store, master: MasterKey, *, clock: Clock, crl_validity_days: int = 7
    ) -> None:
        self._store = store
        self._master = master
        self._clock = clock
        self._crl_days = crl_validity_days
        self._keys: OrderedDict[str, tuple[bytes, PrivateKey]] = OrderedDict()
        self._cas: tuple[str | None, dict[CertificateRole, x509.Certificate]] | None = None

    # -- reading ---------------------------------------------------------------------

    async def get(self, serial: str) -> CertificateRecord:
        wanted = normalise_serial(serial)
        async with self._store.peek() as tx:
            record = await tx.certificates.get(wanted)
        if record is None:
            raise NotFoundError(
                f"no certificate with serial {wanted}", hint="list them with `postseal cert list`"
            )
        return record

    async def list_certificates(self, *, address: str | None = None) -> Sequence[CertificateRecord]:
        async with self._store.begin(readonly=True) as tx:
            if address is None:
                return await tx.certificates.list()
            user = await _require_user(tx, address)
            return await tx.certificates.list(user_id=user.id)

    async def ca_certificates(self) -> dict[CertificateRole, x509.Certificate]:
        """postseal's current CA certificates by role (the chain every signature carries);
        parsed once per PKI state token (:mod:`~postseal.services.pki_state`)."""
        async with self._store.peek() as tx:
            state = await pki_state.current(tx)
            if self._cas is not None and self._cas[0] == state:
                return dict(self._cas[1])
            result = {}
            for role in (*CA_ROLES, CertificateRole.TLS):
                record = await tx.certificates.current_ca(role)
                if record is not None:
                    result[role] = x509.load_der_x509_certificate(record.der)
        self._cas = (state, dict(result))
        return result

    async def latest_crl(self, role: CertificateRole) -> CrlRecord | None:
        async with self._store.peek() as tx:
            ca = await tx.certificates.current_ca(role)
            return None if ca is None else await tx.crls.latest(ca.serial)

    async def current_for(self, address: str) -> CertificateRecord:
        """The user's newest certificate that is neither revoked nor expired; NotFoundError
        naming the fix otherwise."""
        now = self._clock()
        async with self._store.peek() as tx:
            user = await _require_user(tx, address)
            for record in await tx.certificates.list(user_id=user.id):
                if record.revoked_at is None and record.not_before <= now < record.not_after:
                    return record
        raise NotFoundError(
            f"{user.address} has no valid certificate",
            hint=f"issue one with `postseal cert issue {user.address}`",
        )

    async def private_key(self, record: CertificateRecord) -> PrivateKey:
        """The certificate's private key, unwrapped. Loading an RSA key re-checks it (about
        a millisecond), so the most recently used keys stay loaded — in this process only,
        never written anywhere — up to ``_KEY_CACHE`` of them."""
        if record.wrapped_key is None:
            raise NotFoundError(f"postseal holds no private key for certificate {record.serial}")
        cached = self._keys.get(record.serial)
        if cached is not None and cached[0] == record.wrapped_key:
            self._keys.move_to_end(record.serial)
            return cached[1]
        key = self._master.unwrap_private_key(record.wrapped_key, label=record.serial)
        self._keys[record.serial] = (record.wrapped_key, key)
        if len(self._keys) > _KEY_CACHE:
            self._keys.popitem(last=False)
        return key

    # -- issuing ---------------------------------------------------------------------

    async def issue(
        self, address: str, *, template: str | None = None, actor: str
    ) -> IssuedCertificate:
        """Issue and publish a certificate for a directory user under ``template`` (default:
        the user's own). A superseded template named explicitly is refused."""
        async with self._store.begin() as tx:
            user = await _require_user(tx, address)
            chosen = await self._template(
                tx, template or user.template, explicit=template is not None
            )
        key = await asyncio.to_thread(generate_key, _key_type(chosen.key_type))
        async with self._store.begin() as tx:
            user = await _require_user(tx, user.address)
            issued = await self._issue_in(tx, user, chosen, key)
            await tx.audit.append(
                actor=actor,
                action="cert.issue",
                target=issued.record.serial,
                detail=f"{user.address} template={chosen.name}",
            )
        return issued

    async def renew(self, serial: str, *, actor: str) -> IssuedCertificate:
        """A new certificate (new key) for the same user under the current template; the
        old one stays valid until it expires, so mail encrypted to it stays readable."""
        old = await self.get(serial)
        if old.role is not CertificateRole.USER or old.user_id is None:
            raise ConflictError(
                f"certificate {old.serial} is not a user certificate; only those renew"
            )
        if old.revoked_at is not None:
            raise ConflictError(
                f"certificate {old.serial} is revoked; issue a new one with `postseal cert issue`"
            )
        if old.superseded_by is not None:
            raise ConflictError(
                f"certificate {old.serial} was already renewed by {old.superseded_by}",
                hint=f"renew {old.superseded_by} instead",
            )
        async with self._store.begin() as tx:
            user = await tx.users.get_by_id(old.user_id)
            if user is None:
                raise NotFoundError(
                    f"the owner of certificate {old.serial} is no longer in the directory"
                )
            chosen = await self.effective_template(tx, user.template)
        key = await asyncio.to_thread(generate_key, _key_type(chosen.key_type))
        async with self._store.begin() as tx:
            issued = await self._issue_in(tx, user, chosen, key)
            await tx.certificates.set_superseded(old.serial, issued.record.serial)
            await tx.audit.append(
                actor=actor,
                action="cert.renew",
                target=old.serial,
                detail=f"by {issued.record.serial}",
            )
        return issued

    async def issue_prepared(
        self, tx: Transaction, user: UserRecord, template: TemplateProfile, key: CaKey
    ) -> IssuedCertificate:
        """Issue inside the caller's transaction with a key it generated (enrollment)."""
        return await self._issue_in(tx, user, template, key)

    async def _issue_in(
        self, tx: Transaction, user: UserRecord, template: TemplateProfile, key: CaKey
    ) -> IssuedCertificate:
        if not user.enabled:
            raise ConflictError(f"{user.address} is disabled; enable the user before issuing")
        issuer_record, issuer, issuer_key = await self._ca(tx, CertificateRole.ISSUING)
        urls = await _urls(tx)
        cert = await asyncio.to_thread(
            authority.build_user_certificate,
            key.public_key(),
            email=user.address,
            template=template,
            issuer=issuer,
            issuer_key=issuer_key,
            urls=urls,
            now=self._clock(),
            serial=new_serial(),
        )
        serial_hex = format(cert.serial_number, "X")
        record = record_for(
            cert,
            CertificateRole.USER,
            wrapped_key=self._master.wrap_private_key(key, label=serial_hex, nonce=os.urandom(12)),
            issuer_serial=issuer_record.serial,
            user=user,
            template=template.name,
        )
        await tx.certificates.add(record)
        await tx.directory.publish(user.id, record.der)
        return IssuedCertificate(record, cert)

    async def effective_template(self, tx: Transaction, name: str) -> TemplateProfile:
        """Follow ``superseded_by`` links to the template now in force."""
        seen: list[str] = []
        current = await self._template(tx, name, explicit=False)
        while current.superseded_by is not None:
            if current.name in seen or len(seen) > _MAX_SUPERSEDE_CHAIN:
                raise ConflictError(f"templates supersede each other in a loop: {' → '.join(seen)}")
            seen.append(current.name)
            current = await self._template(tx, current.superseded_by, explicit=False)
        return current

    async def _template(self, tx: Transaction, name: str, *, explicit: bool) -> TemplateProfile:
        record = await tx.templates.get(name)
        if record is None:
            names = ", ".join(t.name for t in await tx.templates.list())
            raise NotFoundError(f"unknown template {name!r}", hint=f"templates: {names}")
        if explicit and record.superseded_by:
            raise ConflictError(
                f"template {name!r} is superseded by {record.superseded_by!r}",
                hint=f"issue with --template {record.superseded_by!r}",
            )
        return to_profile(record)

    async def _ca(
        self, tx: Transaction, role: CertificateRole
    ) -> tuple[CertificateRecord, x509.Certificate, CaKey]:
        record = await tx.certificates.current_ca(role)
        if record is None or record.wrapped_key is None:
            revoked = [r for r in await tx.certificates.list(role=role) if r.revoked_at is not None]
            if revoked:
                raise ConflictError(
                    f"the {role.value} CA was revoked on {revoked[0].revoked_at:%Y-%m-%d} "
                    f"({revoked[0].revocation_reason}); postseal issues nothing under a revoked CA",
                    hint="a new issuing CA needs a new organisation in a new --data-dir; restore a backup if the revocation was a mistake",
                )
            raise NotFoundError(f"the {role.value} CA is missing", hint="run `postseal init` first")
        key = self._master.unwrap_private_key(record.wrapped_key, label=record.serial)
        if not isinstance(key, _CA_KEY_TYPES):
            raise ConflictError(f"the {role.value} CA key has an unsupported type")
        return record, x509.load_der_x509_certificate(record.der), key

    # -- revocation ------------------------------------------------------------------

    async def revoke(
        self, serial: str, *, reason: str, actor: str, allow_ca: bool = False
    ) -> CertificateRecord:
        """Revoke, withdraw it from the directory, and re-issue the issuer's CRL — atomically.

        Revoking one of postseal's own CAs stops all issuance under it for good, so it is
        refused unless ``allow_ca``."""
        reason_name = crl.parse_reason(reason)
        wanted = normalise_serial(serial)
        async with self._store.begin() as tx:
            record = await tx.certificates.get(wanted)
            if record is None:
                raise NotFoundError(f"no certificate with serial {wanted}")
            if record.role is CertificateRole.ROOT:
                raise ConflictError(
                    "the root CA cannot revoke itself; retire the whole PKI instead"
                )
            if record.role in CA_ROLES and not allow_ca:
                raise ConflictError(
                    f"{record.serial} is postseal's {record.role.value} CA: revoking it stops "
                    "all issuance under it for good",
                    hint="add --force if that is what you mean",
                )
            await tx.certificates.revoke(record.serial, at=self._clock(), reason=reason_name)
            if record.role in CA_ROLES:
                await pki_state.mark_changed(tx)
            if record.user_id is not None:
                entry = await tx.directory.get(record.user_id)
                if record.der in (entry.user_certificate, entry.user_smime_certificate):
                    await tx.directory.publish(record.user_id, None)
            if record.issuer_serial is not None:
                await self._publish_crl_for(tx, record.issuer_serial)
            await tx.audit.append(
                actor=actor, action="cert.revoke", target=record.serial, detail=reason_name
            )
            updated = await tx.certificates.get(record.serial)
        assert updated is not None
        return updated

    async def revoke_all_for(self, tx: Transaction, user: UserRecord, *, reason: str) -> list[str]:
        """Revoke every unrevoked certificate of ``user`` inside ``tx``; re-issue CRLs."""
        revoked: list[str] = []
        issuers: set[str] = set()
        for record in await tx.certificates.list(user_id=user.id):
            if record.revoked_at is None:
                await tx.certificates.revoke(record.serial, at=self._clock(), reason=reason)
                revoked.append(record.serial)
                if record.issuer_serial:
                    issuers.add(record.issuer_serial)
        for issuer_serial in sorted(issuers):
            await self._publish_crl_for(tx, issuer_serial)
        return revoked

    async def publish_crls(self, *, actor: str) -> list[CrlRecord]:
        """Issue a fresh CRL for every CA (root, S/MIME issuing, service)."""
        async with self._store.begin() as tx:
            published = []
            for role in CA_ROLES:
                ca = await tx.certificates.current_ca(role)
                if ca is not None:
                    published.append(await self._publish_crl_for(tx, ca.serial))
            await tx.audit.append(actor=actor, action="crl.publish", target="all", detail="")
        return published

    async def publish_crl_in(self, tx: Transaction, issuer_serial: str) -> CrlRecord:
        return await self._publish_crl_for(tx, issuer_serial)

    async def _publish_crl_for(self, tx: Transaction, issuer_serial: str) -> CrlRecord:
        issuer_record = await tx.certificates.get(issuer_serial)
        if issuer_record is None or issuer_record.wrapped_key is None:
            raise NotFoundError(f"no CA with serial {issuer_serial}")
        key = self._master.unwrap_private_key(issuer_record.wrapped_key, label=issuer_record.serial)
        if not isinstance(key, _CA_KEY_TYPES):
            raise ConflictError("the CA key has an unsupported type")
        previous = await tx.crls.latest(issuer_serial)
        entries = [
            crl.RevokedEntry(int(r.serial, 16), r.revoked_at, r.revocation_reason or "unspecified")
            for r in await tx.certificates.revoked_by(issuer_serial)
            if r.revoked_at is not None
        ]
        now = self._clock()
        issued = await asyncio.to_thread(
            crl.build_crl,
            x509.load_der_x509_certificate(issuer_record.der),
            key,
            number=(previous.number + 1) if previous else 1,
            entries=entries,
            this_update=now,
            validity_days=self._crl_days,
        )
        record = CrlRecord(
            issuer_serial=issuer_serial,
            number=(previous.number + 1) if previous else 1,
            this_update=issued.last_update_utc,
            next_update=issued.next_update_utc or now,
            der=issued.public_bytes(serialization.Encoding.DER),
        )
        await tx.crls.add(record)
        await pki_state.mark_changed(tx)
        return record


_CA_KEY_TYPES = (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)


def _key_type(text: str) -> KeyType:
    return parse_key_type(text)


async def _require_user(tx: Transaction, address: str) -> UserRecord:
    canonical = str(parse_address(address))
    user = await tx.users.get(canonical)
    if user is None:
        raise NotFoundError(
            f"no user {canonical} in the directory", hint="add one with `postseal user add`"
        )
    return user


async def _urls(tx: Transaction) -> authority.PkiUrls:
    base = await tx.meta.get("pki_url")
    if base is None:
        raise NotFoundError("the PKI URL is not set", hint="run `postseal init` first")
    return authority.PkiUrls(base)
