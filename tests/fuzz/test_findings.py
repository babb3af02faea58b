"""Minimal reproducers of what the fuzz targets in ``fuzz/`` found.

Each test states the contract (a value or a ``PostsealError``); they were strict xfails
until the parsers were fixed and now guard against the findings coming back.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

import pytest
from asn1crypto import cms
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from postseal.errors import PostsealError
from postseal.mail.structure import parse, part_text

NOW = datetime(2026, 1, 15, tzinfo=UTC)


def _certificate_der() -> bytes:
    key = ed25519.Ed25519PrivateKey.generate()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "finding")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + timedelta(days=1))
        .add_extension(x509.SubjectKeyIdentifier(b"\x01" * 20), critical=False)
        .sign(key, None)
    )
    return cert.public_bytes(Encoding.DER)


def _with_duplicate_extension(der: bytes) -> asn1_x509.Certificate:
    """The certificate with its first extension repeated (RFC 5280 §4.2 forbids it)."""
    cert = asn1_x509.Certificate.load(der)
    tbs = cert["tbs_certificate"]
    extensions = list(tbs["extensions"])
    tbs["extensions"] = [*extensions, extensions[0]]
    return asn1_x509.Certificate(
        {
            "tbs_certificate": tbs,
            "signature_algorithm": cert["signature_algorithm"],
            "signature_value": cert["signature_value"],
        }
    )


def _signed_data_carrying(cert: asn1_x509.Certificate) -> bytes:
    signed = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [],
            "encap_content_info": {"content_type": "data", "content": b"x"},
            "certificates": [cms.CertificateChoices(name="certificate", value=cert)],
            "signer_infos": [],
        }
    )
    info = cms.ContentInfo({"content_type": "signed_data", "content": signed})
    return bytes(info.dump())


def test_signed_data_with_a_certificate_repeating_an_extension() -> None:
    from postseal.smime import signed_data

    der = _signed_data_carrying(_with_duplicate_extension(_certificate_der()))
    with contextlib.suppress(PostsealError):
        signed_data.parse(der)


_PART_TEXT = "src/postseal/mail/structure/parts.py part_text() (also reached by IMAP SEARCH BODY/TEXT via protocols/imap/search.py): "


def _charset_finding(charset: bytes, raises: type[Exception], what: str) -> object:
    return pytest.param(
        charset,
        id=charset.decode("latin-1").replace("\x00", "NUL").replace("\x80", "x80"),
    )


@pytest.mark.parametrize(
    "charset",
    [
        _charset_finding(
            b'"iso-8859-1\x80"',
            UnicodeEncodeError,
            "a non-UTF-8 byte in the charset parameter (kept as a lone surrogate) makes "
            "codecs.lookup raise UnicodeEncodeError; only LookupError is caught",
        ),
        _charset_finding(
            b"us-\x00ascii",
            ValueError,
            "a NUL in the charset parameter makes codecs.lookup raise "
            "ValueError 'embedded null character'; only LookupError is caught",
        ),
        *(
            _charset_finding(
                name,
                LookupError,
                f"charset={name.decode()} names a bytes-to-bytes codec that codecs.lookup "
                "accepts; bytes.decode then raises LookupError '... is not a text encoding'",
            )
            for name in (b"hex", b"base64", b"rot13", b"zlib", b"uu")
        ),
        _charset_finding(
            b"idna",
            UnicodeError,
            "charset=idna: decoding with errors='replace' raises UnicodeError "
            "'Unsupported error handling replace'",
        ),
    ],
)
def test_part_text_never_raises(charset: bytes) -> None:
    raw = b"Content-Type: text/plain; charset=" + charset + b"\r\n\r\nhi\r\n"
    part_text(raw, parse(raw).root)


def test_trust_pem_pkcs7_block_that_is_not_signed_data() -> None:
    from postseal.pki.trust import load_certificates

    pem = b"-----BEGIN PKCS7-----\nMBAGCSqGSIb3DQEHAaADBAF4\n-----END PKCS7-----\n"
    with contextlib.suppress(PostsealError):
        load_certificates(pem)


def test_pop3_err_with_a_code_fits_max_reply() -> None:
    from postseal.protocols.pop3 import grammar

    assert len(grammar.err("x" * 600, code="SYS/TEMP")) <= grammar.MAX_REPLY


def test_pop3_reply_with_non_ascii_text_fits_max_reply() -> None:
    from postseal.protocols.pop3 import grammar

    assert len(grammar.ok("é" * 600)) <= grammar.MAX_REPLY


def _trust_case(name: str, raises: type[Exception], what: str) -> object:
    """One finding: ``raises`` escaped ``what`` before the fix."""
    del raises, what
    return pytest.param(name)


def _trust_input(name: str) -> bytes:
    der = _certificate_der()
    if name == "version-7":  # tbsCertificate version [0] INTEGER 2 -> 7
        return der.replace(b"\xa0\x03\x02\x01\x02", b"\xa0\x03\x02\x01\x07", 1)
    if name == "unknown-key-oid":  # SPKI algorithm 1.3.101.112 (Ed25519) -> 1.3.101.127
        return der.replace(b"\x06\x03\x2b\x65\x70\x03\x21", b"\x06\x03\x2b\x65\x7f\x03\x21", 1)
    if name == "bitstring-cn":  # the CN values as BIT STRING instead of UTF8String
        return der.replace(b"\x0c\x07finding", b"\x03\x07\x00inding")
    assert name == "duplicate-extension"
    return bytes(_with_duplicate_extension(der).dump())


@pytest.mark.parametrize(
    "name",
    [
        _trust_case(
            "version-7",
            x509.InvalidVersion,
            "_certificates_from_der() and _certificates_from_pem() (cert and PKCS#7 loads): x509.InvalidVersion (not a "
            "ValueError) escapes load_der_x509_certificate / load_der_pkcs7_certificates",
        ),
        _trust_case(
            "unknown-key-oid",
            UnsupportedAlgorithm,
            "load_certificates() accepts a certificate whose public key cannot be read; "
            "key_type() / describe() then raise UnsupportedAlgorithm from cert.public_key() "
            "(malformed key data: ValueError)",
        ),
        _trust_case(
            "bitstring-cn",
            TypeError,
            "load_certificates() accepts a certificate whose subject/issuer cannot be read "
            "(cryptography parses lazily); label() / describe() / is_self_signed() / "
            "classify_for_trust() then raise TypeError (or ValueError for other bad names)",
        ),
        _trust_case(
            "duplicate-extension",
            x509.DuplicateExtension,
            "load_certificates() accepts a certificate with a repeated extension (or an "
            "unparsable one: ValueError); classify_for_trust() then raises "
            "DuplicateExtension from cert.extensions",
        ),
    ],
)
def test_trust_loaded_certificates_can_be_described(name: str) -> None:
    from postseal.pki import trust

    with contextlib.suppress(PostsealError):
        for cert in trust.load_certificates(_trust_input(name)):
            trust.fingerprint(cert)
            trust.label(cert)
            trust.describe(cert)
            trust.key_type(cert)
            trust.is_self_signed(cert)
            with contextlib.suppress(PostsealError):
                trust.classify_for_trust(cert, "root")
