"""Key agreement for CMS KeyAgreeRecipientInfo: ECDH and X25519, their KDFs, AES key wrap.

The sender makes an ephemeral key pair, agrees a shared secret Z with the recipient's
static public key (ephemeral-static, RFC 5753 §3.1 and RFC 8418 §2), derives a
key-encryption key (KEK) from Z and the DER ECC-CMS-SharedInfo (RFC 5753 §7.2), and wraps
the content-encryption key with AES key wrap (RFC 3394).

Supported KDFs (``KDF_SCHEMES`` maps each scheme OID to its KDF):

- X9.63 (ANSI X9.63 / SEC 1 §3.6.1) with SHA-1 — OpenSSL 3.0's default
  (``dhSinglePass-stdDH-sha1kdf-scheme``) — and SHA-224/256/384/512 (RFC 5753 §7.1.4);
  the cofactor-DH variants are accepted as the same computation because every supported
  prime curve has cofactor 1 (SEC 1 §3.3.2);
- HKDF-SHA256/384/512 (RFC 5869) for X25519 as RFC 8418 §2.2 defines it: no salt, the
  shared secret as IKM and the DER ECC-CMS-SharedInfo as ``info``.

Failures here are only misuse (wrong key type); an unwrap failure is reported as
:class:`UnwrapError` so the caller can fold it into its one "cannot decrypt" message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from asn1crypto import algos, core
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, x25519
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.x963kdf import X963KDF
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

__all__ = [
    "KDF_SCHEMES",
    "WRAP_ALGORITHMS",
    "AgreementKey",
    "KdfScheme",
    "UnwrapError",
    "derive_kek",
    "scheme_for_encryption",
    "shared_info",
    "shared_secret",
    "unwrap",
    "wrap",
]

AgreementKey = ec.EllipticCurvePrivateKey | x25519.X25519PrivateKey


class UnwrapError(Exception):
    """The wrapped key failed its RFC 3394 integrity check (wrong key or altered message)."""


@dataclass(frozen=True)
class KdfScheme:
    """One keyEncryptionAlgorithm OID of a KeyAgreeRecipientInfo (RFC 5753 §7.1.4)."""

    oid: str
    name: str
    kdf: str  # "x963" or "hkdf"
    hash_name: str


def _scheme(oid: str, name: str, kdf: str, hash_name: str) -> tuple[str, KdfScheme]:
    return oid, KdfScheme(oid, name, kdf, hash_name)


KDF_SCHEMES: dict[str, KdfScheme] = dict(
    [
        _scheme("1.3.133.16.840.63.0.2", "dhSinglePass-stdDH-sha1kdf", "x963", "sha1"),
        _scheme("1.3.132.1.11.0", "dhSinglePass-stdDH-sha224kdf", "x963", "sha224"),
        _scheme("1.3.132.1.11.1", "dhSinglePass-stdDH-sha256kdf", "x963", "sha256"),
        _scheme("1.3.132.1.11.2", "dhSinglePass-stdDH-sha384kdf", "x963", "sha384"),
        _scheme("1.3.132.1.11.3", "dhSinglePass-stdDH-sha512kdf", "x963", "sha512"),
        _scheme("1.3.133.16.840.63.0.3", "dhSinglePass-cofactorDH-sha1kdf", "x963", "sha1"),
        _scheme("1.3.132.1.14.0", "dhSinglePass-cofactorDH-sha224kdf", "x963", "sha224"),
        _scheme("1.3.132.1.14.1", "dhSinglePass-cofactorDH-sha256kdf", "x963", "sha256"),
        _scheme("1.3.132.1.14.2", "dhSinglePass-cofactorDH-sha384kdf", "x963", "sha384"),
        _scheme("1.3.132.1.14.3", "dhSinglePass-cofactorDH-sha512kdf", "x963", "sha512"),
        _scheme("1.2.840.113549.1.9.16.3.19", "dhSinglePass-stdDH-hkdf-sha256", "hkdf", "sha256"),
        _scheme("1.2.840.113549.1.9.16.3.20", "dhSinglePass-stdDH-hkdf-sha384", "hkdf", "sha384"),
        _scheme("1.2.840.113549.1.9.16.3.21", "dhSinglePass-stdDH-hkdf-sha512", "hkdf", "sha512"),
    ]
)

#: AES key wrap OIDs (RFC 3565 §2.3.2) → KEK length in bytes.
WRAP_ALGORITHMS: dict[str, int] = {
    "2.16.840.1.101.3.4.1.5": 16,
    "2.16.840.1.101.3.4.1.25": 24,
    "2.16.840.1.101.3.4.1.45": 32,
}

_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


class _EccCmsSharedInfo(core.Sequence):  # type: ignore[misc]
    """ECC-CMS-SharedInfo (RFC 5753 §7.2)."""

    _fields = [  # noqa: RUF012 - asn1crypto's declarative spec
        ("key_info", algos.EncryptionAlgorithm),
        ("entity_u_info", core.OctetString, {"explicit": 0, "optional": True}),
        ("supp_pub_info", core.OctetString, {"explicit": 2}),
    ]


def shared_info(wrap_oid: str, ukm: bytes | None) -> bytes:
    """DER ECC-CMS-SharedInfo for a KEK of the wrap algorithm's size (RFC 5753 §7.2).

    ``keyInfo`` carries the wrap OID with parameters absent (RFC 3565 §2.3.2);
    ``suppPubInfo`` is the KEK length in bits as a 32-bit big-endian integer.
    """
    if ukm is None:  # what postseal sends: the same bytes for every message
        return _shared_info_without_ukm(wrap_oid)
    return _encode_shared_info(wrap_oid, ukm)


@lru_cache(maxsize=8)
def _shared_info_without_ukm(wrap_oid: str) -> bytes:
    return _encode_shared_info(wrap_oid, None)


def _encode_shared_info(wrap_oid: str, ukm: bytes | None) -> bytes:
    kek_bits = WRAP_ALGORITHMS[wrap_oid] * 8
    info = _EccCmsSharedInfo(
        {
            "key_info": {"algorithm": wrap_oid},
            "entity_u_info": ukm,
            "supp_pub_info": kek_bits.to_bytes(4, "big"),
        }
    )
    der: bytes = info.dump()
    return der


def shared_secret(
    private: AgreementKey,
    peer: ec.EllipticCurvePublicKey | x25519.X25519PublicKey,
) -> bytes:
    """Z: the ECDH x-coordinate (SEC 1 §3.3.1) or the X25519 output (RFC 7748 §6.1).

    Raises ``ValueError`` when the peer key does not belong to the private key's group
    (including an all-zero X25519 result, RFC 8418 §2).
    """
    if isinstance(private, ec.EllipticCurvePrivateKey):
        if not isinstance(peer, ec.EllipticCurvePublicKey):
            raise ValueError("originator key is not an EC key")
        if peer.curve.name != private.curve.name:
            raise ValueError("originator key is on another curve")
        return private.exchange(ec.ECDH(), peer)
    if not isinstance(peer, x25519.X25519PublicKey):
        raise ValueError("originator key is not an X25519 key")
    return private.exchange(peer)


def derive_kek(scheme: KdfScheme, z: bytes, wrap_oid: str, ukm: bytes | None) -> bytes:
    """The KEK for ``wrap_oid`` from Z and the SharedInfo (RFC 5753 §7.2, RFC 8418 §2.2)."""
    length = WRAP_ALGORITHMS[wrap_oid]
    info = shared_info(wrap_oid, ukm)
    algorithm = _HASHES[scheme.hash_name]()
    if scheme.kdf == "hkdf":
        return HKDF(algorithm=algorithm, length=length, salt=None, info=info).derive(z)
    return X963KDF(algorithm=algorithm, length=length, sharedinfo=info).derive(z)


def wrap(kek: bytes, content_key: bytes) -> bytes:
    """AES key wrap of the content key (RFC 3394 §2.2.1)."""
    return aes_key_wrap(kek, content_key)


def unwrap(kek: bytes, wrapped: bytes) -> bytes:
    """AES key unwrap (RFC 3394 §2.2.2); :class:`UnwrapError` on a failed check."""
    try:
        return aes_key_unwrap(kek, wrapped)
    except (InvalidUnwrap, ValueError) as exc:
        raise UnwrapError(str(exc)) from None


def scheme_for_encryption(
    public: ec.EllipticCurvePublicKey | x25519.X25519PublicKey, content_key_len: int
) -> tuple[KdfScheme, str]:
    """The (KDF scheme, wrap OID) postseal uses to encrypt for this recipient key.

    P-256 → X9.63-SHA256, P-384 → X9.63-SHA384, P-521 → X9.63-SHA512 (the pairs of
    RFC 5753 §8 / RFC 6318 §2.1); X25519 → HKDF-SHA256 (RFC 8418 §2.2). The wrap size
    matches the content key so the KEK is never weaker than the key it protects.
    """
    wrap_oid = "2.16.840.1.101.3.4.1.45" if content_key_len > 16 else "2.16.840.1.101.3.4.1.5"
    if isinstance(public, x25519.X25519PublicKey):
        return KDF_SCHEMES["1.2.840.113549.1.9.16.3.19"], wrap_oid
    by_curve = {"secp256r1": "1.3.132.1.11.1", "secp384r1": "1.3.132.1.11.2"}
    return KDF_SCHEMES[by_curve.get(public.curve.name, "1.3.132.1.11.3")], wrap_oid
