"""Algorithm names, policy and SMIMECapabilities for S/MIME 4.0.

Digest names follow asn1crypto (``"sha256"``); :func:`micalg` gives the RFC 8551 §3.5.3
spelling (``"sha-256"``). MD5 and SHA-1 are weak (RFC 8551 §2.1, RFC 6151, RFC 9155):
verification reports them as not acceptable unless the caller opts in.

SMIMECapabilities (RFC 8551 §2.5.2) is a SEQUENCE OF SMIMECapability, best first. Its
decoder is shared with the envelope side, which picks a content-encryption algorithm from
what a correspondent announced; unknown capabilities are kept by OID, never dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from asn1crypto import algos, core
from cryptography.hazmat.primitives import hashes

from postseal.errors import InputError

__all__ = [
    "AES128_CBC",
    "AES128_GCM",
    "AES256_CBC",
    "AES256_GCM",
    "DEFAULT_CAPABILITIES",
    "RSAES_OAEP",
    "SIGNING_DIGESTS",
    "WEAK_DIGESTS",
    "Capability",
    "algorithm_acceptable",
    "decode_capabilities",
    "encode_capabilities",
    "hash_algorithm",
    "micalg",
]

#: Digests we sign with (RFC 8551 §2.1: SHA-256 MUST, SHA-384/512 SHOULD).
SIGNING_DIGESTS = ("sha256", "sha384", "sha512")
#: Digests a verifier reports as not acceptable unless ``accept_weak``.
WEAK_DIGESTS = frozenset({"md2", "md5", "sha1"})

_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "md5": hashes.MD5,
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}

# RFC 8551 §3.5.3 micalg values; sha1/md5 for labelling legacy input only.
_MICALG = {
    "md5": "md5",
    "sha1": "sha-1",
    "sha224": "sha-224",
    "sha256": "sha-256",
    "sha384": "sha-384",
    "sha512": "sha-512",
}

# Signature algorithms a verifier accepts without ``accept_weak`` (RFC 8551 §2.2);
# DSA is legacy-only there, like SHA-1.
STRONG_SIGNATURES = frozenset({"rsassa_pkcs1v15", "rsassa_pss", "ecdsa", "ed25519"})
MAX_CAPABILITIES = 64


def hash_algorithm(name: str) -> hashes.HashAlgorithm:
    """A fresh ``cryptography`` hash for an asn1crypto digest name; unknown → InputError."""
    try:
        return _HASHES[name]()
    except KeyError:
        raise InputError(f"unsupported digest algorithm {name!r}") from None


def micalg(name: str) -> str:
    """The ``micalg`` parameter for a digest name (RFC 8551 §3.5.3)."""
    try:
        return _MICALG[name]
    except KeyError:
        raise InputError(f"unsupported digest algorithm {name!r}") from None


def algorithm_acceptable(digest: str, signature: str) -> bool:
    """True when a digest/signature pair is acceptable without ``accept_weak``."""
    return digest in SIGNING_DIGESTS and signature in STRONG_SIGNATURES


@dataclass(frozen=True)
class Capability:
    """One SMIMECapability: an OID, a short name where known, and DER parameters."""

    oid: str
    name: str
    parameters: bytes | None = None


class _CapabilityAsn1(core.Sequence):  # type: ignore[misc]
    # The capability is kept as a raw OID: the set of meaningful values is open-ended.
    _fields = [  # noqa: RUF012 - asn1crypto's declarative schema
        ("capability_id", core.ObjectIdentifier),
        ("parameters", core.Any, {"optional": True}),
    ]


class _CapabilitiesAsn1(core.SequenceOf):  # type: ignore[misc]
    _child_spec = _CapabilityAsn1


def _oaep_sha256_params() -> bytes:
    # RFC 4055 §4.1: the defaults are SHA-1, so SHA-256 must be spelled out.
    params = algos.RSAESOAEPParams(
        {
            "hash_algorithm": {"algorithm": "sha256"},
            "mask_gen_algorithm": {
                "algorithm": "mgf1",
                "parameters": {"algorithm": "sha256"},
            },
        }
    )
    return bytes(params.dump())


AES256_GCM = Capability("2.16.840.1.101.3.4.1.46", "aes256-gcm")
AES128_GCM = Capability("2.16.840.1.101.3.4.1.6", "aes128-gcm")
AES256_CBC = Capability("2.16.840.1.101.3.4.1.42", "aes256-cbc")
AES128_CBC = Capability("2.16.840.1.101.3.4.1.2", "aes128-cbc")
RSAES_OAEP = Capability("1.2.840.113549.1.1.7", "rsaes-oaep", _oaep_sha256_params())

#: What postseal announces, best first (RFC 8551 §2.7: AES-GCM preferred over CBC).
DEFAULT_CAPABILITIES: tuple[Capability, ...] = (
    AES256_GCM,
    AES128_GCM,
    AES256_CBC,
    AES128_CBC,
    RSAES_OAEP,
)

_KNOWN_NAMES: dict[str, str] = {c.oid: c.name for c in DEFAULT_CAPABILITIES} | {
    "2.16.840.1.101.3.4.1.26": "aes192-gcm",
    "2.16.840.1.101.3.4.1.22": "aes192-cbc",
    "1.2.840.113549.3.7": "des-ede3-cbc",
    "1.2.840.113549.3.2": "rc2-cbc",
    "1.3.14.3.2.7": "des-cbc",
    "1.2.840.113549.1.9.16.3.18": "chacha20-poly1305",
    "1.2.840.113549.1.9.16.2.11": "preferBinaryInside",
    "1.2.840.113549.1.1.1": "rsaes-pkcs1-v1_5",
}


def encode_capabilities(capabilities: Sequence[Capability]) -> bytes:
    """DER of an SMIMECapabilities SEQUENCE, in the given (preference) order."""
    items: list[dict[str, Any]] = []
    for cap in capabilities:
        item: dict[str, Any] = {"capability_id": cap.oid}
        if cap.parameters is not None:
            item["parameters"] = core.Any.load(cap.parameters)
        items.append(item)
    return bytes(_CapabilitiesAsn1(items).dump(force=True))


def decode_capabilities(der: bytes) -> tuple[Capability, ...]:
    """Parse SMIMECapabilities DER, keeping order; malformed → InputError.

    Unknown OIDs get their dotted form as ``name``. At most 64 entries are read.
    """
    try:
        parsed = _CapabilitiesAsn1.load(der, strict=True)
        if len(parsed) > MAX_CAPABILITIES:
            raise InputError("SMIMECapabilities lists too many algorithms")
        result = []
        for item in parsed:
            oid = str(item["capability_id"].dotted)
            params = item["parameters"]
            raw = None if isinstance(params, core.Void) else bytes(params.dump())
            result.append(Capability(oid, _KNOWN_NAMES.get(oid, oid), raw))
        return tuple(result)
    except InputError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, OverflowError) as exc:
        raise InputError(f"malformed SMIMECapabilities: {exc}") from None
