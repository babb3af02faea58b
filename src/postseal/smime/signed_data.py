"""The ASN.1 of CMS SignedData (RFC 5652 §5) on asn1crypto: build and parse.

Building: :func:`signed_attributes` returns the DER ``SET OF Attribute`` that the signature
covers (RFC 5652 §5.4: the EXPLICIT SET OF tag, not the ``[0] IMPLICIT`` one of the
SignerInfo field) and :func:`assemble` wraps a computed signature into a ContentInfo.

Parsing: :func:`parse` reads a ContentInfo into plain frozen values in one guarded pass,
so malformed, truncated or over-nested input becomes one :class:`InputError` and the
verifier never touches asn1crypto's lazy objects. Input is bounded: 16 MiB, 64 levels of
nesting, 16 signers, 64 certificates.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from postseal.errors import InputError
from postseal.smime import der
from postseal.smime.algorithms import Capability, decode_capabilities, encode_capabilities
from postseal.smime.certificates import der_of

__all__ = [
    "ParsedSignedData",
    "ParsedSigner",
    "assemble",
    "check_structure",
    "matches",
    "parse",
    "signed_attributes",
]

MAX_DER = 16 * 1024 * 1024
MAX_DEPTH = 64
MAX_SIGNERS = 16
MAX_CERTS = 64

assert tsp.SigningCertificateV2  # importing tsp registers signing-certificate-v2 in cms


@dataclass(frozen=True)
class ParsedSigner:
    """One SignerInfo as plain values; attribute fields are None when absent."""

    issuer_der: bytes | None
    serial: int | None
    ski: bytes | None
    digest_algorithm: str
    signature_algorithm: str
    pss: tuple[str, str, int] | None  # (hash, MGF1 hash, salt length)
    signature: bytes
    signed_attrs: bytes | None
    message_digest: bytes | None
    content_type: str | None
    signing_time: datetime | None
    capabilities: tuple[Capability, ...]
    ess_cert_hashes: tuple[tuple[str, bytes], ...]
    attribute_problem: str | None


@dataclass(frozen=True)
class ParsedSignedData:
    """A SignedData's content type, encapsulated content, certificates and signers."""

    content_type: str
    content: bytes | None
    certificates: tuple[x509.Certificate, ...]
    signers: tuple[ParsedSigner, ...]


def signed_attributes(
    *,
    content_digest: bytes,
    signing_time: datetime,
    capabilities: Sequence[Capability],
    signer_cert: x509.Certificate,
    encryption_cert: x509.Certificate,
) -> bytes:
    """DER SET OF the signed attributes we always send (RFC 8551 §2.5, RFC 5035 §3).

    SMIMECapabilities, ESS signing-certificate-v2 and the encryption key preference depend
    only on the certificates and the capability list: they are encoded once (with
    asn1crypto) and cached; the message digest and signing time are spliced in with
    :mod:`postseal.smime.der`. The SET OF is sorted by encoding (X.690 §11.6).
    """
    fixed = _fixed_attributes(der_of(signer_cert), der_of(encryption_cert), tuple(capabilities))
    encoded = [
        _CONTENT_TYPE_DATA_ATTR,
        _signing_time_attribute(math.floor(signing_time.timestamp())),
        der.sequence(_MESSAGE_DIGEST_OID, der.tlv(0x31, der.octet_string(content_digest))),
        *fixed,
    ]
    return der.set_of(encoded)


_CONTENT_TYPE_DATA_ATTR = der.sequence(
    der.oid("1.2.840.113549.1.9.3"), der.tlv(0x31, der.oid("1.2.840.113549.1.7.1"))
)
_SIGNING_TIME_OID = der.oid("1.2.840.113549.1.9.5")
_MESSAGE_DIGEST_OID = der.oid("1.2.840.113549.1.9.4")
_DATA_OID = der.oid("1.2.840.113549.1.7.1")
_SIGNED_DATA_OID = der.oid("1.2.840.113549.1.7.2")


@lru_cache(maxsize=8)
def _signing_time_attribute(seconds: int) -> bytes:
    """The signing-time attribute of a whole second since the epoch (the messages of one
    second share it). RFC 5652 §11.3: UTCTime for 1950 to 2049, GeneralizedTime outside."""
    when = datetime.fromtimestamp(seconds, UTC)
    return der.sequence(_SIGNING_TIME_OID, der.tlv(0x31, der.time(when)))


@lru_cache(maxsize=64)
def _fixed_attributes(
    signer_der: bytes, encryption_der: bytes, capabilities: tuple[Capability, ...]
) -> tuple[bytes, ...]:
    """The encodings of the attributes that do not change from message to message."""
    signer_cert = x509.load_der_x509_certificate(signer_der)
    enc = x509.load_der_x509_certificate(encryption_der)
    ess = tsp.SigningCertificateV2(
        {
            "certs": [
                {
                    # hash_algorithm left at its DEFAULT (SHA-256): DER omits it.
                    "cert_hash": hashlib.sha256(signer_der).digest(),
                    "issuer_serial": {
                        "issuer": [
                            asn1_x509.GeneralName({"directory_name": _issuer_name(signer_cert)})
                        ],
                        "serial_number": signer_cert.serial_number,
                    },
                }
            ]
        }
    )
    attributes = (
        {
            "type": "smime_capabilities",
            "values": [cms.SMIMECapabilites.load(encode_capabilities(capabilities))],
        },
        {"type": "signing_certificate_v2", "values": [ess]},
        {
            "type": "encrypt_key_pref",
            "values": [
                cms.SMIMEEncryptionKeyPreference(
                    name="issuer_and_serial_number", value=_issuer_serial(enc)
                )
            ],
        },
    )
    return tuple(bytes(cms.CMSAttribute(item).dump()) for item in attributes)


def assemble(
    *,
    content: bytes | None,
    digest: str,
    signature_algorithm: dict[str, Any],
    attrs_der: bytes,
    signature: bytes,
    signer_cert: x509.Certificate,
    certificates: Sequence[x509.Certificate],
) -> bytes:
    """DER ContentInfo of a one-signer SignedData (version 1, issuerAndSerialNumber).

    Concatenated with :mod:`postseal.smime.der` around cached encodings of the issuer
    and serial and the algorithm identifiers; certificates are carried as their DER.
    """
    if attrs_der[:1] != b"\x31":
        raise ValueError("attrs_der must be a DER SET OF Attribute")
    digest_alg = _digest_algorithm(digest)
    signer_info = der.sequence(
        b"\x02\x01\x01",  # version 1
        _issuer_serial_der(der_of(signer_cert)),
        digest_alg,
        der.retag(0xA0, attrs_der),  # signedAttrs [0] IMPLICIT
        _signature_algorithm(repr(signature_algorithm), signature_algorithm),
        der.octet_string(signature),
    )
    if content is None:
        encap = der.sequence(_DATA_OID)
    else:
        encap = der.sequence(_DATA_OID, der.tlv(0xA0, der.octet_string(content)))
    signed = der.sequence(
        b"\x02\x01\x01",  # version 1
        der.tlv(0x31, digest_alg),
        encap,
        _certificates_set(tuple(der_of(c) for c in certificates)),
        der.tlv(0x31, signer_info),
    )
    return der.sequence(_SIGNED_DATA_OID, der.tlv(0xA0, signed))


@lru_cache(maxsize=64)
def _certificates_set(ders: tuple[bytes, ...]) -> bytes:
    """certificates [0] IMPLICIT CertificateSet: the same signer and chain every time."""
    return der.set_of(ders, tag=0xA0)


@lru_cache(maxsize=16)
def _digest_algorithm(name: str) -> bytes:
    return bytes(algos.DigestAlgorithm({"algorithm": name}).dump())


def _signature_algorithm(key: str, value: dict[str, Any]) -> bytes:
    # the dict is unhashable: cache by its repr, and encode from the dict itself
    cached = _SIGNATURE_ALGORITHMS.get(key)
    if cached is None:
        cached = bytes(algos.SignedDigestAlgorithm(value).dump())
        if len(_SIGNATURE_ALGORITHMS) < 64:
            _SIGNATURE_ALGORITHMS[key] = cached
    return cached


_SIGNATURE_ALGORITHMS: dict[str, bytes] = {}


@lru_cache(maxsize=64)
def _issuer_serial_der(cert_der: bytes) -> bytes:
    return bytes(_issuer_serial(x509.load_der_x509_certificate(cert_der)).dump())


def parse(der: bytes) -> ParsedSignedData:
    """Read a ContentInfo holding SignedData; anything malformed → InputError."""
    if len(der) > MAX_DER:
        raise InputError(f"the CMS object is larger than {MAX_DER // (1024 * 1024)} MiB")
    check_structure(der)
    try:
        info = cms.ContentInfo.load(der, strict=True)
        if info["content_type"].native != "signed_data":
            raise InputError(f"the CMS object is {info['content_type'].native}, not signed-data")
        signed = info["content"]
        encap = signed["encap_content_info"]
        raw = encap["content"]
        content = None if isinstance(raw, core.Void) else bytes(raw)
        certs = _certificates(signed["certificates"])
        infos = signed["signer_infos"]
        if len(infos) > MAX_SIGNERS:
            raise InputError(f"the signature has more than {MAX_SIGNERS} signers")
        signers = tuple(_signer(si) for si in infos)
        return ParsedSignedData(encap["content_type"].dotted, content, certs, signers)
    except InputError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as exc:
        raise InputError(f"malformed CMS SignedData: {_first_line(exc)}") from None
    except RecursionError:
        raise InputError("malformed CMS SignedData: nested too deeply") from None


def check_structure(der: bytes) -> None:
    """Walk the BER/DER TLVs without recursion: lengths fit, depth ≤ 64 (cheap, early)."""
    # One flat loop (no helper call, no scan of the stack per value): a signature with
    # its certificates is a few hundred values, each visited once.
    ends: list[int | None] = []  # end offsets of open constructed values; None = indefinite
    limits: list[int] = []  # the nearest definite end enclosing each open value
    pos = 0
    end = limit = len(der)
    started = False
    while True:
        while ends and (top := ends[-1]) is not None and pos >= top:
            ends.pop()
            limits.pop()
            limit = limits[-1] if limits else end
        if started and not ends:
            break
        if pos >= end:
            raise InputError("malformed CMS object: truncated")
        if ends and ends[-1] is None and der[pos : pos + 2] == b"\x00\x00":
            ends.pop()
            limits.pop()
            limit = limits[-1] if limits else end
            pos += 2
            continue
        started = True
        tag = der[pos]
        pos += 1
        if tag & 0x1F == 0x1F:  # high tag number form
            while pos < limit and der[pos] & 0x80:
                pos += 1
            pos += 1
        if pos >= limit:
            raise InputError("malformed CMS object: truncated header")
        first = der[pos]
        pos += 1
        length: int | None = first
        if first == 0x80:
            length = None
        elif first & 0x80:
            count = first & 0x7F
            if count > 4 or pos + count > limit:
                raise InputError("malformed CMS object: absurd length")
            length = int.from_bytes(der[pos : pos + count], "big")
            pos += count
        if length is not None and pos + length > limit:
            raise InputError("malformed CMS object: a length runs past its container (truncated?)")
        if tag & 0x20:  # constructed
            if length is None:
                ends.append(None)
            else:
                limit = pos + length
                ends.append(limit)
            limits.append(limit)
            if len(ends) > MAX_DEPTH:
                raise InputError(f"malformed CMS object: nested deeper than {MAX_DEPTH}")
        elif length is None:
            raise InputError("malformed CMS object: indefinite length on a primitive value")
        else:
            pos += length
    if pos != end:
        raise InputError("malformed CMS object: trailing data after the structure")


def _signer(si: Any) -> ParsedSigner:
    sid = si["sid"]
    issuer_der = serial = ski = None
    if sid.name == "issuer_and_serial_number":
        issuer_der = bytes(sid.chosen["issuer"].dump())
        serial = int(sid.chosen["serial_number"].native)
    else:
        ski = bytes(sid.chosen.native)
    sig_alg = si["signature_algorithm"]
    pss = None
    if sig_alg["algorithm"].native == "rsassa_pss":
        params = sig_alg["parameters"]
        mgf_hash = params["mask_gen_algorithm"]["parameters"]["algorithm"].native
        pss = (params["hash_algorithm"]["algorithm"].native, mgf_hash, params["salt_length"].native)
    attrs = si["signed_attrs"]
    signed_attrs = None
    found: dict[str, list[Any]] = {}
    if not isinstance(attrs, core.Void):
        signed_attrs = b"\x31" + _der_length(len(attrs.contents)) + attrs.contents
        for attr in attrs:
            found.setdefault(attr["type"].native, []).extend(attr["values"])
    problem = None
    for once in ("content_type", "message_digest", "signing_time"):
        if len(found.get(once, ())) > 1:
            problem = f"the {once.replace('_', '-')} attribute appears more than once"
    digest = found.get("message_digest")
    ctype = found.get("content_type")
    when = found.get("signing_time")
    return ParsedSigner(
        issuer_der=issuer_der,
        serial=serial,
        ski=ski,
        digest_algorithm=str(si["digest_algorithm"]["algorithm"].native),
        signature_algorithm=str(sig_alg["algorithm"].native),
        pss=pss,
        signature=bytes(si["signature"].native),
        signed_attrs=signed_attrs,
        message_digest=bytes(digest[0].native) if digest else None,
        content_type=ctype[0].dotted if ctype else None,
        signing_time=when[0].native if when else None,
        capabilities=_capabilities(found.get("smime_capabilities")),
        ess_cert_hashes=tuple(
            (str(c["hash_algorithm"]["algorithm"].native), bytes(c["cert_hash"].native))
            for v in found.get("signing_certificate_v2", ())
            for c in v["certs"]
        ),
        attribute_problem=problem,
    )


def _capabilities(values: list[Any] | None) -> tuple[Capability, ...]:
    if not values:
        return ()
    try:
        return decode_capabilities(bytes(values[0].dump()))
    except InputError:
        return ()  # informational only: a bad list must not hide a good signature


def _certificates(choices: Any) -> tuple[x509.Certificate, ...]:
    if isinstance(choices, core.Void):
        return ()
    if len(choices) > MAX_CERTS:
        raise InputError(f"the signature carries more than {MAX_CERTS} certificates")
    certs = []
    for choice in choices:
        if choice.name != "certificate":
            continue  # attribute certificates and "other" formats play no part here
        try:
            encoded = bytes(choice.chosen.dump())
            # cryptography warns (an error under strict test settings) on serials <= 0,
            # which RFC 5280 §4.1.2.2 forbids: such a certificate is skipped instead
            if not _serial_positive(encoded):
                continue
            cert = x509.load_der_x509_certificate(encoded)
            # cryptography parses these lazily; touch them now so a corrupt certificate
            # fails here, not in the middle of verification
            _ = (cert.subject, cert.issuer, cert.extensions)
        except (ValueError, TypeError, KeyError, x509.InvalidVersion, x509.DuplicateExtension):
            continue  # one unreadable extra certificate must not hide the signer's
        certs.append(cert)
    return tuple(certs)


def _serial_positive(cert_der: bytes) -> bool:
    """Is the certificate's serialNumber above zero? False when it cannot be read.

    Read straight from the DER (Certificate → tbsCertificate → [0] version → INTEGER):
    asn1crypto would parse every field of the tbsCertificate to reach it.
    """
    pos = 0
    for _ in range(2):  # into the Certificate, then the tbsCertificate SEQUENCE
        if cert_der[pos : pos + 1] != b"\x30":
            return False
        pos = _skip_header(cert_der, pos)
    if cert_der[pos : pos + 1] == b"\xa0":  # version [0] EXPLICIT: step over it
        start = pos
        pos = _skip_header(cert_der, pos)
        pos += _value_length(cert_der, start)
    if cert_der[pos : pos + 1] != b"\x02":
        return False
    length = _value_length(cert_der, pos)
    pos = _skip_header(cert_der, pos)
    value = cert_der[pos : pos + length]
    return len(value) == length > 0 and value[0] < 0x80 and value.strip(b"\x00") != b""


def _skip_header(data: bytes, pos: int) -> int:
    """The offset of the contents of the (low tag number) value at ``pos``."""
    first = data[pos + 1] if pos + 1 < len(data) else 0
    return pos + 2 + (first & 0x7F if first & 0x80 else 0)


def _value_length(data: bytes, pos: int) -> int:
    """The definite length of the value at ``pos`` (0 when unreadable)."""
    first = data[pos + 1] if pos + 1 < len(data) else 0
    if not first & 0x80:
        return first
    count = first & 0x7F
    return int.from_bytes(data[pos + 2 : pos + 2 + count], "big") if 0 < count <= 4 else 0


def matches(signer: ParsedSigner, cert: x509.Certificate) -> bool:
    """Does ``cert`` carry the signer identifier (RFC 5652 §5.3)?"""
    if signer.ski is not None:
        try:
            ext = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
        except x509.ExtensionNotFound:
            return False
        return ext.value.digest == signer.ski
    if signer.serial != cert.serial_number or signer.issuer_der is None:
        return False
    # asn1crypto's Name equality applies RFC 5280 §7.1 comparison (case, spaces, string
    # types); it parses lazily, so a name it cannot read simply does not match. Equal
    # encodings are equal names: the string preparation (≈ 0.1 ms a name) is skipped.
    try:
        if signer.issuer_der == cert.issuer.public_bytes():
            return True
        return bool(asn1_x509.Name.load(signer.issuer_der) == _asn1_cert(cert).issuer)
    except (ValueError, TypeError, KeyError):
        return False


def _asn1_cert(cert: x509.Certificate) -> Any:
    return asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))


def _issuer_name(cert: x509.Certificate) -> Any:
    # Loading the issuer Name alone (not the whole certificate) keeps asn1crypto from
    # re-encoding a parsed certificate tree on every dump: signing was 10x slower.
    return asn1_x509.Name.load(cert.issuer.public_bytes())


def _issuer_serial(cert: Any) -> cms.IssuerAndSerialNumber:
    if isinstance(cert, x509.Certificate):
        return cms.IssuerAndSerialNumber(
            {"issuer": _issuer_name(cert), "serial_number": cert.serial_number}
        )
    return cms.IssuerAndSerialNumber({"issuer": cert.issuer, "serial_number": cert.serial_number})


def _der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
