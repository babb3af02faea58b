"""The trust store (the seed's trusted-root and intermediate stores), imported CRLs, and
the validation service that checks a certificate against all of it.

Anchors are postseal's own root plus the roots an administrator added; intermediates are
postseal's own CAs plus added intermediates and cross-certificates; CRLs are postseal's
latest plus the imported ones. Validation itself is the pure
:func:`postseal.pki.validation.validate`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from postseal.errors import ConflictError, InputError, NotFoundError
from postseal.pki import trust as pki_trust
from postseal.pki.validation import Usage, ValidationContext, ValidationResult, validate
from postseal.services import pki_state
from postseal.services.certificates import CA_ROLES
from postseal.services.clock import Clock
from postseal.store.ports import ImportedCrlRecord, Store, Transaction, TrustKind, TrustRecord

__all__ = ["VERDICT_SECONDS", "TrustService", "TrustedCertificate"]

_MAX_FILE = 4 << 20
#: How long a valid verdict on a certificate is reused while the PKI state is unchanged.
VERDICT_SECONDS = 60
_MAX_VERDICTS = 4096


@dataclass(frozen=True, slots=True)
class TrustedCertificate:
    record: TrustRecord
    certificate: x509.Certificate


class TrustService:
    def __init__(self, store: Store, *, clock: Clock, fail_open: bool = False) -> None:
        self._store = store
        self._clock = clock
        self._fail_open = fail_open
        self._snapshot: _Snapshot | None = None

    async def add(
        self, data: bytes, *, kind: Literal["root", "intermediate", "cross"], actor: str
    ) -> list[TrustRecord]:
        """Add every certificate in ``data`` (PEM bundle or DER) as ``kind``; all or nothing."""
        if len(data) > _MAX_FILE:
            raise InputError("the file is larger than 4 MiB; a trust file holds a few certificates")
        certs = pki_trust.load_certificates(data)
        for cert in certs:
            pki_trust.classify_for_trust(cert, kind)
        added: list[TrustRecord] = []
        async with self._store.begin() as tx:
            for cert in certs:
                fingerprint = pki_trust.fingerprint(cert)
                if await tx.trust.get(fingerprint) is not None:
                    raise ConflictError(
                        f"{cert.subject.rfc4514_string()} is already in the trust store "
                        f"(fingerprint {fingerprint[:16]}…)"
                    )
                record = TrustRecord(
                    fingerprint=fingerprint,
                    kind=TrustKind(kind),
                    subject=cert.subject.rfc4514_string(),
                    der=cert.public_bytes(serialization.Encoding.DER),
                    added_at=self._clock(),
                )
                await tx.trust.add(record)
                await pki_state.mark_changed(tx)
                await tx.audit.append(
                    actor=actor,
                    action=f"trust.add-{kind}",
                    target=fingerprint,
                    detail=record.subject,
                )
                added.append(record)
        return added

    async def entries(self) -> Sequence[TrustRecord]:
        async with self._store.begin(readonly=True) as tx:
            return await tx.trust.list()

    async def remove(self, fingerprint: str, *, actor: str) -> TrustRecord:
        """Remove by full fingerprint or a unique prefix of at least 8 hex digits."""
        wanted = fingerprint.strip().lower().replace(":", "")
        async with self._store.begin() as tx:
            matches = [r for r in await tx.trust.list() if r.fingerprint.startswith(wanted)]
            if len(wanted) < 8 or not matches:
                raise NotFoundError(
                    f"no trust-store entry with fingerprint {fingerprint!r}",
                    hint="see `postseal trust list` (at least 8 hex digits)",
                )
            if len(matches) > 1:
                raise ConflictError(
                    f"{fingerprint!r} matches {len(matches)} entries; give more digits"
                )
            await tx.trust.remove(matches[0].fingerprint)
            await pki_state.mark_changed(tx)
            await tx.audit.append(
                actor=actor,
                action="trust.remove",
                target=matches[0].fingerprint,
                detail=matches[0].subject,
            )
        return matches[0]

    async def import_crl(self, data: bytes, *, actor: str) -> ImportedCrlRecord:
        """Import a CRL fetched by hand (the seed's "CRL not reachable" fix). Its signature
        must verify with a CA certificate the trust store knows; an older CRL than the one
        held is refused."""
        if len(data) > 64 << 20:
            raise InputError("the CRL is larger than 64 MiB")
        crl = pki_trust.load_crl(data)
        async with self._store.begin() as tx:
            issuers = [c for c in await self._known_cas(tx) if c.subject == crl.issuer]
            if not any(_signed_by(crl, c) for c in issuers):
                raise InputError(
                    f"the CRL of {crl.issuer.rfc4514_string()} is not signed by any CA postseal "
                    "knows",
                    hint="add its CA first with `postseal trust add-root` or `add-intermediate`",
                )
            number_ext = _crl_number(crl)
            issuer = crl.issuer.rfc4514_string()
            held = await tx.imported_crls.get(issuer)
            if (
                held is not None
                and held.number is not None
                and number_ext is not None
                and number_ext < held.number
            ):
                raise ConflictError(
                    f"the CRL is older (number {number_ext}) than the one held (number {held.number})"
                )
            record = ImportedCrlRecord(
                issuer=issuer,
                number=number_ext,
                this_update=crl.last_update_utc,
                next_update=crl.next_update_utc,
                der=crl.public_bytes(serialization.Encoding.DER),
            )
            await tx.imported_crls.put(record)
            await pki_state.mark_changed(tx)
            await tx.audit.append(
                actor=actor, action="crl.import", target=issuer, detail=f"number={number_ext}"
            )
        return record

    async def validate(
        self,
        cert: x509.Certificate,
        *,
        usage: Usage,
        carried: Sequence[x509.Certificate] = (),
    ) -> ValidationResult:
        async with self._store.peek() as tx:
            context = await self.context(tx)
        return validate(cert, context, usage=usage, carried=carried)

    async def context(self, tx: Transaction) -> ValidationContext:
        """What validation at this moment depends on, read in ``tx``: postseal's CAs and
        their latest CRLs, the trust store, imported CRLs. The parsed certificates and
        CRLs are kept while the PKI state token (:mod:`~postseal.services.pki_state`)
        stays the same: one read of ``meta`` instead of about ten, and no re-parsing."""
        state = await pki_state.current(tx)
        cached = self._snapshot
        if cached is None or cached.state != state:
            cached = _Snapshot(state, *await self._load(tx))
            self._snapshot = cached
        return ValidationContext(
            anchors=cached.anchors,
            intermediates=cached.intermediates,
            crls=cached.crls,
            now=self._clock(),
            fail_open=self._fail_open,
        )

    def judge(
        self, cert: x509.Certificate, context: ValidationContext, usage: Usage
    ) -> ValidationResult:
        """:func:`~postseal.pki.validation.validate`, remembered for a valid result while
        the PKI state is the one ``context`` was built from (from :meth:`context`), for at
        most :data:`VERDICT_SECONDS` and never past the certificate's notAfter — the path
        search and CRL checks run once a minute per certificate instead of per message.
        Failures are never remembered: they are judged afresh, with their reason."""
        snapshot = self._snapshot
        if snapshot is None or context.anchors is not snapshot.anchors:
            return validate(cert, context, usage=usage)
        key = (cert.fingerprint(hashes.SHA256()), usage)
        now = context.now
        remembered = snapshot.verdicts.get(key)
        if remembered is not None and remembered[1] <= now < remembered[2]:
            return remembered[0]
        verdict = validate(cert, context, usage=usage)
        if verdict.valid:
            until = min(now + timedelta(seconds=VERDICT_SECONDS), cert.not_valid_after_utc)
            if len(snapshot.verdicts) >= _MAX_VERDICTS:
                snapshot.verdicts.clear()
            snapshot.verdicts[key] = (verdict, now, until)
        return verdict

    async def _load(
        self, tx: Transaction
    ) -> tuple[
        tuple[x509.Certificate, ...],
        tuple[x509.Certificate, ...],
        tuple[x509.CertificateRevocationList, ...],
    ]:
        anchors: list[x509.Certificate] = []
        intermediates: list[x509.Certificate] = []
        crls: list[x509.CertificateRevocationList] = []
        for role in CA_ROLES:
            ca = await tx.certificates.current_ca(role)
            if ca is None:
                continue
            cert = x509.load_der_x509_certificate(ca.der)
            (anchors if cert.subject == cert.issuer else intermediates).append(cert)
            latest = await tx.crls.latest(ca.serial)
            if latest is not None:
                crls.append(x509.load_der_x509_crl(latest.der))
        for entry in await tx.trust.list():
            cert = x509.load_der_x509_certificate(entry.der)
            (anchors if entry.kind is TrustKind.ROOT else intermediates).append(cert)
        for imported in await tx.imported_crls.list():
            crls.append(x509.load_der_x509_crl(imported.der))
        return tuple(anchors), tuple(intermediates), tuple(crls)

    async def _known_cas(self, tx: Transaction) -> list[x509.Certificate]:
        context = await self.context(tx)
        return [*context.anchors, *context.intermediates]


@dataclass(frozen=True, slots=True)
class _Snapshot:
    """The parsed trust context as of one PKI state token."""

    state: str | None
    anchors: tuple[x509.Certificate, ...]
    intermediates: tuple[x509.Certificate, ...]
    crls: tuple[x509.CertificateRevocationList, ...]
    # (certificate SHA-256, usage) -> (valid verdict, judged at, good until)
    verdicts: dict[tuple[bytes, Usage], tuple[ValidationResult, datetime, datetime]] = field(
        default_factory=dict
    )


def _crl_number(crl: x509.CertificateRevocationList) -> int | None:
    try:
        return int(crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number)
    except x509.ExtensionNotFound:
        return None


def _signed_by(crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> bool:
    key = issuer.public_key()
    if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey):
        return False
    return crl.is_signature_valid(key)
