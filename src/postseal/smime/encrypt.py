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
from postseal.smime import der, enveloped, keyagree, transfer
from postseal.smime.certificates import PerCertificate
from postseal.smime.ciphers import (
    CIPHERS,
    ENCRYPT_SLACK,
    EncryptionChoice,
    RecipientProfile,
    canonical_name,
    choose_algorithms,
    ciphertext_length,
    encrypt_content_into,
)
from postseal.smime.headers import split_outer_inner
from postseal.smime.mime import pkcs7_mime_header

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


@dataclass(frozen=True)
class _KeyFacts:
    """What a certificate's key can do for encryption, read once per certificate."""

    kind: str  # "rsa", "ec-p256", "ec-p384", "ec-p521" or "x25519"; "" when it cannot
    problem: str | None  # why it cannot receive a content key


def _read_key_facts(cert: x509.Certificate) -> _KeyFacts:
    public = cert.public_key()
    usage = _key_usage(cert)
    if isinstance(public, rsa.RSAPublicKey):
        if usage is not None and not usage.key_encipherment:
            return _KeyFacts("", "the RSA certificate does not allow keyEncipherment")
        return _KeyFacts("rsa", None)
    if isinstance(public, ec.EllipticCurvePublicKey | x25519.X25519PublicKey):
        if usage is not None and not usage.key_agreement:
            return _KeyFacts(
                "", "the certificate's key is for signatures only (keyUsage lacks keyAgreement)"
            )
        if isinstance(public, x25519.X25519PublicKey):
            return _KeyFacts("x25519", None)
        if public.curve.name in _CURVE_KINDS:
            return _KeyFacts(_CURVE_KINDS[public.curve.name], None)
        return _KeyFacts("", f"curve {public.curve.name} is not supported")
    kind = type(public).__name__.removesuffix("PublicKey").removeprefix("_")
    return _KeyFacts("", f"its certificate holds a {kind} key, which can only sign")


_key_facts = PerCertificate(_read_key_facts)


def _key_kind(recipient: Recipient) -> str:
    """``rsa``/``ec-p256``/…/``x25519``, or :class:`InputError` if the key cannot encrypt."""
    facts = _key_facts(recipient.certificate)
    if facts.problem is not None:
        raise InputError(
            f"cannot encrypt to {recipient.address}: {facts.problem}",
            hint="ask the recipient for an encryption certificate, or send without encryption",
        )
    return facts.kind


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
    sealed, choice = _seal(entity, recipients=recipients, cipher=cipher, rng=rng)
    return bytes(sealed), choice


def _seal(
    entity: bytes,
    *,
    recipients: Sequence[Recipient],
    cipher: str | None,
    rng: Rng | None,
) -> tuple[memoryview, EncryptionChoice]:
    """:func:`encrypt_entity`'s DER as a view of the one buffer it was written into."""
    random = rng or os.urandom
    choice = choose_algorithms([_profile(r) for r in recipients], cipher=cipher)
    content_cipher = CIPHERS[choice.content_cipher]
    content_key = random(content_cipher.key_len)
    iv = random(12 if content_cipher.authenticated else 16)
    infos = [
        _recipient_info(r, scheme, content_key)
        for r, (_, scheme) in zip(recipients, choice.key_management, strict=True)
    ]
    # The ciphertext is written straight into the DER: the head (everything before the
    # encrypted content) is computed from the lengths first.
    length = ciphertext_length(content_cipher, len(entity))
    tag_length = _TAG_LENGTH if content_cipher.authenticated else None
    head = enveloped.content_info_head(
        infos, cipher_oid=content_cipher.oid, iv=iv, ciphertext_length=length, tag_length=tag_length
    )
    end = len(head) + length
    trailer = 0 if tag_length is None else 2 + tag_length  # mac OCTET STRING
    buffer = bytearray(end + max(trailer, ENCRYPT_SLACK))
    buffer[: len(head)] = head
    view = memoryview(buffer)
    tag = encrypt_content_into(content_cipher, content_key, iv, entity, view[len(head) :])
    if tag is not None:
        view[end : end + trailer] = der.octet_string(tag)
    return view[: end + trailer], choice


_TAG_LENGTH = 16  # GCM ICV (RFC 5084 §3.2: 12 to 16; the longest)


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
    sealed, choice = _seal(inner, recipients=recipients, cipher=cipher, rng=rng)
    authenticated = CIPHERS[choice.content_cipher].authenticated
    smime_type = "authEnveloped-data" if authenticated else "enveloped-data"
    head = pkcs7_mime_header(smime_type, prefix=outer)
    return EncryptResult(transfer.encode_lines(sealed, prefix=head), choice)
