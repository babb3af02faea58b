"""Key types, key generation, and custody: private keys wrapped under the master key.

The master key is 32 random bytes. It never encrypts anything directly: each purpose gets
its own subkey by HKDF-SHA256 (RFC 5869) with ``info = b"postseal/" + purpose``. Private
keys are stored as PKCS#8 DER sealed with AES-256-GCM (NIST SP 800-38D); the associated
data binds each blob to its label (e.g. the certificate serial), so a blob copied onto
another record fails to open.

Blob layout: ``b"PSK1" || nonce(12) || ciphertext+tag``.
"""

from __future__ import annotations

import base64
import hmac
from dataclasses import dataclass
from typing import Literal, get_args

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from postseal.errors import ConfigError, KeyCustodyError

__all__ = [
    "KEY_TYPES",
    "CaKey",
    "KeyType",
    "MasterKey",
    "PrivateKey",
    "generate_key",
    "key_type_of",
    "signature_hash",
]

KeyType = Literal["rsa-2048", "rsa-3072", "rsa-4096", "ecdsa-p256", "ecdsa-p384"]
KEY_TYPES: tuple[str, ...] = get_args(KeyType)

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
CaKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

_BLOB_MAGIC = b"PSK1"
_CHECK_PLAINTEXT = b"postseal master key check v1"


def parse_key_type(text: str) -> KeyType:
    """Validate a key-type name; ConfigError lists the accepted ones."""
    if text not in KEY_TYPES:
        raise ConfigError(f"unknown key type {text!r}; choose one of {', '.join(KEY_TYPES)}")
    return text  # type: ignore[return-value]


def generate_key(key_type: KeyType) -> CaKey:
    """A fresh private key of ``key_type`` (RSA exponent 65537)."""
    if key_type.startswith("rsa-"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(key_type[4:]))
    curve: ec.EllipticCurve = ec.SECP256R1() if key_type == "ecdsa-p256" else ec.SECP384R1()
    return ec.generate_private_key(curve)


def key_type_of(public_key: object) -> str:
    """Human name of a public key's type: ``RSA-2048``, ``EC-P256``, ``Ed25519``…"""
    if isinstance(public_key, rsa.RSAPublicKey):
        return f"RSA-{public_key.key_size}"
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return {"secp256r1": "EC-P256", "secp384r1": "EC-P384", "secp521r1": "EC-P521"}.get(
            public_key.curve.name, f"EC-{public_key.curve.name}"
        )
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return "Ed25519"
    return type(public_key).__name__


def signature_hash(key: CaKey) -> hashes.SHA256 | hashes.SHA384:
    """The hash a CA key signs with: SHA-384 for P-384, SHA-256 otherwise."""
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.key_size >= 384:
        return hashes.SHA384()
    return hashes.SHA256()


@dataclass(frozen=True, slots=True)
class MasterKey:
    """The organisation's master key; ``repr`` never shows it."""

    secret: bytes

    def __post_init__(self) -> None:
        if len(self.secret) != 32:
            raise KeyCustodyError("the master key must be 32 bytes (44 characters of base64)")

    def __repr__(self) -> str:
        return "MasterKey(***)"

    @classmethod
    def from_text(cls, text: str) -> MasterKey:
        """Parse the base64 form kept in ``master.key`` or ``POSTSEAL_MASTER_KEY``."""
        try:
            secret = base64.b64decode(text.strip(), validate=True)
        except ValueError:
            raise KeyCustodyError("the master key is not valid base64") from None
        return cls(secret)

    def to_text(self) -> str:
        return base64.b64encode(self.secret).decode("ascii")

    def subkey(self, purpose: str) -> bytes:
        """A 32-byte key for one purpose (HKDF-SHA256, RFC 5869)."""
        return HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"postseal/" + purpose.encode()
        ).derive(self.secret)

    def seal(self, purpose: str, plaintext: bytes, *, label: str, nonce: bytes) -> bytes:
        """AES-256-GCM under the purpose's subkey, bound to ``label``; 12-byte ``nonce``."""
        sealed = AESGCM(self.subkey(purpose)).encrypt(nonce, plaintext, label.encode())
        return _BLOB_MAGIC + nonce + sealed

    def open(self, purpose: str, blob: bytes, *, label: str) -> bytes:
        """Reverse :meth:`seal`; KeyCustodyError if the key or the label does not match."""
        if len(blob) < 4 + 12 + 16 or blob[:4] != _BLOB_MAGIC:
            raise KeyCustodyError(f"the protected data for {label} is damaged")
        try:
            return AESGCM(self.subkey(purpose)).decrypt(blob[4:16], blob[16:], label.encode())
        except InvalidTag:
            raise KeyCustodyError(
                f"the master key cannot open the protected data for {label}",
                hint="use the master key this store was created with",
            ) from None

    def check_value(self, nonce: bytes) -> bytes:
        """A sealed constant stored at ``init``; opening it proves the key is right."""
        return self.seal("check", _CHECK_PLAINTEXT, label="check", nonce=nonce)

    def matches(self, check: bytes) -> bool:
        try:
            opened = self.open("check", check, label="check")
        except KeyCustodyError:
            return False
        return hmac.compare_digest(opened, _CHECK_PLAINTEXT)

    def wrap_private_key(self, key: PrivateKey, *, label: str, nonce: bytes) -> bytes:
        der = key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return self.seal("private-key", der, label=label, nonce=nonce)

    def unwrap_private_key(self, blob: bytes, *, label: str) -> PrivateKey:
        der = self.open("private-key", blob, label=label)
        key = serialization.load_der_private_key(der, password=None)
        if not isinstance(
            key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
        ):
            raise KeyCustodyError(f"the private key for {label} has an unsupported type")
        return key
