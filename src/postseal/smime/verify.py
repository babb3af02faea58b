"""Verifying S/MIME signatures (RFC 8551 §3.5, RFC 5652 §5.6, RFC 8550 §3).

:func:`verify` takes a whole message: multipart/signed (any boundary; the legacy
``application/x-pkcs7-signature`` too) or application/pkcs7-mime ``signed-data``
(``x-pkcs7-mime`` too). :func:`verify_cms` takes a bare DER or PEM ContentInfo, with the
content beside it when the signature is detached (:func:`verify_detached`).

A bad signature is a result: every SignerInfo gets a :class:`SignerResult` with each check
(content digest, signature, certificate path via the injected :class:`ChainValidator`,
algorithm strength, From: against the certificate's addresses). Exceptions are only for
input that is not an S/MIME signature at all (:class:`InputError`) and for misuse.

Signatures are checked with ``cryptography`` primitives over the parsed SignedData (see
docs/adr/0003-smime-signing.md for why not pyHanko). For multipart/signed the signed
part is hashed as it appears and, failing that, with its line ends as CRLF: RFC 8551
§3.1.1 signs the canonical form, and stores that turned CRLF into LF are common.
"""

from __future__ import annotations

import binascii
import email.utils
import hmac
import re
from collections.abc import Iterator, Sequence
from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from postseal.errors import InputError
from postseal.mail.canonical import header_fields, split_entity, to_crlf
from postseal.smime import signed_data, transfer
from postseal.smime.algorithms import algorithm_acceptable, hash_algorithm
from postseal.smime.mime import OpaqueParts, parse_smime
from postseal.smime.results import NO_CERTIFICATE, ChainValidator, SignerResult, VerifyResult
from postseal.smime.sign import certificate_addresses

__all__ = ["verify", "verify_cms", "verify_detached"]

_PEM = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.DOTALL)
_ID_DATA = "1.2.840.113549.1.7.1"


def verify(
    message: bytes,
    *,
    validate_chain: ChainValidator,
    now: datetime,
    accept_weak: bool = False,
    from_address: str | None = None,
    extra_certs: Sequence[x509.Certificate] = (),
) -> VerifyResult:
    """Verify a signed S/MIME message; see the module docstring.

    ``from_address`` overrides the From: field read from the signed content (or, when the
    content has none, from the outer header). ``extra_certs`` are known certificates
    (harvested contacts) used when the message does not carry the signer's.
    """
    parts = parse_smime(message)
    if isinstance(parts, OpaqueParts):
        if parts.smime_type not in (None, "signed-data"):
            raise InputError(
                f"the message is {parts.smime_type}, not signed-data",
                hint="decrypt it first" if "enveloped" in parts.smime_type else None,
            )
        parsed = signed_data.parse(parts.der)
        if parsed.content is None:
            raise InputError("the signed-data holds no content and no content came with it")
        variants = _Variants(parsed.content, crlf=False)
        detached = False
    else:
        parsed = signed_data.parse(parts.signature)
        variants = _Variants(parts.content, crlf=True)
        detached = True
    senders = _from_addresses(from_address, variants.first, parts.headers)
    return _verify(
        parsed,
        variants,
        detached=detached,
        senders=senders,
        validate_chain=validate_chain,
        now=now,
        accept_weak=accept_weak,
        extra_certs=extra_certs,
    )


def verify_cms(
    cms: bytes,
    *,
    content: bytes | None = None,
    validate_chain: ChainValidator,
    now: datetime,
    accept_weak: bool = False,
    from_address: str | None = None,
    extra_certs: Sequence[x509.Certificate] = (),
) -> VerifyResult:
    """Verify a bare DER or PEM SignedData; ``content`` for a detached signature.

    Content is hashed byte-exact. Given both ``content`` and encapsulated content, the
    given ``content`` is what is checked.
    """
    parsed = signed_data.parse(_der(cms))
    body = content if content is not None else parsed.content
    if body is None:
        raise InputError("the signature is detached: pass the signed content with it")
    senders = _from_addresses(from_address, body, [])
    return _verify(
        parsed,
        _Variants(body, crlf=False),
        detached=content is not None,
        senders=senders,
        validate_chain=validate_chain,
        now=now,
        accept_weak=accept_weak,
        extra_certs=extra_certs,
    )


def verify_detached(
    content: bytes,
    signature_der: bytes,
    *,
    validate_chain: ChainValidator,
    now: datetime,
    accept_weak: bool = False,
    from_address: str | None = None,
    extra_certs: Sequence[x509.Certificate] = (),
) -> VerifyResult:
    """Verify a detached DER/PEM signature over ``content`` (byte-exact)."""
    return verify_cms(
        signature_der,
        content=content,
        validate_chain=validate_chain,
        now=now,
        accept_weak=accept_weak,
        from_address=from_address,
        extra_certs=extra_certs,
    )


def _verify(
    parsed: signed_data.ParsedSignedData,
    variants: _Variants,
    *,
    detached: bool,
    senders: tuple[str, ...],
    validate_chain: ChainValidator,
    now: datetime,
    accept_weak: bool,
    extra_certs: Sequence[x509.Certificate],
) -> VerifyResult:
    pool = list(parsed.certificates) + [c for c in extra_certs if c not in parsed.certificates]
    signers = []
    for signer in parsed.signers:
        cert = next((c for c in pool if signed_data.matches(signer, c)), None)
        intact, problem = _check(signer, cert, parsed.content_type, variants)
        chain = NO_CERTIFICATE if cert is None else validate_chain(cert, parsed.certificates, now)
        addresses = certificate_addresses(cert) if cert is not None else ()
        family = _family(signer.signature_algorithm)
        signers.append(
            SignerResult(
                certificate=cert,
                addresses=addresses,
                content_intact=intact,
                signature_valid=problem is None,
                signature_problem=problem,
                chain=chain,
                signing_time=signer.signing_time,
                digest_algorithm=signer.digest_algorithm,
                signature_algorithm=family,
                algorithm_acceptable=accept_weak
                or algorithm_acceptable(signer.digest_algorithm, family),
                from_matches=_from_matches(senders, addresses),
                from_addresses=senders,
                capabilities=signer.capabilities,
                top_issuer=_top_issuer(cert, parsed.certificates) if cert else None,
            )
        )
    return VerifyResult(content=variants.first, detached=detached, signers=tuple(signers))


def _check(
    signer: signed_data.ParsedSigner,
    cert: x509.Certificate | None,
    content_type: str,
    variants: _Variants,
) -> tuple[bool, str | None]:
    """(content intact, signature problem or None) for one SignerInfo (RFC 5652 §5.6)."""
    try:
        if signer.signed_attrs is None:
            # RFC 5652 §5.4: without attributes the signature covers the content itself
            if cert is None:
                return True, "the signer's certificate is not available"
            first_problem = None
            for variant in variants:
                problem = _signature_problem(signer, cert, variant)
                if problem is None:
                    return True, None
                first_problem = first_problem or problem
            return False, first_problem
        intact = False
        if signer.message_digest is not None:
            for variant in variants:
                digest = hashes.Hash(hash_algorithm(signer.digest_algorithm))
                digest.update(variant)
                if hmac.compare_digest(digest.finalize(), signer.message_digest):
                    intact = True
                    break
        if signer.attribute_problem:
            return intact, signer.attribute_problem
        if signer.message_digest is None:
            return False, "the signed attributes lack a message-digest"
        if signer.content_type != content_type:
            return intact, "the content-type attribute does not match the content (RFC 5652 §11.1)"
        if cert is None:
            return intact, "the signer's certificate is not available"
        problem = _signature_problem(signer, cert, signer.signed_attrs)
        return intact, problem or _ess_problem(signer, cert)
    except InputError as exc:
        return False, exc.message


class _Variants:
    """The signed content as it appears and, for multipart/signed, with its line ends
    turned into CRLF — the second computed only if the first does not verify."""

    def __init__(self, content: bytes, *, crlf: bool) -> None:
        self.first = content
        self._crlf = crlf
        self._second: bytes | None = None

    def __iter__(self) -> Iterator[bytes]:
        yield self.first
        if self._crlf:
            if self._second is None:
                self._second = to_crlf(self.first)
            if self._second is not self.first:  # to_crlf returns CRLF input itself
                yield self._second


def _signature_problem(
    signer: signed_data.ParsedSigner, cert: x509.Certificate, data: bytes
) -> str | None:
    try:
        key = cert.public_key()
    except (ValueError, UnsupportedAlgorithm):
        return "the signer's public key cannot be read (inherited DSA parameters?)"
    family = _family(signer.signature_algorithm)
    sig = signer.signature
    try:
        if family == "ed25519" and isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(sig, data)
        elif family == "rsassa_pss" and isinstance(key, rsa.RSAPublicKey) and signer.pss:
            hash_name, mgf_name, salt = signer.pss
            pss = padding.PSS(mgf=padding.MGF1(hash_algorithm(mgf_name)), salt_length=salt)
            key.verify(sig, data, pss, hash_algorithm(hash_name))
        elif family == "rsassa_pkcs1v15" and isinstance(key, rsa.RSAPublicKey):
            key.verify(sig, data, padding.PKCS1v15(), hash_algorithm(signer.digest_algorithm))
        elif family == "ecdsa" and isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(sig, data, ec.ECDSA(hash_algorithm(signer.digest_algorithm)))
        elif family == "dsa" and isinstance(key, dsa.DSAPublicKey):
            key.verify(sig, data, hash_algorithm(signer.digest_algorithm))
        else:
            return f"signature algorithm {signer.signature_algorithm} does not fit the key"
    except InvalidSignature:
        return "the signature does not match the signer's key"
    except (ValueError, UnsupportedAlgorithm) as exc:
        return f"the signature cannot be checked: {exc}"
    return None


def _ess_problem(signer: signed_data.ParsedSigner, cert: x509.Certificate) -> str | None:
    """RFC 5035 §5.4: the first ESSCertIDv2 must name the signer's certificate."""
    if not signer.ess_cert_hashes:
        return None
    hash_name, expected = signer.ess_cert_hashes[0]
    digest = hashes.Hash(hash_algorithm(hash_name))
    digest.update(cert.public_bytes(Encoding.DER))
    if not hmac.compare_digest(digest.finalize(), expected):
        return "the signing-certificate attribute names a different certificate"
    return None


def _family(name: str) -> str:
    """asn1crypto's signature algorithm name → key family."""
    if name in ("rsassa_pkcs1v15", "rsassa_pss", "ed25519", "ed448", "ecdsa", "dsa"):
        return name
    for suffix, family in (("_rsa", "rsassa_pkcs1v15"), ("_ecdsa", "ecdsa"), ("_dsa", "dsa")):
        if name.endswith(suffix):
            return family
    return name


def _from_addresses(
    given: str | None, content: bytes, outer: list[tuple[str, str]]
) -> tuple[str, ...]:
    if given is not None:
        return (given,)
    try:
        header, _ = split_entity(content)
        inner = header_fields(header)
    except InputError:
        inner = []
    for fields in (inner, outer):
        values = [v for n, v in fields if n == "from"]
        if values:
            return tuple(a for _, a in email.utils.getaddresses(values) if "@" in a)
    return ()


def _from_matches(senders: tuple[str, ...], addresses: tuple[str, ...]) -> bool | None:
    """Any From: address equals a certificate address, case-insensitively (ADR 0006)."""
    if not senders:
        return None
    return any(_same(s, a) for s in senders for a in addresses)


def _same(left: str, right: str) -> bool:
    # ADR 0006: postseal treats the whole address case-insensitively, local part included
    return left.strip().lower() == right.strip().lower()


def _top_issuer(cert: x509.Certificate, carried: Sequence[x509.Certificate]) -> str:
    current = cert
    for _ in range(len(carried) + 1):
        if current.issuer == current.subject:
            break
        parent = next((c for c in carried if c.subject == current.issuer), None)
        if parent is None:
            break
        current = parent
    return current.issuer.rfc4514_string()


def _der(blob: bytes) -> bytes:
    stripped = blob.strip()
    if not stripped.startswith(b"-----BEGIN"):
        return blob
    found = _PEM.search(stripped)
    if found is None:
        raise InputError("malformed PEM: no matching END line")
    try:
        return transfer.decode(found.group(2))
    except (binascii.Error, ValueError):
        raise InputError("malformed PEM: the body is not base64") from None
