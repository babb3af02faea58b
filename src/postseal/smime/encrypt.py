"""S/MIME encryption: a full RFC 5322 message in, an application/pkcs7-mime message out.

Contract of :func:`encrypt`:

1. Every recipient's certificate must hold a key that can receive a content key —
   RSA with keyEncipherment (or no keyUsage), EC P-256/P-384/P-521 or X25519 with
   keyAgreement (or no keyUsage), RFC 8550 §4.4.2. Otherwise :class:`InputError` names the
   address and nothing is produced.
2. The algorithms come from :func:`postseal.smime.ciphers.choose_algorithms` (strongest
   common cipher; interop-safe defaults for unknown capabilities) and the result says why.
3. With ``protect_headers`` the original header fields travel inside (RFC 9788) and the
   outer Subject is ``[...]``.
4. The output is the outer header fields + an application/pkcs7-mime entity
   (RFC 8551 §3.3, smime-type ``enveloped-data`` or ``authEnveloped-data`` per §3.2.2),
   base64 at 76 columns with CRLF line ends.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, x25519

from postseal.errors import InputError
from postseal.smime import der, enveloped, keyagree
from postseal.smime.ciphers import (
    CIPHERS,
    EncryptionChoice,
    RecipientProfile,
    canonical_name,
    choose_algorithms,
    encrypt_content,
)
from postseal.smime.headers import split_outer_inner
from postseal.smime.mime import build_pkcs7_mime

__all__ = ["EncryptResult", "Recipient", "encrypt", "encrypt_entity"]

Rng = Callable[[int], bytes]
_CURVE_KINDS = {"secp256r1": "ec-p256", "secp384r1": "ec-p384", "secp521r1": "ec-p521"}


@dataclass(frozen=True)
class Recipient:
    """One recipient: its address, encryption certificate and what it is known to read.

    ``capabilities`` are algorithm names or OIDs harvested from the recipient's
    SMIMECapabilities (RFC 8551 §2.5.2), or None when unknown. ``prefer_oaep`` forces
    (True) or forbids (False) RSAES-OAEP; None decides from the capabilities.
    """

    address: str
    certificate: x509.Certificate
    capabilities: tuple[str, ...] | None = None
    prefer_oaep: bool | None = None


@dataclass(frozen=True)
class EncryptResult:
    """The encrypted message and the algorithm decision with its one-sentence reason."""

    message: bytes
    choice: EncryptionChoice

    @property
    def reason(self) -> str:
        """Why these algorithms, e.g. "AES-256-CBC with RSA PKCS#1 v1.5: …"."""
        return self.choice.reason


def _key_usage(cert: x509.Certificate) -> x509.KeyUsage | None:
    try:
        return cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None


def _key_kind(recipient: Recipient) -> str:
    """``rsa``/``ec-p256``/…/``x25519``, or :class:`InputError` if the key cannot encrypt."""
    public = recipient.certificate.public_key()
    usage = _key_usage(recipient.certificate)
    hint = "ask the recipient for an encryption certificate, or send without encryption"
    if isinstance(public, rsa.RSAPublicKey):
        if usage is not None and not usage.key_encipherment:
            raise InputError(
                f"cannot encrypt to {recipient.address}: the RSA certificate does not allow "
                "keyEncipherment",
                hint=hint,
            )
        return "rsa"
    if isinstance(public, ec.EllipticCurvePublicKey | x25519.X25519PublicKey):
        if usage is not None and not usage.key_agreement:
            raise InputError(
                f"cannot encrypt to {recipient.address}: the certificate's key is for "
                "signatures only (keyUsage lacks keyAgreement)",
                hint=hint,
            )
        if isinstance(public, x25519.X25519PublicKey):
            return "x25519"
        if public.curve.name in _CURVE_KINDS:
            return _CURVE_KINDS[public.curve.name]
        raise InputError(
            f"cannot encrypt to {recipient.address}: curve {public.curve.name} is not supported",
            hint=hint,
        )
    kind = type(public).__name__.removesuffix("PublicKey").removeprefix("_")
    raise InputError(
        f"cannot encrypt to {recipient.address}: its certificate holds a {kind} key, which "
        "can only sign",
        hint=hint,
    )


def _profile(recipient: Recipient) -> RecipientProfile:
    capabilities = None
    if recipient.capabilities is not None:
        names = (canonical_name(c) for c in recipient.capabilities)
        capabilities = frozenset(n for n in names if n is not None)
    return RecipientProfile(
        recipient.address, _key_kind(recipient), capabilities, recipient.prefer_oaep
    )


def _recipient_info(recipient: Recipient, scheme: str, content_key: bytes) -> bytes:
    """KTRI for RSA, KARI with a fresh ephemeral key for EC/X25519 (RFC 5753 §3.1.1)."""
    public = recipient.certificate.public_key()
    if isinstance(public, rsa.RSAPublicKey):
        if scheme == "rsa-oaep-sha256":
            pad: padding.AsymmetricPadding = padding.OAEP(
                mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None
            )
        else:
            pad = padding.PKCS1v15()
        wrapped = public.encrypt(content_key, pad)
        return enveloped.ktri(recipient.certificate, wrapped, oaep=scheme != "rsa-pkcs1v15")
    assert isinstance(public, ec.EllipticCurvePublicKey | x25519.X25519PublicKey)
    kdf, wrap_oid = keyagree.scheme_for_encryption(public, len(content_key))
    ephemeral: keyagree.AgreementKey
    if isinstance(public, x25519.X25519PublicKey):
        ephemeral = x25519.X25519PrivateKey.generate()
        spki = ephemeral.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    else:
        ephemeral = ec.generate_private_key(public.curve)
        spki = _ec_spki_without_parameters(ephemeral.public_key())
    z = keyagree.shared_secret(ephemeral, public)
    kek = keyagree.derive_kek(kdf, z, wrap_oid, None)
    return enveloped.kari(
        recipient.certificate,
        originator_spki=spki,
        scheme_oid=kdf.oid,
        wrap_oid=wrap_oid,
        encrypted_key=keyagree.wrap(kek, content_key),
    )


def _ec_spki_without_parameters(public: ec.EllipticCurvePublicKey) -> bytes:
    """SubjectPublicKeyInfo with id-ecPublicKey and no parameters: the recipient's curve
    is implied (RFC 5753 §3.1.1 — what OpenSSL writes and reads)."""
    point = public.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return der.sequence(_EC_ALGORITHM, der.tlv(0x03, b"\x00" + point))


_EC_ALGORITHM = der.sequence(der.oid("1.2.840.10045.2.1"))


def encrypt_entity(
    entity: bytes,
    *,
    recipients: Sequence[Recipient],
    cipher: str | None = None,
    rng: Rng | None = None,
) -> tuple[bytes, EncryptionChoice]:
    """DER ContentInfo (EnvelopedData or AuthEnvelopedData) of ``entity`` for everyone.

    ``rng`` supplies the content key and IV/nonce (default :func:`os.urandom`); it exists
    so tests can be deterministic.
    """
    random = rng or os.urandom
    choice = choose_algorithms([_profile(r) for r in recipients], cipher=cipher)
    content_cipher = CIPHERS[choice.content_cipher]
    content_key = random(content_cipher.key_len)
    iv = random(12 if content_cipher.authenticated else 16)
    infos = [
        _recipient_info(r, scheme, content_key)
        for r, (_, scheme) in zip(recipients, choice.key_management, strict=True)
    ]
    ciphertext, tag = encrypt_content(content_cipher, content_key, iv, entity)
    der = enveloped.content_info(
        infos, cipher_oid=content_cipher.oid, iv=iv, ciphertext=ciphertext, tag=tag
    )
    return der, choice


def encrypt(
    content: bytes,
    *,
    recipients: Sequence[Recipient],
    cipher: str | None = None,
    protect_headers: bool = True,
    rng: Rng | None = None,
) -> EncryptResult:
    """Encrypt a full RFC 5322 message to every recipient (see the module contract).

    Raises :class:`InputError` naming the recipient whose certificate cannot encrypt or
    who is known not to read an explicitly chosen ``cipher``.
    """
    outer, inner = split_outer_inner(content, protect=protect_headers)
    return envelope(outer, inner, recipients=recipients, cipher=cipher, rng=rng)


def envelope(
    outer: bytes,
    inner: bytes,
    *,
    recipients: Sequence[Recipient],
    cipher: str | None = None,
    rng: Rng | None = None,
) -> EncryptResult:
    """The message ``outer`` header fields + the application/pkcs7-mime entity enveloping
    ``inner`` (RFC 8551 §3.3). Sign-then-encrypt passes a signed ``inner`` here."""
    der, choice = encrypt_entity(inner, recipients=recipients, cipher=cipher, rng=rng)
    authenticated = CIPHERS[choice.content_cipher].authenticated
    smime_type = "authEnveloped-data" if authenticated else "enveloped-data"
    return EncryptResult(outer + build_pkcs7_mime(der, smime_type=smime_type), choice)
