"""Key types and key generation for the certificate authority and its users.

Custody of the keys (sealing under the master key) is :mod:`postseal.custody`.
"""

from __future__ import annotations

from typing import Literal, get_args

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from postseal.custody.master import PrivateKey
from postseal.errors import ConfigError

__all__ = [
    "KEY_TYPES",
    "CaKey",
    "KeyType",
    "PrivateKey",
    "generate_key",
    "key_type_of",
    "signature_hash",
]

KeyType = Literal["rsa-2048", "rsa-3072", "rsa-4096", "ecdsa-p256", "ecdsa-p384"]
KEY_TYPES: tuple[str, ...] = get_args(KeyType)

CaKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


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
