"""Signing a MIME entity with S/MIME 4.0 (RFC 8551 §3.5, CMS SignedData RFC 5652 §5).

:func:`sign` canonicalises the entity (CRLF, 7-bit: :mod:`postseal.mail.canonical`),
checks the signer's certificate against policy, builds SignedData with asn1crypto and
returns a complete MIME entity: multipart/signed by default (§3.5.3, readable by clients
without S/MIME), or application/pkcs7-mime ``smime-type=signed-data`` when ``opaque``
(§3.5.2). The caller adds the RFC 5322 header fields (From, To, Subject…) outside.

Signed attributes (all of them, always): content-type, message-digest, signing-time
(RFC 5652 §11), SMIMECapabilities (RFC 8551 §2.5.2), ESS signing-certificate-v2
(RFC 5035 §3, binds the certificate against substitution) and S/MIME Encryption Key
Preference (RFC 8551 §2.5.3). Keys: RSA PKCS #1 v1.5 or RSASSA-PSS (RFC 4056: MGF1 with the
same digest, salt = digest length), ECDSA (RFC 5753), Ed25519 (RFC 8419: pure EdDSA over
the attributes, SHA-512 message digest).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from postseal.errors import InputError, PolicyError
from postseal.mail.canonical import canonicalize
from postseal.smime import signed_data
from postseal.smime.algorithms import (
    DEFAULT_CAPABILITIES,
    SIGNING_DIGESTS,
    Capability,
    hash_algorithm,
    micalg,
)
from postseal.smime.certificates import PerCertificate, der_of
from postseal.smime.mime import build_multipart_signed, build_pkcs7_mime

__all__ = ["SigningKey", "certificate_addresses", "sign"]

SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
_ECDSA_CURVES = (ec.SECP256R1, ec.SECP384R1, ec.SECP521R1)


def sign(
    content: bytes,
    *,
    signer_cert: x509.Certificate,
    signer_key: SigningKey,
    chain: Sequence[x509.Certificate],
    signing_time: datetime,
    digest: str = "sha256",
    opaque: bool = False,
    rsa_padding: Literal["pkcs1v15", "pss"] = "pkcs1v15",
    capabilities: Sequence[Capability] | None = None,
    encryption_cert: x509.Certificate | None = None,
) -> bytes:
    """Sign the MIME entity ``content``; return the signed MIME entity.

    ``chain`` is the signer's issuers; self-signed ones (roots) are left out of the
    message (RFC 8551 §2.3 expects the receiver to hold its trust anchors). ``digest`` is
    ignored for Ed25519, which always uses SHA-512 (RFC 8419 §3.1). ``encryption_cert``
    names the certificate correspondents should encrypt to; default: the signer's.

    Raises :class:`PolicyError` (nothing produced) when the certificate is expired or not
    yet valid at ``signing_time`` or is not for email signing, and :class:`InputError`
    for content that cannot be canonicalised or a key that does not match.
    """
    if signing_time.tzinfo is None:
        raise ValueError("signing_time must be timezone-aware")
    _check_signer(signer_cert, signer_key, signing_time)
    if isinstance(signer_key, ed25519.Ed25519PrivateKey):
        digest = "sha512"
    elif digest not in SIGNING_DIGESTS:
        raise PolicyError(
            f"cannot sign with {digest}: only {', '.join(SIGNING_DIGESTS)} are allowed"
        )
    body = canonicalize(content)
    content_hash = hashes.Hash(hash_algorithm(digest))
    content_hash.update(body)
    attrs = signed_data.signed_attributes(
        content_digest=content_hash.finalize(),
        signing_time=signing_time,
        capabilities=DEFAULT_CAPABILITIES if capabilities is None else capabilities,
        signer_cert=signer_cert,
        encryption_cert=encryption_cert or signer_cert,
    )
    algorithm, signature = _signature(signer_key, digest, rsa_padding, attrs)
    signer_der = der_of(signer_cert)
    carried = [signer_cert] + [c for c in chain if not _self_signed(c) and der_of(c) != signer_der]
    der = signed_data.assemble(
        content=body if opaque else None,
        digest=digest,
        signature_algorithm=algorithm,
        attrs_der=attrs,
        signature=signature,
        signer_cert=signer_cert,
        certificates=carried,
    )
    if opaque:
        return build_pkcs7_mime(der, smime_type="signed-data")
    return build_multipart_signed(body, der, micalg=micalg(digest))


def certificate_addresses(cert: x509.Certificate) -> tuple[str, ...]:
    """Email addresses of a certificate: SAN rfc822Name, else subject emailAddress.

    RFC 8550 §3: the SAN is where the address belongs; the emailAddress attribute is the
    legacy place, read only when there is no SAN address.
    """
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        found = tuple(san.get_values_for_type(x509.RFC822Name))
    except x509.ExtensionNotFound:
        found = ()
    if found:
        return found
    return tuple(
        str(a.value) for a in cert.subject.get_attributes_for_oid(x509.NameOID.EMAIL_ADDRESS)
    )


@dataclass(frozen=True)
class _SignerPolicy:
    """What the signing policy needs from a certificate, read once per certificate."""

    who: str
    not_before: datetime
    not_after: datetime
    usage_problem: str | None  # why its key usage or extended key usage forbids signing


def _read_signer_policy(cert: x509.Certificate) -> _SignerPolicy:
    addresses = certificate_addresses(cert)
    who = addresses[0] if addresses else cert.subject.rfc4514_string()
    problem = None
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        if not usage.digital_signature:
            problem = f"cannot sign as {who}: the certificate's key usage lacks digitalSignature"
    except x509.ExtensionNotFound:
        pass  # RFC 5280 §4.2.1.3: no extension, no restriction
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        # RFC 8550 §4.4.4: when present it must allow email protection
        if problem is None and not {
            ExtendedKeyUsageOID.EMAIL_PROTECTION,
            ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
        } & set(eku):
            problem = f"cannot sign as {who}: the certificate is not for email protection"
    except x509.ExtensionNotFound:
        pass
    return _SignerPolicy(who, cert.not_valid_before_utc, cert.not_valid_after_utc, problem)


_signer_policy = PerCertificate(_read_signer_policy)


def _check_signer(cert: x509.Certificate, key: SigningKey, at: datetime) -> None:
    policy = _signer_policy(cert)
    who = policy.who
    renew = "run `postseal cert renew`"
    if at > policy.not_after:
        raise PolicyError(
            f"cannot sign as {who}: the certificate expired on {policy.not_after:%Y-%m-%d}",
            hint=renew,
        )
    if at < policy.not_before:
        raise PolicyError(
            f"cannot sign as {who}: the certificate is valid only from "
            f"{policy.not_before:%Y-%m-%d %H:%M} UTC",
            hint="check the clock, or wait until then",
        )
    if policy.usage_problem is not None:
        raise PolicyError(policy.usage_problem, hint=renew)
    if key.public_key() != cert.public_key():
        raise InputError(
            f"cannot sign as {who}: the private key does not belong to the certificate"
        )


def _signature(
    key: SigningKey, digest: str, rsa_padding: str, data: bytes
) -> tuple[dict[str, Any], bytes]:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return {"algorithm": "ed25519"}, key.sign(data)
    hash_alg = hash_algorithm(digest)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        if not isinstance(key.curve, _ECDSA_CURVES):
            raise InputError(f"unsupported ECDSA curve {key.curve.name}")
        return {"algorithm": f"{digest}_ecdsa"}, key.sign(data, _ecdsa(digest))
    if isinstance(key, rsa.RSAPrivateKey):
        if rsa_padding == "pss":
            params = {
                "hash_algorithm": {"algorithm": digest},
                "mask_gen_algorithm": {
                    "algorithm": "mgf1",
                    "parameters": {"algorithm": digest},
                },
                "salt_length": hash_alg.digest_size,
            }
            pss = padding.PSS(mgf=padding.MGF1(hash_alg), salt_length=hash_alg.digest_size)
            return {"algorithm": "rsassa_pss", "parameters": params}, key.sign(data, pss, hash_alg)
        if rsa_padding != "pkcs1v15":
            raise ValueError(f"rsa_padding must be 'pkcs1v15' or 'pss', not {rsa_padding!r}")
        # rsaEncryption as the signature OID: what OpenSSL, NSS and gpgsm all emit and read
        return {"algorithm": "rsassa_pkcs1v15"}, key.sign(data, padding.PKCS1v15(), hash_alg)
    raise InputError(f"unsupported signing key type {type(key).__name__}")


@lru_cache(maxsize=8)
def _ecdsa(digest: str) -> ec.ECDSA:
    # immutable, and its constructor's ABC checks cost about a microsecond a message
    return ec.ECDSA(hash_algorithm(digest))


def _read_self_signed(cert: x509.Certificate) -> bool:
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


# a root in ``chain`` would otherwise have its signature checked at every message
_self_signed = PerCertificate(_read_self_signed)
