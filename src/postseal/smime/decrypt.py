"""S/MIME decryption of EnvelopedData (RFC 5652 §6) and AuthEnvelopedData (RFC 5083).

Contract of :func:`decrypt` / :func:`decrypt_cms`:

- Our RecipientInfo is found by issuerAndSerialNumber or subjectKeyIdentifier (KTRI rid,
  KARI rid or rKeyId, RFC 5652 §6.2). None → :class:`NotAddressedError` naming us and
  the recipients the message does have.
- Every failure that depends on the key — bad RSA padding, OAEP check, key unwrap,
  GCM/Poly1305 tag, CBC padding — surfaces as the one :class:`UndecryptableError`
  message. RSA PKCS#1 v1.5 failures continue with a random content key of the right
  size (RFC 3218 §2.3.2, implicit rejection), so they fail at the same place as a
  wrong content key and no padding oracle appears.
- Hostile input (malformed DER/BER, truncated base64, deep nesting, huge declared
  lengths, unknown OIDs, messages over ``max_size``) → a specific :class:`InputError`.
- The decrypted entity is returned byte-exact; RFC 9788 protected header fields are
  applied to the outer message in ``restored_message``. Whether the entity is itself
  signed is reported so the caller verifies it next (triple wrap, RFC 2634 §1.1).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Callable
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, x25519

from postseal.errors import InputError
from postseal.smime import keyagree, transfer
from postseal.smime.ciphers import (
    ContentCipher,
    ContentIntegrityError,
    cipher_by_oid,
    decrypt_content,
)
from postseal.smime.enveloped import (
    Envelope,
    KeyAgreement,
    KeyTransport,
    RecipientId,
    parse,
    recipient_id_for,
)
from postseal.smime.headers import canonical_crlf, parse_fields, restore

__all__ = [
    "DEFAULT_MAX_SIZE",
    "DecryptResult",
    "NotAddressedError",
    "PrivateKey",
    "UndecryptableError",
    "decrypt",
    "decrypt_cms",
]

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | x25519.X25519PrivateKey
DEFAULT_MAX_SIZE = 50 * 1024 * 1024
_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_CURVE_SHORT = {"secp256r1": "p256", "secp384r1": "p384", "secp521r1": "p521"}
_NAME_KEYS = {"common_name": "CN", "organization_name": "O", "organizational_unit_name": "OU"}


class UndecryptableError(InputError):
    """The one answer for every key-dependent failure (no oracle, RFC 3218 §2.3)."""

    def __init__(self) -> None:
        super().__init__(
            "cannot decrypt: the message was altered or is not for this key",
            hint="ask the sender to send it again, encrypted to your current certificate",
        )


class NotAddressedError(InputError):
    """The message has no RecipientInfo for our certificate."""


@dataclass(frozen=True)
class DecryptResult:
    """What decryption produced.

    ``content`` is the decrypted MIME entity byte-exact; ``restored_message`` is the
    message to show (outer transport fields + RFC 9788 protected fields + the entity).
    ``cipher`` and ``key_management`` name the algorithms the sender used;
    ``inner_signed`` says the entity is multipart/signed or signed-data: verify it next.
    """

    content: bytes
    restored_message: bytes
    cipher: str
    key_management: str
    headers_protected: bool
    inner_signed: bool


def _check_size(data: bytes, max_size: int) -> None:
    if len(data) > max_size:
        raise InputError(
            f"cannot decrypt: the message is {len(data)} bytes, over the limit of {max_size}",
            hint="raise the size limit if such messages are expected",
        )


def _strict_base64(text: bytes, what: str) -> bytes:
    try:
        return transfer.decode(text, whitespace=b" \t\r\n")
    except ValueError:
        pass  # say what is wrong: the checks below raise for every input decode() refuses
    compact = re.sub(rb"[ \t\r\n]+", b"", text)
    if re.search(rb"[^A-Za-z0-9+/=]", compact):
        raise InputError(f"cannot decrypt: the {what} is not valid base64")
    if len(compact) % 4:
        raise InputError(f"cannot decrypt: the {what} is truncated (incomplete base64)")
    try:
        return base64.b64decode(compact, validate=True)
    except binascii.Error:
        raise InputError(f"cannot decrypt: the {what} is not valid base64") from None


def _header_params(raw: bytes) -> tuple[str, dict[str, str]]:
    """(media type, parameters) of a Content-Type field, lower-cased (RFC 2045 §5.1)."""
    value = re.sub(rb"\r?\n[ \t]", b" ", raw.partition(b":")[2]).decode("ascii", "replace")
    media, _, rest = value.partition(";")
    params = {
        m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3)).lower()
        for m in re.finditer(r'([\w.-]+)\s*=\s*(?:"([^"]*)"|([^;\s]+))', rest)
    }
    return media.strip().lower(), params


def _pkcs7_body(message: bytes) -> bytes:
    """The DER inside an application/pkcs7-mime message (RFC 8551 §3.3)."""
    match = _HEADER_END.search(message)
    head = message[: match.start()] if match else message
    body = message[match.end() :] if match else b""
    fields, _ = parse_fields(canonical_crlf(head) + b"\r\n\r\n")
    found = dict(fields)
    media, params = _header_params(found.get("content-type", b"Content-Type: text/plain"))
    if media == "multipart/signed" or params.get("smime-type") == "signed-data":
        raise InputError(
            "cannot decrypt: the message is signed, not encrypted",
            hint="verify its signature instead",
        )
    if media not in ("application/pkcs7-mime", "application/x-pkcs7-mime"):
        raise InputError(
            f"cannot decrypt: the message is {media or 'untyped'}, not S/MIME "
            "encrypted (application/pkcs7-mime)"
        )
    smime_type = params.get("smime-type", "enveloped-data")
    if smime_type not in ("enveloped-data", "authenveloped-data"):
        raise InputError(f"cannot decrypt: smime-type {smime_type} is not encrypted data")
    encoding = _header_params(found.get("content-transfer-encoding", b"x: 7bit"))[0]
    if encoding == "base64":
        return _strict_base64(body, "message body")
    if encoding in ("binary", "8bit", "7bit"):
        return body
    raise InputError(f"cannot decrypt: unsupported Content-Transfer-Encoding {encoding}")


def _unpem(data: bytes) -> bytes:
    match = re.search(rb"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", data, re.DOTALL)
    if match is None:
        raise InputError("cannot decrypt: the PEM armour is incomplete")
    return _strict_base64(match.group(2), "PEM data")


def _describe_us(certificate: x509.Certificate) -> str:
    who = certificate.subject.rfc4514_string() or "an empty subject"
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        emails = san.value.get_values_for_type(x509.RFC822Name)
    except x509.ExtensionNotFound:
        emails = []
    extra = f"{', '.join(emails)}, " if emails else ""
    return f"{who} ({extra}serial {certificate.serial_number:#x})"


def _describe(rid: RecipientId) -> str:
    """ "serial 0x… from 'CN=…, O=…'" or "key id …" for the not-addressed message."""
    if rid.key_id is not None:
        return f"key id {rid.key_id.hex()}"
    parts = []
    try:
        for rdn in reversed(rid.issuer.chosen if rid.issuer is not None else []):
            for attr in rdn:
                key = _NAME_KEYS.get(attr["type"].native, attr["type"].native)
                parts.append(f"{key}={attr['value'].native}")
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError):
        # names are parsed lazily: a hostile one fails here, not in parse()
        return f"serial {rid.serial or 0:#x} from an unreadable issuer name"
    return f"serial {rid.serial or 0:#x} from '{', '.join(parts)}'"


def _not_addressed(envelope: Envelope, certificate: x509.Certificate) -> NotAddressedError:
    names: list[str] = []
    for r in envelope.recipients:
        if isinstance(r, KeyTransport):
            names.append(_describe(r.rid))
        elif isinstance(r, KeyAgreement):
            names.extend(_describe(rid) for rid, _ in r.keys)
        else:
            names.append(r.description)
    return NotAddressedError(
        f"cannot decrypt: the message is not addressed to {_describe_us(certificate)}; "
        f"its recipients are {'; '.join(names)}",
        hint="decrypt it with one of those keys, or ask the sender to use your certificate",
    )


def _matches(rid: RecipientId, ours: tuple[RecipientId, RecipientId | None]) -> bool:
    return any(o is not None and rid.matches(o) for o in ours)


def _transport_key(info: KeyTransport, key: PrivateKey, cipher: ContentCipher) -> bytes:
    """The content key, or random bytes of the right size on any failure (implicit
    rejection: the failure then shows only as the content check, RFC 3218 §2.3.2)."""
    fallback = os.urandom(cipher.key_len)
    if not isinstance(key, rsa.RSAPrivateKey):
        return fallback
    pad: padding.AsymmetricPadding = padding.PKCS1v15()
    if info.oaep:
        if info.oaep_hash not in _HASHES or info.mgf_hash not in _HASHES:
            raise InputError(f"cannot decrypt: unsupported OAEP hash {info.oaep_hash}")
        pad = padding.OAEP(
            mgf=padding.MGF1(_HASHES[info.mgf_hash]()),
            algorithm=_HASHES[info.oaep_hash](),
            label=info.label or None,
        )
    try:
        content_key = key.decrypt(info.encrypted_key, pad)
    except ValueError:
        return fallback
    return content_key if len(content_key) == cipher.key_len else fallback


def _agreed_key(info: KeyAgreement, wrapped: bytes, key: PrivateKey) -> tuple[bytes, str]:
    """(content key, key-management name) from a KARI (RFC 5753 §3.1.2, RFC 8418 §2)."""
    scheme = keyagree.KDF_SCHEMES.get(info.scheme_oid)
    if scheme is None:
        raise InputError(f"cannot decrypt: unknown key agreement algorithm {info.scheme_oid}")
    if info.wrap_oid not in keyagree.WRAP_ALGORITHMS:
        raise InputError(f"cannot decrypt: unknown key wrap algorithm {info.wrap_oid}")
    try:
        peer: ec.EllipticCurvePublicKey | x25519.X25519PublicKey
        if isinstance(key, ec.EllipticCurvePrivateKey):
            if info.originator_curve not in (None, key.curve.name):
                raise UndecryptableError
            peer = ec.EllipticCurvePublicKey.from_encoded_point(key.curve, info.originator_point)
            name = f"ecdh-{_CURVE_SHORT.get(key.curve.name, key.curve.name)}"
        elif isinstance(key, x25519.X25519PrivateKey):
            peer = x25519.X25519PublicKey.from_public_bytes(info.originator_point)
            name = "x25519"
        else:
            raise UndecryptableError
        z = keyagree.shared_secret(key, peer)
        kek = keyagree.derive_kek(scheme, z, info.wrap_oid, info.ukm)
        return keyagree.unwrap(kek, wrapped), f"{name}-{scheme.name}"
    except (ValueError, keyagree.UnwrapError):
        raise UndecryptableError from None


def _open(envelope: Envelope, key: PrivateKey, certificate: x509.Certificate) -> tuple[bytes, str]:
    """(plaintext, key-management name)."""
    cipher = cipher_by_oid(envelope.cipher_oid)
    assert cipher is not None  # parse() rejects unsupported ciphers
    if envelope.authenticated != cipher.authenticated:
        raise InputError(f"cannot decrypt: {cipher.label} does not belong in this content type")
    ours = recipient_id_for(certificate)
    for r in envelope.recipients:
        if isinstance(r, KeyTransport) and _matches(r.rid, ours):
            content_key = _transport_key(r, key, cipher)
            km = f"rsa-oaep-{r.oaep_hash}" if r.oaep else "rsa-pkcs1v15"
            break
        if isinstance(r, KeyAgreement):
            wrapped = next((ek for rid, ek in r.keys if _matches(rid, ours)), None)
            if wrapped is not None:
                content_key, km = _agreed_key(r, wrapped, key)
                break
    else:
        raise _not_addressed(envelope, certificate)
    try:
        plain = decrypt_content(
            cipher,
            content_key,
            envelope.iv,
            envelope.ciphertext,
            tag=envelope.mac,
            aad=envelope.aad,
        )
    except ContentIntegrityError:
        raise UndecryptableError from None
    return plain, km


def _is_signed(entity: bytes) -> bool:
    end = _HEADER_END.search(entity, 0, 65536)
    head = entity[: end.start() if end else 65536]
    fields, _ = parse_fields(canonical_crlf(head) + b"\r\n\r\n")
    for name, raw in fields:
        if name == "content-type":
            media, params = _header_params(raw)
            return media == "multipart/signed" or (
                media in ("application/pkcs7-mime", "application/x-pkcs7-mime")
                and params.get("smime-type") == "signed-data"
            )
    return False


def decrypt_cms(
    data: bytes,
    *,
    key: PrivateKey,
    certificate: x509.Certificate,
    max_size: int = DEFAULT_MAX_SIZE,
) -> DecryptResult:
    """Decrypt a raw DER/BER or PEM ContentInfo; ``restored_message`` is the content."""
    _check_size(data, max_size)
    der = _unpem(data) if data.lstrip().startswith(b"-----BEGIN") else data
    envelope = parse(der)
    plain, km = _open(envelope, key, certificate)
    cipher = cipher_by_oid(envelope.cipher_oid)
    assert cipher is not None
    return DecryptResult(plain, plain, cipher.name, km, False, _is_signed(plain))


def decrypt(
    message: bytes,
    *,
    key: PrivateKey,
    certificate: x509.Certificate,
    max_size: int = DEFAULT_MAX_SIZE,
) -> DecryptResult:
    """Decrypt an application/pkcs7-mime (or x-pkcs7-mime) message (RFC 8551 §3.3).

    See the module contract for the errors. ``restored_message`` applies RFC 9788.
    """
    _check_size(message, max_size)
    inner = decrypt_cms(_pkcs7_body(message), key=key, certificate=certificate, max_size=max_size)
    end = _HEADER_END.search(message)
    outer_head = message[: end.start()] if end else message  # the body is not copied
    restored, protected = restore(outer_head + b"\r\n\r\n", inner.content)
    return DecryptResult(
        inner.content,
        restored,
        inner.cipher,
        inner.key_management,
        protected,
        inner.inner_signed,
    )
