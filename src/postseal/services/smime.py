"""S/MIME as a use case: sign as a user, verify, encrypt to users and contacts, decrypt.

The pure engine is :mod:`postseal.smime`; this module brings the keys held under the
master key, the directory, the trust store and the harvested contacts to it, and runs the
CPU-bound work on the event loop for messages up to 64 KB, in a worker thread above
(:mod:`postseal.services.offload`).

- **sign** with the sender's current certificate; no valid certificate is a PolicyError
  naming the address and the fix (the seed's "no digital ID" error), nothing produced.
- **encrypt** to every recipient's valid certificate (directory users first, then
  harvested contacts) and to the sender (to read their Sent folder); a recipient without
  one is a PolicyError naming every such recipient, nothing produced.
- **verify** with the validation service; a signer whose signature checks out is
  harvested as a contact with its SMIMECapabilities.
- **decrypt** with whichever of the user's keys the message is addressed to (old,
  renewed certificates included), then verify a signed inner entity.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa, x25519

from postseal.errors import NotFoundError, PolicyError
from postseal.mail.address import parse_address
from postseal.pki.validation import Usage, ValidationContext, validate
from postseal.services.certificates import CertificateService
from postseal.services.clock import Clock
from postseal.services.contacts import ContactService
from postseal.services.directory import DirectoryService
from postseal.services.offload import SMIME_INLINE_BYTES, offload
from postseal.services.trust import TrustService
from postseal.smime import decrypt as smime_decrypt
from postseal.smime import encrypt as smime_encrypt
from postseal.smime import headers as smime_headers
from postseal.smime import sign_encrypt as smime_sign_encrypt
from postseal.smime.results import ChainOutcome, ChainValidator, VerifyResult
from postseal.smime.sign import sign as smime_sign
from postseal.smime.verify import verify as smime_verify
from postseal.store.ports import CertificateRole, Store

__all__ = ["DecryptOutcome", "SmimeService"]


@dataclass(frozen=True, slots=True)
class DecryptOutcome:
    result: smime_decrypt.DecryptResult
    inner: VerifyResult | None  # the inner signature's verification, when signed


def chain_validator(context: ValidationContext) -> ChainValidator:
    """Adapt the PKI validation service to the S/MIME engine's ChainValidator."""

    def judge(
        leaf: x509.Certificate, carried: Sequence[x509.Certificate], at: datetime
    ) -> ChainOutcome:
        try:
            result = validate(
                leaf, dataclasses.replace(context, now=at), usage=Usage.SMIME_SIGN, carried=carried
            )
        except (ValueError, TypeError) as exc:  # a hostile certificate must not crash verification
            return ChainOutcome(
                False, "bad-signature", f"the signer's certificate cannot be checked: {exc}"
            )
        return ChainOutcome(
            result.valid,
            result.status.value,
            result.reason,
            result.revoked_at,
            result.revocation_reason,
        )

    return judge


class SmimeService:
    def __init__(
        self,
        store: Store,
        *,
        certificates: CertificateService,
        trust: TrustService,
        directory: DirectoryService,
        contacts: ContactService,
        clock: Clock,
        accept_weak: bool = False,
    ) -> None:
        self._store = store
        self._certs = certificates
        self._trust = trust
        self._directory = directory
        self._contacts = contacts
        self._clock = clock
        self._accept_weak = accept_weak

    async def sign(self, content: bytes, *, as_address: str, opaque: bool = False) -> bytes:
        address = str(parse_address(as_address))
        try:
            record = await self._certs.current_for(address)
        except NotFoundError:
            raise PolicyError(
                f"cannot sign as {address}: no valid signing certificate (no digital ID)",
                hint=f"issue one with `postseal cert issue {address}`, or send unsigned",
            ) from None
        key = await self._certs.private_key(record)
        cert = x509.load_der_x509_certificate(record.der)
        cas = await self._certs.ca_certificates()
        chain = [cas[CertificateRole.ISSUING]] if CertificateRole.ISSUING in cas else []
        work = partial(
            smime_sign,
            content,
            signer_cert=cert,
            signer_key=key,
            chain=chain,
            signing_time=self._clock(),
            opaque=opaque,
        )
        return await offload(len(content), work, above=SMIME_INLINE_BYTES)

    async def verify(
        self,
        message: bytes,
        *,
        from_address: str | None = None,
        at: datetime | None = None,
        harvest: bool = True,
    ) -> VerifyResult:
        async with self._store.peek() as tx:
            context = await self._trust.context(tx)
        known = await self._contacts.certificates()
        result = await _offload(
            message,
            smime_verify,
            message,
            validate_chain=chain_validator(context),
            now=at or self._clock(),
            accept_weak=self._accept_weak,
            from_address=from_address,
            extra_certs=known,
        )
        if harvest:
            await self._contacts.harvest(result)
        return result

    async def lookup(
        self, addresses: Sequence[str]
    ) -> tuple[dict[str, x509.Certificate], list[str]]:
        """Per address a certificate valid for encryption (directory users, then
        contacts), and the addresses that have none."""
        found, missing, _ = await self._lookup_with_reasons(addresses)
        return found, missing

    async def _lookup_with_reasons(
        self, addresses: Sequence[str]
    ) -> tuple[dict[str, x509.Certificate], list[str], dict[str, str]]:
        found_in_directory = await self._directory.find_encryption_certs(addresses)
        found = dict(found_in_directory.found)
        missing: list[str] = []
        reasons: dict[str, str] = {}
        for address in found_in_directory.missing:
            contact, reason = await self._contacts.encryption_certificate_or_reason(address)
            if contact is not None:
                found[address] = contact
                continue
            missing.append(address)
            if reason:
                reasons[address] = reason
        return found, missing, reasons

    async def can_sign(self, address: str) -> bool:
        """The server holds a valid signing certificate and key for ``address``."""
        try:
            record = await self._certs.current_for(address)
        except NotFoundError:
            return False
        return record.wrapped_key is not None

    async def recipients(self, addresses: Sequence[str]) -> list[smime_encrypt.Recipient]:
        """Encryption recipients: directory users, then contacts; PolicyError naming every
        address without a valid certificate."""
        found, missing, reasons = await self._lookup_with_reasons(addresses)
        if missing:
            held = "; ".join(
                f"{address}: {reasons[address]}" for address in missing if address in reasons
            )
            raise PolicyError(
                f"cannot encrypt: no valid certificate for {', '.join(missing)}"
                + (f" (postseal holds certificates that cannot be used — {held})" if held else ""),
                hint="ask them to send you a signed message or to enroll, or send unencrypted",
            )
        known = await self._contacts.capabilities_of(found)
        return [
            smime_encrypt.Recipient(address, cert, known.get(address))
            for address, cert in found.items()
        ]

    async def sign_message(self, message: bytes, *, as_address: str) -> bytes:
        """Sign a whole RFC 5322 message: the transport fields (From, To, Subject, …) stay
        outside, its MIME entity is signed (RFC 8551 §3.5)."""
        outer, inner = smime_headers.split_outer_inner(message, protect=False)
        return outer + await self.sign(inner, as_address=as_address)

    async def encrypt(
        self,
        message: bytes,
        *,
        to: Sequence[str],
        sender: str | None = None,
        sign: bool = False,
        cipher: str | None = None,
    ) -> smime_encrypt.EncryptResult:
        if not to:
            raise PolicyError("cannot encrypt: no recipients given", hint="name them with --to")
        wanted = [*to, sender] if sender else list(to)
        recipients = await self.recipients(
            list(dict.fromkeys(str(parse_address(a)) for a in wanted))
        )
        if not sign:
            return await _offload(
                message, smime_encrypt.encrypt, message, recipients=recipients, cipher=cipher
            )
        if sender is None:
            raise PolicyError("signing needs a sender", hint="give --from EMAIL with --sign")
        # the inner entity comes back canonical: the signer does not scan it again
        outer, inner = await _offload(message, smime_sign_encrypt.split_for_signing, message)
        signed = await self.sign(inner, as_address=sender)
        return await _offload(
            signed, smime_encrypt.envelope, outer, signed, recipients=recipients, cipher=cipher
        )

    async def decrypt(self, message: bytes, *, as_address: str) -> DecryptOutcome:
        address = str(parse_address(as_address))
        records = [
            r
            for r in await self._certs.list_certificates(address=address)
            if r.role is CertificateRole.USER and r.wrapped_key is not None
        ]
        if not records:
            raise NotFoundError(f"postseal holds no private key for {address}")
        failure: Exception | None = None
        for record in records:
            cert = x509.load_der_x509_certificate(record.der)
            key = await self._certs.private_key(record)
            if not isinstance(
                key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | x25519.X25519PrivateKey
            ):
                continue
            try:
                result = await _offload(
                    message, smime_decrypt.decrypt, message, key=key, certificate=cert
                )
            except smime_decrypt.NotAddressedError as exc:
                failure = exc
                continue
            inner = await self.verify(result.content) if result.inner_signed else None
            return DecryptOutcome(result, inner)
        assert failure is not None
        raise failure


_R = TypeVar("_R")


async def _offload(message: bytes, work: Callable[..., _R], *args: Any, **kwargs: Any) -> _R:
    """``work(*args, **kwargs)`` on the loop for a message of at most 64 KB, else in a
    worker thread."""
    return await offload(len(message), partial(work, *args, **kwargs), above=SMIME_INLINE_BYTES)
