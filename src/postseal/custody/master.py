"""The master key: the one secret that protects everything postseal stores.

The master key is 32 random bytes. It never encrypts anything directly: each purpose gets
its own subkey by HKDF-SHA256 (RFC 5869) with ``info = b"postseal/" + purpose``. Data is
sealed with AES-256-GCM (NIST SP 800-38D); the associated data binds each blob to its
label (a certificate serial, a message id), so a blob copied onto another record fails to
open. Private keys are sealed as PKCS#8 DER.

Blob layout: ``b"PSK1" || nonce(12) || ciphertext+tag``.
"""

from __future__ import annotations

import base64
import hmac
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from postseal.errors import KeyCustodyError

__all__ = ["MasterKey", "PrivateKey"]

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey

_BLOB_MAGIC = b"PSK1"
_CHECK_PLAINTEXT = b"postseal master key check v1"


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
