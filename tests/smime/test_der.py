"""The hand-written DER encoder against asn1crypto: same structure, same bytes.

:mod:`postseal.smime.der` assembles SignedData, EnvelopedData and the signed attributes
without asn1crypto object trees (for speed); these tests rebuild each structure the
asn1crypto way for several certificates and key types and require identical output, so
the fast path cannot drift from what the parsers and the peers were validated against.
"""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from asn1crypto import algos, cms, core, keys, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import padding as sym_padding
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from postseal.smime import der, enveloped, signed_data
from postseal.smime.algorithms import DEFAULT_CAPABILITIES, encode_capabilities
from postseal.smime.ciphers import (
    CIPHERS,
    ENCRYPT_SLACK,
    ciphertext_length,
    decrypt_content,
    encrypt_content_into,
)
from postseal.smime.encrypt import _ec_spki_without_parameters
from tests.smime.envelope_fixtures import party
from tests.smime.signing_fixtures import pki

_DER = serialization.Encoding.DER


def _asn1_cert(cert: x509.Certificate) -> Any:
    return asn1_x509.Certificate.load(cert.public_bytes(_DER))


def _issuer_serial(cert: x509.Certificate) -> cms.IssuerAndSerialNumber:
    return cms.IssuerAndSerialNumber(
        {
            "issuer": asn1_x509.Name.load(cert.issuer.public_bytes()),
            "serial_number": cert.serial_number,
        }
    )


def _reference_attributes(
    digest: bytes, when: datetime, signer: x509.Certificate, enc: x509.Certificate
) -> bytes:
    """The signed attributes as asn1crypto builds them (the pre-optimisation code)."""
    time = cms.Time(
        name="utc_time" if 1950 <= when.year < 2050 else "generalized_time",
        value=when.replace(microsecond=0),
    )
    ess = tsp.SigningCertificateV2(
        {
            "certs": [
                {
                    "cert_hash": hashlib.sha256(signer.public_bytes(_DER)).digest(),
                    "issuer_serial": {
                        "issuer": [
                            asn1_x509.GeneralName(
                                {
                                    "directory_name": asn1_x509.Name.load(
                                        signer.issuer.public_bytes()
                                    )
                                }
                            )
                        ],
                        "serial_number": signer.serial_number,
                    },
                }
            ]
        }
    )
    attrs = cms.CMSAttributes(
        [
            {"type": "content_type", "values": ["data"]},
            {"type": "signing_time", "values": [time]},
            {"type": "message_digest", "values": [digest]},
            {
                "type": "smime_capabilities",
                "values": [cms.SMIMECapabilites.load(encode_capabilities(DEFAULT_CAPABILITIES))],
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
        ]
    )
    return bytes(attrs.dump(force=True))


def _reference_signed_data(
    content: bytes | None,
    digest: str,
    sig_alg: dict[str, Any],
    attrs: bytes,
    signature: bytes,
    signer: x509.Certificate,
    certs: list[x509.Certificate],
) -> bytes:
    info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": {"issuer_and_serial_number": _issuer_serial(signer)},
            "digest_algorithm": {"algorithm": digest},
            "signed_attrs": cms.CMSAttributes.load(attrs),
            "signature_algorithm": sig_alg,
            "signature": signature,
        }
    )
    encap: dict[str, Any] = {"content_type": "data"}
    if content is not None:
        encap["content"] = content
    signed = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [{"algorithm": digest}],
            "encap_content_info": encap,
            "certificates": [_asn1_cert(c) for c in certs],
            "signer_infos": [info],
        }
    )
    return bytes(cms.ContentInfo({"content_type": "signed_data", "content": signed}).dump())


@pytest.mark.parametrize("name", ["alice", "carol", "peggy", "dave"])
@pytest.mark.parametrize(
    "when",
    [
        datetime(2026, 11, 23, 9, 0, 5, 123456, tzinfo=UTC),
        datetime(2049, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=2))),
        datetime(1999, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=-5))),
        datetime(2051, 6, 1, 12, 0, 0, tzinfo=UTC),
    ],
)
def test_signed_attributes_match_asn1crypto(name: str, when: datetime) -> None:
    p = pki()
    user = p.users[name]
    other = p.users["alice" if name != "alice" else "carol"]
    for digest in (os.urandom(32), os.urandom(48), os.urandom(64)):
        for enc in (user.cert, other.cert):
            fast = signed_data.signed_attributes(
                content_digest=digest,
                signing_time=when,
                capabilities=DEFAULT_CAPABILITIES,
                signer_cert=user.cert,
                encryption_cert=enc,
            )
            assert fast == _reference_attributes(digest, when, user.cert, enc)


_SIGNATURE_ALGORITHMS: list[tuple[str, dict[str, Any]]] = [
    ("sha256", {"algorithm": "rsassa_pkcs1v15"}),
    ("sha384", {"algorithm": "sha384_ecdsa"}),
    ("sha512", {"algorithm": "ed25519"}),
    (
        "sha256",
        {
            "algorithm": "rsassa_pss",
            "parameters": {
                "hash_algorithm": {"algorithm": "sha256"},
                "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": "sha256"}},
                "salt_length": 32,
            },
        },
    ),
]


@pytest.mark.parametrize("name", ["alice", "carol", "peggy", "dave"])
@pytest.mark.parametrize(("digest", "sig_alg"), _SIGNATURE_ALGORITHMS)
@pytest.mark.parametrize("content", [None, b"", b"x" * 200, os.urandom(70_000)])
def test_signed_data_matches_asn1crypto(
    name: str, digest: str, sig_alg: dict[str, Any], content: bytes | None
) -> None:
    p = pki()
    user = p.users[name]
    attrs = signed_data.signed_attributes(
        content_digest=os.urandom(32),
        signing_time=datetime.now(UTC),
        capabilities=DEFAULT_CAPABILITIES,
        signer_cert=user.cert,
        encryption_cert=user.cert,
    )
    signature = os.urandom(256 if name == "alice" else 71)
    certs = [user.cert, p.issuing, p.users["carol"].cert]
    fast = signed_data.assemble(
        content=content,
        digest=digest,
        signature_algorithm=sig_alg,
        attrs_der=attrs,
        signature=signature,
        signer_cert=user.cert,
        certificates=certs,
    )
    reference = _reference_signed_data(content, digest, sig_alg, attrs, signature, user.cert, certs)
    assert fast == reference


def _reference_rid(cert: x509.Certificate, by_key_id: bool, *, kari: bool) -> Any:
    ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    parsed = _asn1_cert(cert)
    by_name = cms.IssuerAndSerialNumber(
        {"issuer": parsed.issuer, "serial_number": parsed.serial_number}
    )
    if kari:
        if by_key_id:
            return cms.KeyAgreementRecipientIdentifier(
                name="r_key_id", value={"subject_key_identifier": ski}
            )
        return cms.KeyAgreementRecipientIdentifier(name="issuer_and_serial_number", value=by_name)
    if by_key_id:
        return cms.RecipientIdentifier(name="subject_key_identifier", value=ski)
    return cms.RecipientIdentifier(name="issuer_and_serial_number", value=by_name)


def _reference_content_info(
    infos: list[cms.RecipientInfo], cipher_oid: str, iv: bytes, body: bytes, tag: bytes | None
) -> bytes:
    params: Any = (
        core.OctetString(iv)
        if tag is None
        else enveloped._GcmParameters({"nonce": iv, "icv_len": len(tag)})
    )
    eci = cms.EncryptedContentInfo(
        {
            "content_type": "data",
            "content_encryption_algorithm": {"algorithm": cipher_oid, "parameters": params},
            "encrypted_content": body,
        }
    )
    if tag is not None:
        data: Any = cms.AuthEnvelopedData(
            {
                "version": "v0",
                "recipient_infos": infos,
                "auth_encrypted_content_info": eci,
                "mac": tag,
            }
        )
        kind = "authenticated_enveloped_data"
    else:
        v2 = any(ri.name == "kari" for ri in infos)
        data = cms.EnvelopedData(
            {
                "version": "v2" if v2 else "v0",
                "recipient_infos": infos,
                "encrypted_content_info": eci,
            }
        )
        kind = "enveloped_data"
    return bytes(cms.ContentInfo({"content_type": kind, "content": data}).dump())


@pytest.mark.parametrize("by_key_id", [False, True])
@pytest.mark.parametrize(
    ("cipher_oid", "tag"),
    [("2.16.840.1.101.3.4.1.42", None), ("2.16.840.1.101.3.4.1.46", b"t" * 16)],
)
def test_enveloped_data_matches_asn1crypto(
    by_key_id: bool, cipher_oid: str, tag: bytes | None
) -> None:
    fast: list[bytes] = []
    reference: list[cms.RecipientInfo] = []
    for name, oaep in (("bob", False), ("bob2", True)):
        cert = party(name).cert
        key = os.urandom(256)
        fast.append(enveloped.ktri(cert, key, oaep=oaep, by_key_id=by_key_id))
        alg = (
            {
                "algorithm": "rsaes_oaep",
                "parameters": {
                    "hash_algorithm": {"algorithm": "sha256"},
                    "mask_gen_algorithm": {
                        "algorithm": "mgf1",
                        "parameters": {"algorithm": "sha256"},
                    },
                },
            }
            if oaep
            else {"algorithm": "rsaes_pkcs1v15"}
        )
        ktri = cms.KeyTransRecipientInfo(
            {
                "version": "v2" if by_key_id else "v0",
                "rid": _reference_rid(cert, by_key_id, kari=False),
                "key_encryption_algorithm": alg,
                "encrypted_key": key,
            }
        )
        reference.append(cms.RecipientInfo(name="ktri", value=ktri))
    for name, scheme, wrap, ukm in (
        ("carol", "1.3.132.1.11.1", "2.16.840.1.101.3.4.1.45", None),
        ("dave", "1.3.132.1.11.2", "2.16.840.1.101.3.4.1.5", b"u" * 64),
        ("erin", "1.2.840.113549.1.9.16.3.19", "2.16.840.1.101.3.4.1.45", None),
    ):
        who = party(name)
        public = who.cert.public_key()
        if isinstance(public, ec.EllipticCurvePublicKey):
            spki = _ec_spki_without_parameters(ec.generate_private_key(public.curve).public_key())
        else:
            spki = public.public_bytes(_DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        key = os.urandom(40)
        fast.append(
            enveloped.kari(
                who.cert,
                originator_spki=spki,
                scheme_oid=scheme,
                wrap_oid=wrap,
                encrypted_key=key,
                ukm=ukm,
                by_key_id=by_key_id,
            )
        )
        fields: dict[str, Any] = {
            "version": "v3",
            "originator": cms.OriginatorIdentifierOrKey(
                name="originator_key", value=keys.PublicKeyInfo.load(spki)
            ),
            "key_encryption_algorithm": {
                "algorithm": scheme,
                "parameters": algos.EncryptionAlgorithm({"algorithm": wrap}),
            },
            "recipient_encrypted_keys": [
                {"rid": _reference_rid(who.cert, by_key_id, kari=True), "encrypted_key": key}
            ],
        }
        if ukm is not None:
            fields["ukm"] = ukm
        reference.append(cms.RecipientInfo(name="kari", value=cms.KeyAgreeRecipientInfo(fields)))
    iv = os.urandom(12 if tag else 16)
    body = os.urandom(50_000)
    for count in (1, 2, len(fast)):
        got = enveloped.content_info(
            fast[:count], cipher_oid=cipher_oid, iv=iv, ciphertext=body, tag=tag
        )
        want = _reference_content_info(reference[:count], cipher_oid, iv, body, tag)
        assert got == want
        assert enveloped.parse(got).ciphertext == body


def test_ec_spki_matches_asn1crypto() -> None:
    for curve in (ec.SECP256R1(), ec.SECP384R1(), ec.SECP521R1()):
        public = ec.generate_private_key(curve).public_key()
        point = public.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        reference = keys.PublicKeyInfo(
            {"algorithm": {"algorithm": "ec"}, "public_key": keys.ECPointBitString(point)}
        ).dump()
        assert _ec_spki_without_parameters(public) == reference


@pytest.mark.parametrize(
    "value", [0, 1, 127, 128, 255, 256, -1, -128, -129, 2**64, 2**159 + 12345, -(2**70)]
)
def test_integer_matches_asn1crypto(value: int) -> None:
    assert der.integer(value) == core.Integer(value).dump()


@pytest.mark.parametrize(
    "dotted", ["1.2.840.113549.1.7.2", "2.16.840.1.101.3.4.1.42", "1.3.132.0.34", "2.999.3"]
)
def test_oid_matches_asn1crypto(dotted: str) -> None:
    assert der.oid(dotted) == core.ObjectIdentifier(dotted).dump()


@pytest.mark.parametrize("size", [0, 1, 127, 128, 255, 256, 65535, 65536, 16_777_216])
def test_lengths_match_asn1crypto(size: int) -> None:
    data = b"\0" * size
    assert der.octet_string(data) == core.OctetString(data).dump()


def test_set_of_sorts_like_asn1crypto() -> None:
    items = [os.urandom(n) for n in (5, 200, 3, 3, 130, 1)]
    reference = core.SetOf([core.OctetString(i) for i in items], spec=core.OctetString).dump()
    assert der.set_of(der.octet_string(i) for i in items) == reference


@pytest.mark.parametrize(
    "when",
    [
        datetime(1950, 1, 1, tzinfo=UTC),
        datetime(2026, 11, 23, 9, 0, 5, tzinfo=UTC),
        datetime(2049, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime(2050, 1, 1, tzinfo=UTC),
        datetime(1949, 12, 31, 23, 59, 59, tzinfo=UTC),
        datetime(2030, 1, 1, 1, 30, tzinfo=timezone(timedelta(hours=2))),
    ],
)
def test_time_matches_asn1crypto(when: datetime) -> None:
    utc = when.astimezone(UTC)
    kind = core.UTCTime if 1950 <= utc.year < 2050 else core.GeneralizedTime
    assert der.time(when) == kind(utc).dump()


@pytest.mark.parametrize("cipher", ["aes256-cbc", "aes128-cbc", "aes256-gcm", "aes128-gcm"])
@pytest.mark.parametrize("size", [0, 1, 15, 16, 17, 50_000])
def test_ciphertext_written_in_place_matches_a_plain_encryption(cipher: str, size: int) -> None:
    content = CIPHERS[cipher]
    key, iv = os.urandom(content.key_len), os.urandom(12 if content.authenticated else 16)
    plaintext = os.urandom(size)
    length = ciphertext_length(content, size)
    buffer = bytearray(b"\xee" * (7 + length + ENCRYPT_SLACK))
    tag = encrypt_content_into(content, key, iv, plaintext, memoryview(buffer)[7:])
    assert buffer[:7] == b"\xee" * 7
    if content.authenticated:
        aead = AESGCM(key).encrypt(iv, plaintext, None)
        assert (bytes(buffer[7 : 7 + length]), tag) == (aead[:-16], aead[-16:])
    else:
        padder = sym_padding.PKCS7(128).padder()
        padded = padder.update(plaintext) + padder.finalize()
        cbc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
        assert bytes(buffer[7 : 7 + length]) == cbc.update(padded) + cbc.finalize()
        assert tag is None
    assert decrypt_content(content, key, iv, bytes(buffer[7 : 7 + length]), tag=tag) == plaintext


def test_too_small_a_buffer_is_refused() -> None:
    content = CIPHERS["aes256-cbc"]
    with pytest.raises(ValueError, match="too small"):
        encrypt_content_into(
            content, os.urandom(32), os.urandom(16), b"x" * 32, memoryview(bytearray(48))
        )
