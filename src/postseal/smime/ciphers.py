"""Content-encryption ciphers and the per-message choice of algorithms.

Ciphers (names are postseal's canonical algorithm names; :func:`canonical_name` also
accepts OIDs and the usual spellings such as ``AES-256-CBC`` or ``aes256_cbc``):

=====================  ===========================  ==========================
name                   OID                          use
=====================  ===========================  ==========================
``aes256-gcm``         2.16.840.1.101.3.4.1.46      AuthEnvelopedData (RFC 5084 §3.2)
``aes128-gcm``         2.16.840.1.101.3.4.1.6       AuthEnvelopedData
``aes256-cbc``         2.16.840.1.101.3.4.1.42      EnvelopedData (RFC 3565 §4.1)
``aes128-cbc``         2.16.840.1.101.3.4.1.2       EnvelopedData
``chacha20-poly1305``  1.2.840.113549.1.9.16.3.18   decrypt only (RFC 8103)
``aes192-cbc``         2.16.840.1.101.3.4.1.22      decrypt only
``des-ede3-cbc``       1.2.840.113549.3.7           decrypt only (RFC 4134 vectors)
=====================  ===========================  ==========================

:func:`choose_algorithms` picks the strongest content cipher every recipient can read
(RFC 8551 §2.7.1) and one key-management scheme per recipient, and says why in one
sentence. Only what interop measurements justify is chosen for a recipient whose
SMIMECapabilities are unknown: AES-256-CBC with RSA PKCS#1 v1.5 (NSS 3.87 and gpgsm 2.2
read neither GCM nor OAEP).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from postseal.errors import InputError

__all__ = [
    "CIPHERS",
    "ENCRYPT_SLACK",
    "OAEP_CAPABILITY",
    "ContentCipher",
    "ContentIntegrityError",
    "EncryptionChoice",
    "RecipientProfile",
    "canonical_name",
    "choose_algorithms",
    "cipher_by_oid",
    "ciphertext_length",
    "decrypt_content",
    "encrypt_content",
    "encrypt_content_into",
]


class ContentIntegrityError(Exception):
    """A tag, padding or key check failed; the caller reports it as one uniform message."""


@dataclass(frozen=True)
class ContentCipher:
    """One content-encryption algorithm."""

    name: str
    label: str
    oid: str
    key_len: int
    mode: str  # "cbc", "gcm", "chacha" or "3des"
    can_encrypt: bool

    @property
    def authenticated(self) -> bool:
        """True for AEAD ciphers, which go in AuthEnvelopedData (RFC 5083)."""
        return self.mode in ("gcm", "chacha")


CIPHERS: dict[str, ContentCipher] = {
    c.name: c
    for c in (
        ContentCipher("aes256-gcm", "AES-256-GCM", "2.16.840.1.101.3.4.1.46", 32, "gcm", True),
        ContentCipher("aes128-gcm", "AES-128-GCM", "2.16.840.1.101.3.4.1.6", 16, "gcm", True),
        ContentCipher("aes256-cbc", "AES-256-CBC", "2.16.840.1.101.3.4.1.42", 32, "cbc", True),
        ContentCipher("aes128-cbc", "AES-128-CBC", "2.16.840.1.101.3.4.1.2", 16, "cbc", True),
        ContentCipher(
            "chacha20-poly1305",
            "ChaCha20-Poly1305",
            "1.2.840.113549.1.9.16.3.18",
            32,
            "chacha",
            False,
        ),
        ContentCipher("aes192-cbc", "AES-192-CBC", "2.16.840.1.101.3.4.1.22", 24, "cbc", False),
        ContentCipher("des-ede3-cbc", "3DES-CBC", "1.2.840.113549.3.7", 24, "3des", False),
    )
}
_BY_OID = {c.oid: c for c in CIPHERS.values()}
_PREFERENCE = ("aes256-gcm", "aes128-gcm", "aes256-cbc", "aes128-cbc")

#: The capability name that says a recipient reads RSAES-OAEP (RFC 8551 §2.7.1).
OAEP_CAPABILITY = "rsaes-oaep"
_OTHER_CAPABILITIES = {"1.2.840.113549.1.1.7": OAEP_CAPABILITY, "rsaesoaep": OAEP_CAPABILITY}


def canonical_name(name: str) -> str | None:
    """postseal's name for an algorithm given as a name, a spelling variant or an OID."""
    text = name.strip()
    if text in _BY_OID:
        return _BY_OID[text].name
    if text in _OTHER_CAPABILITIES:
        return _OTHER_CAPABILITIES[text]
    squashed = re.sub(r"[-_ ]", "", text.lower())
    for cipher in CIPHERS.values():
        if re.sub(r"[-_ ]", "", cipher.name) == squashed:
            return cipher.name
    return _OTHER_CAPABILITIES.get(squashed)


def cipher_by_oid(oid: str) -> ContentCipher | None:
    """The cipher for a contentEncryptionAlgorithm OID, or None when unsupported."""
    return _BY_OID.get(oid)


#: Bytes of room :func:`encrypt_content_into` needs after the ciphertext: the cipher
#: context writes through a buffer that must hold the input plus one block less a byte.
ENCRYPT_SLACK = 15


def ciphertext_length(cipher: ContentCipher, plaintext_length: int) -> int:
    """The encrypted content's length: CBC pads to the next whole block, always adding at
    least one byte (RFC 5652 §6.3); GCM adds nothing (the tag travels apart)."""
    if cipher.mode == "gcm":
        return plaintext_length
    return plaintext_length - plaintext_length % 16 + 16


def encrypt_content(
    cipher: ContentCipher, key: bytes, iv: bytes, plaintext: bytes
) -> tuple[bytes, bytes | None]:
    """(ciphertext, tag) — CBC with PKCS#7 padding (RFC 5652 §6.3) or GCM with a 16-byte
    ICV and no additional data (RFC 5084 §3.2, RFC 5083 §2.2 with no authAttrs)."""
    length = ciphertext_length(cipher, len(plaintext))
    out = bytearray(length + ENCRYPT_SLACK)
    tag = encrypt_content_into(cipher, key, iv, plaintext, memoryview(out))
    del out[length:]
    return bytes(out), tag


def encrypt_content_into(
    cipher: ContentCipher, key: bytes, iv: bytes, plaintext: bytes, out: memoryview
) -> bytes | None:
    """Write the encrypted content (see :func:`encrypt_content`) at the start of ``out``
    and return the GCM tag (None for CBC).

    ``out`` must hold :func:`ciphertext_length` + :data:`ENCRYPT_SLACK` bytes: the
    ciphertext goes straight where the caller wants it (inside the DER of the message),
    so the bulk of the message is never copied here.
    """
    length = ciphertext_length(cipher, len(plaintext))
    if len(out) < length + ENCRYPT_SLACK:
        raise ValueError("the output buffer is too small for the ciphertext")
    if cipher.mode == "gcm":
        aead = Cipher(algorithms.AES(key), modes.GCM(iv)).encryptor()
        aead.update_into(plaintext, out)
        aead.finalize()
        return aead.tag
    # PKCS#7 padding touches only the last block: the whole blocks are encrypted where
    # they are, then the padded tail; the plaintext is never copied into a padded buffer.
    whole = len(plaintext) - len(plaintext) % 16
    fill = 16 - len(plaintext) % 16
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    written = enc.update_into(memoryview(plaintext)[:whole], out)
    enc.update_into(plaintext[whole:] + bytes((fill,)) * fill, out[written:])
    enc.finalize()
    return None


def decrypt_content(
    cipher: ContentCipher,
    key: bytes,
    iv: bytes,
    ciphertext: bytes,
    *,
    tag: bytes | None = None,
    aad: bytes = b"",
) -> bytes:
    """Plaintext, or :class:`ContentIntegrityError` for a wrong key, tag or padding.

    ``iv`` is the CBC IV or the AEAD nonce. Malformed parameters (IV sizes) raise
    :class:`InputError` because they are visible without any key.
    """
    if len(key) != cipher.key_len:
        raise ContentIntegrityError("content key has the wrong size")
    if cipher.mode in ("gcm", "chacha"):
        if tag is None or not 4 <= len(tag) <= 16:
            raise InputError("cannot decrypt: the authentication tag is missing or malformed")
        try:
            if cipher.mode == "chacha":
                if len(iv) != 12 or len(tag) != 16:
                    raise InputError("cannot decrypt: malformed ChaCha20-Poly1305 parameters")
                return ChaCha20Poly1305(key).decrypt(iv, ciphertext + tag, aad)
            if not 1 <= len(iv) <= 64:
                raise InputError("cannot decrypt: malformed AES-GCM nonce")
            dec = Cipher(algorithms.AES(key), modes.GCM(iv, tag, min_tag_length=len(tag)))
            aead = dec.decryptor()
            aead.authenticate_additional_data(aad)
            return aead.update(ciphertext) + aead.finalize()
        except InvalidTag:
            raise ContentIntegrityError("tag mismatch") from None
    block = 8 if cipher.mode == "3des" else 16
    if len(iv) != block:
        raise InputError(f"cannot decrypt: the {cipher.label} IV is not {block} bytes")
    if not ciphertext or len(ciphertext) % block:
        raise ContentIntegrityError("ciphertext is not whole blocks")
    algorithm = TripleDES(key) if cipher.mode == "3des" else algorithms.AES(key)
    ctx = Cipher(algorithm, modes.CBC(iv)).decryptor()
    padded = ctx.update(ciphertext) + ctx.finalize()
    unpadder = padding.PKCS7(block * 8).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise ContentIntegrityError("bad padding") from None


@dataclass(frozen=True)
class RecipientProfile:
    """What the choice needs to know about one recipient.

    ``key_kind`` is ``"rsa"``, ``"ec-p256"``, ``"ec-p384"``, ``"ec-p521"`` or ``"x25519"``;
    ``capabilities`` are canonical names, or None when unknown.
    """

    address: str
    key_kind: str
    capabilities: frozenset[str] | None
    prefer_oaep: bool | None


@dataclass(frozen=True)
class EncryptionChoice:
    """The algorithms of one message: a content cipher and per-recipient key management.

    ``key_management`` pairs each address with ``rsa-pkcs1v15``, ``rsa-oaep-sha256``,
    ``ecdh-p256-x963-sha256``, ``ecdh-p384-x963-sha384``, ``ecdh-p521-x963-sha512`` or
    ``x25519-hkdf-sha256``.
    """

    content_cipher: str
    key_management: tuple[tuple[str, str], ...]
    reason: str


_KM_LABELS = {
    "rsa-pkcs1v15": "RSA PKCS#1 v1.5",
    "rsa-oaep-sha256": "RSA-OAEP (SHA-256)",
    "ecdh-p256-x963-sha256": "ECDH P-256",
    "ecdh-p384-x963-sha384": "ECDH P-384",
    "ecdh-p521-x963-sha512": "ECDH P-521",
    "x25519-hkdf-sha256": "X25519 with HKDF",
}
_EC_SCHEMES = {
    "ec-p256": "ecdh-p256-x963-sha256",
    "ec-p384": "ecdh-p384-x963-sha384",
    "ec-p521": "ecdh-p521-x963-sha512",
    "x25519": "x25519-hkdf-sha256",
}
_LEGACY_PEERS = "NSS 3.87 and gpgsm 2.2 read nothing stronger"


def _key_management(profile: RecipientProfile) -> str:
    if profile.key_kind != "rsa":
        return _EC_SCHEMES[profile.key_kind]
    oaep = profile.prefer_oaep
    if oaep is None:
        oaep = profile.capabilities is not None and OAEP_CAPABILITY in profile.capabilities
    return "rsa-oaep-sha256" if oaep else "rsa-pkcs1v15"


def _possessive(addresses: Sequence[str]) -> str:
    if len(addresses) == 1:
        return f"{addresses[0]}'s capabilities are"
    return f"the capabilities of {', '.join(addresses)} are"


def _pick_cipher(recipients: Sequence[RecipientProfile], explicit: str | None) -> tuple[str, str]:
    """(cipher name, why) following the rules in the module docstring."""
    known = [r for r in recipients if r.capabilities is not None]
    unknown = [r.address for r in recipients if r.capabilities is None]
    if explicit is not None:
        chosen = CIPHERS.get(canonical_name(explicit) or "")
        if chosen is None or not chosen.can_encrypt:
            offered = ", ".join(_PREFERENCE)
            raise InputError(
                f"cannot encrypt with {explicit!r}: postseal encrypts only with {offered}",
                hint="choose one of those, or leave the cipher to postseal",
            )
        for r in known:
            if r.capabilities is not None and chosen.name not in r.capabilities:
                raise InputError(
                    f"cannot encrypt with {chosen.label}: {r.address} does not "
                    "advertise it in its SMIMECapabilities",
                    hint="leave the cipher to postseal, which picks one every recipient reads",
                )
        return chosen.name, "chosen explicitly by the caller"
    candidates = [c for c in _PREFERENCE if not (unknown and CIPHERS[c].authenticated)]
    for name in candidates:
        if all(r.capabilities is not None and name in r.capabilities for r in known):
            if unknown:
                return name, f"{_possessive(unknown)} unknown; {_LEGACY_PEERS}"
            return name, "the strongest cipher every recipient advertises"
    return "aes256-cbc", (
        "the recipients advertise no common cipher postseal offers; "
        "AES-256-CBC is what every mainstream client reads"
    )


def choose_algorithms(
    recipients: Sequence[RecipientProfile], *, cipher: str | None = None
) -> EncryptionChoice:
    """Choose the content cipher and per-recipient key management (RFC 8551 §2.7.1).

    GCM only when every recipient advertised it; otherwise the strongest common CBC
    cipher; AES-256-CBC when any recipient's capabilities are unknown. RSA recipients get
    OAEP with SHA-256 when they prefer it or advertise it, else PKCS#1 v1.5. An explicit
    ``cipher`` a recipient is known not to support raises :class:`InputError` naming it.
    """
    if not recipients:
        raise InputError("cannot encrypt: no recipients", hint="name at least one recipient")
    return _choose(tuple(recipients), cipher)


@lru_cache(maxsize=256)
def _choose(recipients: tuple[RecipientProfile, ...], cipher: str | None) -> EncryptionChoice:
    # The same correspondents get mail again and again: their choice is remembered
    # (profiles and choices are frozen; a refusal is raised again, never remembered).
    name, why = _pick_cipher(recipients, cipher)
    pairs = tuple((r.address, _key_management(r)) for r in recipients)
    labels: list[str] = []
    for _, km in pairs:
        if _KM_LABELS[km] not in labels:
            labels.append(_KM_LABELS[km])
    reason = f"{CIPHERS[name].label} with {' and '.join(labels)}: {why}"
    return EncryptionChoice(name, pairs, reason)
