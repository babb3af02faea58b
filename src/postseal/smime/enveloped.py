"""The ASN.1 of EnvelopedData (RFC 5652 §6) and AuthEnvelopedData (RFC 5083) on asn1crypto.

Building: :func:`ktri`, :func:`kari` and :func:`content_info` assemble DER. Parsing:
:func:`parse` turns DER/BER (gpgsm writes indefinite lengths and constructed OCTET
STRINGs) into plain frozen values — :class:`Envelope` with its :class:`KeyTransport`,
:class:`KeyAgreement` and :class:`OtherRecipient` infos — so the key and cipher code never
touches asn1crypto. Every malformation becomes :class:`postseal.errors.InputError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from asn1crypto import algos, cms, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509

from postseal.errors import InputError
from postseal.smime import der
from postseal.smime.certificates import der_of
from postseal.smime.ciphers import cipher_by_oid

__all__ = [
    "Envelope",
    "KeyAgreement",
    "KeyTransport",
    "OtherRecipient",
    "RecipientId",
    "content_info",
    "content_info_head",
    "kari",
    "ktri",
    "parse",
    "recipient_id_for",
]

_ENVELOPED = "1.2.840.113549.1.7.3"
_AUTH_ENVELOPED = "1.2.840.113549.1.9.16.1.23"
_EC_PUBLIC_KEY = "1.2.840.10045.2.1"
_GCM_OIDS = ("2.16.840.1.101.3.4.1.6", "2.16.840.1.101.3.4.1.26", "2.16.840.1.101.3.4.1.46")
_CURVES = {"1.2.840.10045.3.1.7": "secp256r1", "1.3.132.0.34": "secp384r1"} | {
    "1.3.132.0.35": "secp521r1"
}
_OBSOLETE = {"1.2.840.113549.3.2": "RC2-CBC", "1.3.14.3.2.7": "DES-CBC"}
_OAEP_SHA256 = {
    "algorithm": "rsaes_oaep",
    "parameters": {
        "hash_algorithm": {"algorithm": "sha256"},
        "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": "sha256"}},
    },
}


class _AlgorithmIdentifier(core.Sequence):  # type: ignore[misc]
    """AlgorithmIdentifier with raw parameters, so unknown OIDs parse (RFC 5280 §4.1.1.2)."""

    _fields = [  # noqa: RUF012 - asn1crypto's declarative spec
        ("algorithm", core.ObjectIdentifier),
        ("parameters", core.Any, {"optional": True}),
    ]


class _SubjectPublicKeyInfo(core.Sequence):  # type: ignore[misc]
    _fields = [  # noqa: RUF012
        ("algorithm", _AlgorithmIdentifier),
        ("public_key", core.OctetBitString),
    ]


class _GcmParameters(core.Sequence):  # type: ignore[misc]
    """GCMParameters (RFC 5084 §3.2); the ICV length defaults to 12."""

    _fields = [  # noqa: RUF012
        ("nonce", core.OctetString),
        ("icv_len", core.Integer, {"default": 12}),
    ]


@dataclass(frozen=True)
class RecipientId:
    """RecipientIdentifier / KeyAgreeRecipientIdentifier (RFC 5652 §6.2.1, §6.2.2).

    ``issuer_der`` is the issuer Name as encoded: equal encodings are equal names, so the
    RFC 5280 §7.1 comparison (string preparation of every attribute, ≈ 0.1 ms a name)
    only runs for names encoded differently.
    """

    issuer: asn1_x509.Name | None
    serial: int | None
    key_id: bytes | None
    issuer_der: bytes | None = None

    def matches(self, other: RecipientId) -> bool:
        """Same issuer (RFC 5280 §7.1 comparison) and serial, or same key identifier.

        A name that cannot be prepared for comparison (RFC 4518 prohibited characters,
        a value of the wrong type) matches nothing.
        """
        if self.key_id is not None:
            return other.key_id is not None and self.key_id == other.key_id
        if self.issuer is None or other.issuer is None or self.serial != other.serial:
            return False
        if self.issuer_der is not None and self.issuer_der == other.issuer_der:
            return True
        try:
            return bool(self.issuer == other.issuer)
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError):
            return False


@dataclass(frozen=True)
class KeyTransport:
    """KeyTransRecipientInfo (RFC 5652 §6.2.1) with RSA v1.5 or RSAES-OAEP (RFC 8017)."""

    rid: RecipientId
    oaep: bool
    oaep_hash: str
    mgf_hash: str
    label: bytes
    encrypted_key: bytes


@dataclass(frozen=True)
class KeyAgreement:
    """KeyAgreeRecipientInfo (RFC 5652 §6.2.2) with an originator public key."""

    originator_algorithm: str
    originator_curve: str | None
    originator_point: bytes
    ukm: bytes | None
    scheme_oid: str
    wrap_oid: str
    keys: tuple[tuple[RecipientId, bytes], ...]


@dataclass(frozen=True)
class OtherRecipient:
    """A recipient kind postseal does not decrypt for (KEK, password, other)."""

    description: str


@dataclass(frozen=True)
class Envelope:
    """A parsed EnvelopedData or AuthEnvelopedData."""

    authenticated: bool
    recipients: tuple[KeyTransport | KeyAgreement | OtherRecipient, ...]
    content_type: str
    cipher_oid: str
    iv: bytes
    icv_len: int | None
    ciphertext: bytes
    mac: bytes | None
    aad: bytes


def recipient_id_for(certificate: x509.Certificate) -> tuple[RecipientId, RecipientId | None]:
    """(issuer-and-serial id, subject-key-identifier id or None) of a certificate."""
    return _recipient_ids(der_of(certificate))


@lru_cache(maxsize=64)
def _recipient_ids(cert_der: bytes) -> tuple[RecipientId, RecipientId | None]:
    cert = asn1_x509.Certificate.load(cert_der)
    issuer = cert.issuer
    by_name = RecipientId(issuer, cert.serial_number, None, bytes(issuer.dump()))
    ski = cert.key_identifier
    return by_name, (RecipientId(None, None, ski) if ski else None)


@lru_cache(maxsize=256)
def _issuer_and_serial_der(cert_der: bytes) -> bytes:
    cert = asn1_x509.Certificate.load(cert_der)
    return bytes(
        cms.IssuerAndSerialNumber(
            {"issuer": cert.issuer, "serial_number": cert.serial_number}
        ).dump()
    )


def _key_id(certificate: x509.Certificate) -> bytes:
    ext = certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    return ext.value.digest


@lru_cache(maxsize=1)
def _ktri_algorithms() -> tuple[bytes, bytes]:
    """(rsaEncryption, RSAES-OAEP with SHA-256) KeyEncryptionAlgorithmIdentifier DER."""
    return (
        bytes(cms.KeyEncryptionAlgorithm({"algorithm": "rsaes_pkcs1v15"}).dump()),
        bytes(cms.KeyEncryptionAlgorithm(_OAEP_SHA256).dump()),
    )


@lru_cache(maxsize=32)
def _kari_algorithm(scheme_oid: str, wrap_oid: str) -> bytes:
    return bytes(
        cms.KeyEncryptionAlgorithm(
            {
                "algorithm": scheme_oid,
                "parameters": algos.EncryptionAlgorithm({"algorithm": wrap_oid}),
            }
        ).dump()
    )


def ktri(
    certificate: x509.Certificate, encrypted_key: bytes, *, oaep: bool, by_key_id: bool = False
) -> bytes:
    """DER RecipientInfo holding a KeyTransRecipientInfo: v0 by issuer and serial, v2 by
    subjectKeyIdentifier (RFC 5652 §6.2.1). OAEP uses SHA-256 and MGF1-SHA-256
    (RFC 8017 §A.2.1, RFC 4055 §4.1) — the defaults would mean SHA-1."""
    algorithm = _ktri_algorithms()[1 if oaep else 0]
    if by_key_id:
        version, rid = b"\x02\x01\x02", der.tlv(0x80, _key_id(certificate))  # [0] IMPLICIT
    else:
        version = b"\x02\x01\x00"
        rid = _issuer_and_serial_der(der_of(certificate))
    return der.sequence(version, rid, algorithm, der.octet_string(encrypted_key))


def kari(
    certificate: x509.Certificate,
    *,
    originator_spki: bytes,
    scheme_oid: str,
    wrap_oid: str,
    encrypted_key: bytes,
    ukm: bytes | None = None,
    by_key_id: bool = False,
) -> bytes:
    """DER RecipientInfo holding a KeyAgreeRecipientInfo v3 with the ephemeral
    originatorKey (RFC 5753 §3.1.1, RFC 8418 §2.3); ``originator_spki`` is a DER
    SubjectPublicKeyInfo. ``by_key_id`` names the recipient by rKeyId instead of issuer
    and serial (RFC 5652 §6.2.2)."""
    if originator_spki[:1] != b"\x30":
        raise ValueError("originator_spki must be a DER SubjectPublicKeyInfo")
    if by_key_id:  # rKeyId [0] IMPLICIT RecipientKeyIdentifier
        rid = der.tlv(0xA0, der.octet_string(_key_id(certificate)))
    else:
        rid = _issuer_and_serial_der(der_of(certificate))
    fields = [
        b"\x02\x01\x03",  # version 3
        # originator [0] EXPLICIT, originatorKey [1] IMPLICIT OriginatorPublicKey
        der.tlv(0xA0, der.retag(0xA1, originator_spki)),
    ]
    if ukm is not None:
        fields.append(der.tlv(0xA1, der.octet_string(ukm)))  # ukm [1] EXPLICIT
    fields.append(_kari_algorithm(scheme_oid, wrap_oid))
    fields.append(der.sequence(der.sequence(rid, der.octet_string(encrypted_key))))
    return der.tlv(0xA1, b"".join(fields))  # kari [1] IMPLICIT


def content_info(
    recipient_infos: list[bytes],
    *,
    cipher_oid: str,
    iv: bytes,
    ciphertext: bytes,
    tag: bytes | None,
) -> bytes:
    """DER ContentInfo: EnvelopedData for CBC, AuthEnvelopedData for GCM (``tag`` set).

    ``recipient_infos`` are DER RecipientInfos from :func:`ktri` and :func:`kari`.
    EnvelopedData is v2 when a KARI is present, else v0 (RFC 5652 §6.1);
    AuthEnvelopedData is always v0 with no authAttrs (RFC 5083 §2.1).
    """
    head = content_info_head(
        recipient_infos,
        cipher_oid=cipher_oid,
        iv=iv,
        ciphertext_length=len(ciphertext),
        tag_length=None if tag is None else len(tag),
    )
    return b"".join((head, ciphertext, b"" if tag is None else der.octet_string(tag)))


def content_info_head(
    recipient_infos: list[bytes],
    *,
    cipher_oid: str,
    iv: bytes,
    ciphertext_length: int,
    tag_length: int | None,
) -> bytes:
    """The DER of :func:`content_info` up to its encrypted content.

    The ``ciphertext_length`` bytes of encrypted content follow it; with a
    ``tag_length`` (AuthEnvelopedData) the mac OCTET STRING comes last. Nested headers
    are computed from the lengths, so the ciphertext can be written into place once
    instead of being copied at every level of nesting.
    """
    if tag_length is None:
        parameters = der.octet_string(iv)
        trailer_length = 0
    else:
        parameters = bytes(_GcmParameters({"nonce": iv, "icv_len": tag_length}).dump())
        trailer_length = len(der.header(0x04, tag_length)) + tag_length
    content_head = der.header(0x80, ciphertext_length)  # encryptedContent [0] IMPLICIT
    eci_head = _DATA_OID + der.sequence(der.oid(cipher_oid), parameters) + content_head
    eci_length = len(eci_head) + ciphertext_length
    infos = der.set_of(recipient_infos)
    if tag_length is not None:
        version, kind = b"\x02\x01\x00", _AUTH_ENVELOPED_OID
    else:
        has_kari = any(ri[:1] == b"\xa1" for ri in recipient_infos)
        version = b"\x02\x01\x02" if has_kari else b"\x02\x01\x00"
        kind = _ENVELOPED_OID
    body_head = version + infos + der.header(0x30, eci_length) + eci_head
    body_length = len(body_head) + ciphertext_length + trailer_length
    body_tag = der.header(0x30, body_length)  # the (Auth)EnvelopedData SEQUENCE
    explicit = der.header(0xA0, len(body_tag) + body_length)  # content [0] EXPLICIT
    total = len(kind) + len(explicit) + len(body_tag) + body_length
    return der.header(0x30, total) + kind + explicit + body_tag + body_head


_DATA_OID = der.oid("1.2.840.113549.1.7.1")
_ENVELOPED_OID = der.oid(_ENVELOPED)
_AUTH_ENVELOPED_OID = der.oid(_AUTH_ENVELOPED)


def _rid(choice: core.Choice) -> RecipientId:
    if choice.name == "issuer_and_serial_number":
        issuer = choice.chosen["issuer"]
        serial = choice.chosen["serial_number"].native
        return RecipientId(issuer, serial, None, bytes(issuer.dump()))
    if choice.name == "subject_key_identifier":
        return RecipientId(None, None, choice.chosen.native)
    return RecipientId(None, None, choice.chosen["subject_key_identifier"].native)  # rKeyId


def _ktri(info: cms.KeyTransRecipientInfo) -> KeyTransport:
    alg = info["key_encryption_algorithm"]
    oid = alg["algorithm"].dotted
    if oid == "1.2.840.113549.1.1.1":
        return KeyTransport(_rid(info["rid"]), False, "", "", b"", info["encrypted_key"].native)
    if oid != "1.2.840.113549.1.1.7":
        raise InputError(f"cannot decrypt: unknown key transport algorithm {oid}")
    params = alg["parameters"]
    if not isinstance(params, algos.RSAESOAEPParams):  # absent: all defaults (SHA-1)
        params = algos.RSAESOAEPParams({})
    mgf = params["mask_gen_algorithm"]
    if mgf["algorithm"].native != "mgf1":
        raise InputError("cannot decrypt: unknown OAEP mask generation function")
    source = params["p_source_algorithm"]
    return KeyTransport(
        _rid(info["rid"]),
        True,
        params["hash_algorithm"]["algorithm"].native,
        mgf["parameters"]["algorithm"].native,
        source["parameters"].native or b"",
        info["encrypted_key"].native,
    )


def _kari(info: cms.KeyAgreeRecipientInfo) -> KeyAgreement | OtherRecipient:
    originator = info["originator"]
    if originator.name != "originator_key":
        return OtherRecipient("a static-static key agreement postseal does not support")
    spki = _SubjectPublicKeyInfo.load(originator.chosen.untag().dump())
    algorithm = spki["algorithm"]["algorithm"].dotted
    curve = None
    params = spki["algorithm"]["parameters"]
    if algorithm == _EC_PUBLIC_KEY and isinstance(params, core.Any) and params.contents:
        # RFC 5480 namedCurve; absent or NULL (as OpenSSL writes) means "the recipient's".
        parsed = params.parse()
        if isinstance(parsed, core.ObjectIdentifier):
            curve = _CURVES.get(parsed.dotted, parsed.dotted)
    kea = _AlgorithmIdentifier.load(info["key_encryption_algorithm"].dump())
    wrap = kea["parameters"].parse(_AlgorithmIdentifier)
    ukm = info["ukm"].native if info["ukm"] else None
    entries = tuple(
        (_rid(rek["rid"]), rek["encrypted_key"].native) for rek in info["recipient_encrypted_keys"]
    )
    return KeyAgreement(
        algorithm,
        curve,
        spki["public_key"].native,
        ukm,
        kea["algorithm"].dotted,
        wrap["algorithm"].dotted,
        entries,
    )


def _recipient(ri: cms.RecipientInfo) -> KeyTransport | KeyAgreement | OtherRecipient:
    if ri.name == "ktri":
        return _ktri(ri.chosen)
    if ri.name == "kari":
        return _kari(ri.chosen)
    kinds = {"kekri": "a pre-shared key", "pwri": "a password", "ori": "an unknown method"}
    return OtherRecipient(kinds.get(ri.name, ri.name))


def _der_tlv(tag: int, contents: bytes) -> bytes:
    n = len(contents)
    if n < 0x80:
        return bytes([tag, n]) + contents
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + contents


def parse(der: bytes) -> Envelope:
    """Parse a ContentInfo holding EnvelopedData or AuthEnvelopedData.

    The AEAD additional data is the DER authAttrs re-tagged as SET OF (RFC 5083 §2.2).
    Raises :class:`InputError` for any malformation, other content types, detached
    content or unknown algorithm parameters.
    """
    try:
        return _parse(der)
    except InputError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError, RecursionError):
        raise InputError(
            "cannot decrypt: the CMS structure is malformed",
            hint="the message was damaged in transit or was not produced by an S/MIME client",
        ) from None


def _parse(der: bytes) -> Envelope:
    info = cms.ContentInfo.load(der, strict=True)
    kind = info["content_type"].dotted
    if kind not in (_ENVELOPED, _AUTH_ENVELOPED):
        raise InputError(
            f"cannot decrypt: the CMS object is {info['content_type'].native}, "
            "not enveloped-data or authEnveloped-data"
        )
    body = info["content"]
    authenticated = kind == _AUTH_ENVELOPED
    eci = body["auth_encrypted_content_info" if authenticated else "encrypted_content_info"]
    if eci["encrypted_content"].native is None:
        raise InputError("cannot decrypt: the encrypted content is detached (not in the message)")
    alg = _AlgorithmIdentifier.load(eci["content_encryption_algorithm"].dump())
    cipher_oid = alg["algorithm"].dotted
    params = alg["parameters"]
    icv_len = None
    if cipher_by_oid(cipher_oid) is None:
        name = _OBSOLETE.get(cipher_oid, cipher_oid)
        raise InputError(
            f"cannot decrypt: the content cipher {name} is not supported",
            hint="ask the sender to use AES (any current S/MIME client offers it)",
        )
    if not isinstance(params, core.Any) or not params.contents:
        raise InputError(f"cannot decrypt: content cipher {cipher_oid} has no parameters")
    if cipher_oid in _GCM_OIDS:
        gcm = params.parse(_GcmParameters)
        iv, icv_len = gcm["nonce"].native, gcm["icv_len"].native
    else:
        iv = params.parse(core.OctetString).native
    mac = aad = None
    if authenticated:
        mac = body["mac"].native
        attrs = body["auth_attrs"]
        aad = b"" if isinstance(attrs, core.Void) else _der_tlv(0x31, attrs.contents)
        if icv_len is not None and len(mac) != icv_len:
            raise InputError("cannot decrypt: the MAC length disagrees with the GCM parameters")
    recipients = tuple(_recipient(ri) for ri in body["recipient_infos"])
    if not recipients:
        raise InputError("cannot decrypt: the message has no recipients")
    return Envelope(
        authenticated,
        recipients,
        eci["content_type"].dotted,
        cipher_oid,
        iv,
        icv_len,
        eci["encrypted_content"].native,
        mac,
        aad or b"",
    )
