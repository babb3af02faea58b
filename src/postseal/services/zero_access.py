"""Zero-access mailboxes: incoming mail stored encrypted to the owner's own certificate only.

A user's mailbox in zero-access mode (ADR 0020) receives every message as S/MIME
EnvelopedData (RFC 8551 §3.3) for one recipient, the owner, with the protected header
fields inside (RFC 9788: the stored Subject is a placeholder). The certificate is the
owner's own: one whose private key postseal does **not** hold (a key made in the owner's
mail program or on a smart card). Enabling the mode with a certificate whose key postseal
holds is refused, because the server could then read the mail and the mode would promise
what it does not keep. What is stored is then readable only in the owner's own program —
not by postseal's webmail, IMAP SEARCH of bodies, the antivirus, an administrator or
anyone holding the master key. Messages are still sealed at rest like every other.

The queue runner reads the setting with the recipient's INBOX (one lookup per delivery
pass, no transaction of its own) and, for a user in the mode, runs
:meth:`ZeroAccessService.protect` instead of any other delivery transform (server-side
decryption by policy never runs for them):

- the message is already encrypted (enveloped or authEnveloped anywhere on the way in):
  kept byte-exact — re-encrypting would need the server to decrypt it first;
- otherwise encrypted to the owner's certificate (AES-256-CBC with RSA PKCS#1 v1.5 or
  ECDH, which every mail program reads; a signed message stays signed inside, so the
  owner's program verifies it after decrypting);
- the certificate no longer validates (expired, revoked): :class:`TemporaryError`; the
  message waits in the queue (sealed) and the sender hears of it only if it expires there.
  Nothing is ever stored readable in a zero-access mailbox.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from postseal.errors import NotFoundError, PolicyError, TemporaryError
from postseal.mail.address import parse_address
from postseal.mail.fields import field_value
from postseal.pki import trust as pki_trust
from postseal.pki.validation import Usage, ValidationStatus, validate
from postseal.policy import smime_layers
from postseal.services.clock import Clock
from postseal.services.offload import SMIME_INLINE_BYTES, offload
from postseal.services.trust import TrustService
from postseal.smime import encrypt as smime_encrypt
from postseal.smime.sign import certificate_addresses
from postseal.store.ports import Store, Transaction, UserRecord, ZeroAccessRecord

__all__ = ["ZeroAccessService", "ZeroAccessStatus"]

log = logging.getLogger("postseal.zero_access")


@dataclass(frozen=True)
class ZeroAccessStatus:
    """A user's zero-access setting as the CLI shows it."""

    address: str
    enabled: bool
    fingerprint: str | None = None
    subject: str | None = None
    not_after: datetime | None = None
    enabled_at: datetime | None = None
    enabled_by: str | None = None
    certificate_status: str | None = None  # "valid", "expired", "revoked", …

    def as_dict(self) -> dict[str, object]:
        return {
            "address": self.address,
            "zero_access": self.enabled,
            "fingerprint": self.fingerprint,
            "subject": self.subject,
            "not_after": self.not_after.isoformat() if self.not_after else None,
            "enabled_at": self.enabled_at.isoformat() if self.enabled_at else None,
            "enabled_by": self.enabled_by,
            "certificate_status": self.certificate_status,
        }


class ZeroAccessService:
    """Turns the mode on and off per user, and encrypts their incoming mail."""

    def __init__(self, store: Store, trust: TrustService, *, clock: Clock) -> None:
        self._store = store
        self._trust = trust
        self._clock = clock

    async def enable(self, address: str, certificate: bytes, *, actor: str) -> ZeroAccessStatus:
        """Put ``address``'s mailbox in zero-access mode under ``certificate`` (PEM or DER).

        Refused, with nothing changed: a file that holds no certificate, several, or a
        private key (CertificateFormatError); an unknown user (NotFoundError); a
        certificate that names another address, does not validate for encryption now, or
        whose private key postseal holds (PolicyError, saying which and what to do).
        """
        certs = pki_trust.load_certificates(certificate)
        if len(certs) != 1:
            raise PolicyError(
                f"the file holds {len(certs)} certificates; zero-access takes exactly one,"
                " the owner's encryption certificate",
                hint="pass a file with only the owner's certificate (the CA's is in the trust store)",
            )
        cert = certs[0]
        canonical = str(parse_address(address))
        now = self._clock()
        async with self._store.begin() as tx:
            user = await _user(tx, canonical)
            _require_names(cert, canonical)
            verdict = validate(cert, await self._trust.context(tx), usage=Usage.SMIME_ENCRYPT)
            if not verdict.valid:
                hint = (
                    "trust its CA first with `postseal trust add-root`"
                    if verdict.status is ValidationStatus.UNTRUSTED_ROOT
                    else "use a current certificate that allows encryption"
                )
                raise PolicyError(
                    f"cannot use this certificate for {canonical}'s zero-access mailbox:"
                    f" {verdict.reason}",
                    hint=hint,
                )
            await _require_key_not_held(tx, user, cert)
            fingerprint = pki_trust.fingerprint(cert)
            der = cert.public_bytes(serialization.Encoding.DER)
            await tx.zero_access.put(ZeroAccessRecord(user.id, der, fingerprint, now, actor))
            await tx.audit.append(
                actor=actor, action="mailbox.zero-access.on", target=canonical, detail=fingerprint
            )
        log.info("zero-access mode on for %s (certificate %s)", canonical, fingerprint)
        return _status(canonical, ZeroAccessRecord(user.id, der, fingerprint, now, actor), "valid")

    async def disable(self, address: str, *, actor: str) -> bool:
        """Turn the mode off for ``address``: mail from now on is stored as it arrives.
        Messages already stored stay encrypted. Whether the mode was on."""
        canonical = str(parse_address(address))
        async with self._store.begin() as tx:
            user = await _user(tx, canonical)
            was_on = await tx.zero_access.remove(user.id)
            if was_on:
                await tx.audit.append(
                    actor=actor, action="mailbox.zero-access.off", target=canonical
                )
        return was_on

    async def status(self, address: str) -> ZeroAccessStatus:
        """The setting of ``address`` and whether its certificate validates now."""
        canonical = str(parse_address(address))
        async with self._store.peek() as tx:
            user = await _user(tx, canonical)
            record = await tx.zero_access.get(user.id)
            if record is None:
                return ZeroAccessStatus(canonical, enabled=False)
            context = await self._trust.context(tx)
        cert = x509.load_der_x509_certificate(record.certificate)
        verdict = validate(cert, context, usage=Usage.SMIME_ENCRYPT)
        return _status(canonical, record, verdict.status.value)

    async def protect(self, address: str, message: bytes, record: ZeroAccessRecord) -> bytes:
        """``message`` as it is to be stored for ``address``, whose setting is ``record``
        (read by the caller in its delivery lookup): encrypted to the owner's certificate
        alone, or as it arrived when it is encrypted already. TemporaryError, naming the
        certificate's state, when the certificate does not validate now."""
        _, encrypted = smime_layers(field_value(message, "Content-Type") or "text/plain")
        if encrypted:
            return message
        async with self._store.peek() as tx:
            context = await self._trust.context(tx)
        cert = x509.load_der_x509_certificate(record.certificate)
        verdict = validate(cert, context, usage=Usage.SMIME_ENCRYPT)
        canonical = address.lower()
        if not verdict.valid:
            raise TemporaryError(
                f"the zero-access mailbox of {canonical} cannot take mail: its certificate"
                f" {record.fingerprint[:16]} is {verdict.status.value} ({verdict.reason});"
                " the message waits in the queue",
                hint=f"give {canonical} a current certificate with"
                " `postseal mailbox zero-access EMAIL --certificate FILE`",
            )
        recipient = smime_encrypt.Recipient(canonical, cert)
        work = partial(smime_encrypt.encrypt, message, recipients=[recipient])
        result = await offload(len(message), work, above=SMIME_INLINE_BYTES)
        return result.message


async def _user(tx: Transaction, address: str) -> UserRecord:
    user = await tx.users.get(address)
    if user is None:
        raise NotFoundError(f"there is no user {address}", hint="see `postseal user list`")
    return user


def _require_names(cert: x509.Certificate, address: str) -> None:
    named = [a.lower() for a in certificate_addresses(cert)]
    if address not in named:
        shown = ", ".join(named) if named else "no email address"
        raise PolicyError(
            f"the certificate names {shown}, not {address}; a zero-access mailbox takes"
            " only its owner's own certificate",
            hint=f"use a certificate issued to {address}",
        )


async def _require_key_not_held(tx: Transaction, user: UserRecord, cert: x509.Certificate) -> None:
    """PolicyError when postseal holds the private key of ``cert``'s public key."""
    spki = _spki(cert)
    for record in await tx.certificates.list(user_id=user.id):
        if record.wrapped_key is None:
            continue
        if _spki(x509.load_der_x509_certificate(record.der)) == spki:
            raise PolicyError(
                f"postseal holds the private key of this certificate (serial {record.serial});"
                " zero-access needs a key that only the owner holds",
                hint="make a key pair in the owner's mail program or on a smart card and use"
                " its certificate",
            )


def _spki(cert: x509.Certificate) -> bytes:
    return cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _status(address: str, record: ZeroAccessRecord, state: str) -> ZeroAccessStatus:
    cert = x509.load_der_x509_certificate(record.certificate)
    return ZeroAccessStatus(
        address,
        enabled=True,
        fingerprint=record.fingerprint,
        subject=cert.subject.rfc4514_string(),
        not_after=cert.not_valid_after_utc,
        enabled_at=record.enabled_at,
        enabled_by=record.enabled_by,
        certificate_status=state,
    )
