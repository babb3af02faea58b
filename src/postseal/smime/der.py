"""A minimal DER encoder (X.690 §8, §10, §11) for assembling CMS around pre-encoded parts.

Building CMS with asn1crypto object trees costs milliseconds a message in Python-level
work; the structures postseal emits are fixed shapes around a few variable values
(digests, keys, signatures, ciphertext) and pre-encoded pieces (certificates, names,
algorithm identifiers), so they are concatenated here instead. asn1crypto stays the
parser, and the unit tests check that this module's output equals asn1crypto's encoding
of the same structures byte for byte.

Only definite-length DER is produced: a SET OF is sorted by its elements' encodings
(X.690 §11.6), integers are minimal two's complement (§8.3.2).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from functools import lru_cache

__all__ = [
    "header",
    "integer",
    "length",
    "octet_string",
    "oid",
    "retag",
    "sequence",
    "set_of",
    "time",
    "tlv",
]


def length(n: int) -> bytes:
    """The DER length octets of ``n`` content bytes (X.690 §10.1: shortest form)."""
    if n < 0x80:
        return bytes((n,))
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(raw),)) + raw


def header(tag: int, n: int) -> bytes:
    """The identifier and length octets of a value of ``n`` content bytes (X.690 §8.1).

    For nesting around a large value without copying it: join the headers and the value
    once (``tlv`` would copy the contents at every level).
    """
    if n < 0x80:
        return bytes((tag, n))
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(raw))) + raw


def tlv(tag: int, contents: bytes) -> bytes:
    """One value: a single-octet ``tag``, its length and ``contents``."""
    n = len(contents)
    if n < 0x80:
        return bytes((tag, n)) + contents
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(raw))) + raw + contents


def sequence(*parts: bytes) -> bytes:
    """SEQUENCE of already encoded elements, in order."""
    return tlv(0x30, b"".join(parts))


def set_of(parts: Iterable[bytes], tag: int = 0x31) -> bytes:
    """SET OF (or an IMPLICIT-tagged one) with the elements sorted by encoding (§11.6)."""
    return tlv(tag, b"".join(sorted(parts)))


def retag(tag: int, encoded: bytes) -> bytes:
    """An encoded value under another single-octet tag (IMPLICIT tagging, X.690 §8.14)."""
    return bytes((tag,)) + encoded[1:]


def integer(value: int) -> bytes:
    """INTEGER in the fewest two's-complement octets (X.690 §8.3.2)."""
    size = ((value if value >= 0 else ~value).bit_length() + 8) // 8
    return tlv(0x02, value.to_bytes(size, "big", signed=True))


def octet_string(data: bytes) -> bytes:
    """OCTET STRING, primitive."""
    return tlv(0x04, data)


@lru_cache(maxsize=256)
def oid(dotted: str) -> bytes:
    """OBJECT IDENTIFIER from its dotted form (X.690 §8.19)."""
    arcs = [int(a) for a in dotted.split(".")]
    if len(arcs) < 2 or arcs[0] > 2 or (arcs[0] < 2 and arcs[1] > 39):
        raise ValueError(f"not an object identifier: {dotted!r}")
    out = bytearray()
    for arc in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out.extend(reversed(chunk))
    return tlv(0x06, bytes(out))


def time(when: datetime) -> bytes:
    """Time of an aware ``when``, whole seconds (RFC 5652 §11.3): UTCTime for UTC years
    1950 to 2049, GeneralizedTime ``YYYYMMDDHHMMSSZ`` outside."""
    if when.tzinfo is None:
        raise ValueError("the time must be timezone-aware")
    utc = when.astimezone(UTC)
    fields = (utc.month, utc.day, utc.hour, utc.minute, utc.second)
    if 1950 <= utc.year < 2050:
        return b"\x17\x0d%02d%02d%02d%02d%02d%02dZ" % (utc.year % 100, *fields)
    return b"\x18\x0f%04d%02d%02d%02d%02d%02dZ" % (utc.year, *fields)
