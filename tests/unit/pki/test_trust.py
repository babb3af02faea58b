"""Loading and classifying trust-store input: every error message and the happy paths."""

from __future__ import annotations

import base64
import hashlib
from functools import cache

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    pkcs7,
)

from postseal.errors import CertificateFormatError, InputError
from postseal.pki.trust import (
    classify_for_trust,
    describe,
    fingerprint,
    key_type,
    load_certificates,
    load_crl,
)

from . import certfactory as f


@cache
def pki() -> tuple[f.Issued, f.Issued, f.Issued]:
    root = f.root("Trust Root", slot=150)
    ca = f.intermediate("Trust CA", root, slot=260)
    return root, ca, f.leaf("Tess", ca, slot=360)


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.PEM)


def key_pem() -> bytes:
    return f.key("ec", 150).private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())


# ---- load_certificates -------------------------------------------------------------


def test_single_pem_and_der() -> None:
    root, _, _ = pki()
    assert load_certificates(pem(root.cert)) == [root.cert]
    assert load_certificates(root.cert.public_bytes(Encoding.DER)) == [root.cert]


def test_bundle_in_any_order_with_text_and_crlf() -> None:
    root, ca, leaf = pki()
    text = (
        b"Bag Attributes: friendlyName: tess\r\n"
        + pem(leaf.cert).replace(b"\n", b"\r\n")
        + b"subject=CN = Trust Root\r\n"
        + pem(root.cert)
        + b"\n\n"
        + pem(ca.cert)
        + b"trailing notes\n"
    )
    assert load_certificates(text) == [leaf.cert, root.cert, ca.cert]


def test_pkcs7_bundle_pem_and_der() -> None:
    root, ca, _ = pki()
    p7_pem = pkcs7.serialize_certificates([root.cert, ca.cert], Encoding.PEM)
    p7_der = pkcs7.serialize_certificates([root.cert, ca.cert], Encoding.DER)
    assert set(load_certificates(p7_pem)) == {root.cert, ca.cert}
    assert set(load_certificates(p7_der)) == {root.cert, ca.cert}


def test_openssl_trusted_certificate_block() -> None:
    root, _, _ = pki()
    der = root.cert.public_bytes(Encoding.DER) + bytes.fromhex("300a300806062b0601050507")
    body = base64.encodebytes(der)
    text = b"-----BEGIN TRUSTED CERTIFICATE-----\n" + body + b"-----END TRUSTED CERTIFICATE-----\n"
    assert load_certificates(text) == [root.cert]


def test_a_crl_block_beside_certificates_is_skipped() -> None:
    root, _, _ = pki()
    crl_pem = f.crl(root).public_bytes(Encoding.PEM)
    assert load_certificates(pem(root.cert) + crl_pem) == [root.cert]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "no certificate found: the file is empty"),
        (b"  \r\n\t", "no certificate found: the file is empty"),
        (b"hello world", "no certificate found: the file is neither PEM"),
        (b"\x30\x03\x02\x01\x01", "corrupt DER certificate: "),
        (b"-----BEGIN CERTIFICATE-----\n", "corrupt certificate in PEM block 1: "),
    ],
)
def test_unusable_input_is_refused_with_one_line(data: bytes, message: str) -> None:
    with pytest.raises(CertificateFormatError) as caught:
        load_certificates(data)
    assert caught.value.message.startswith(message)
    assert "\n" not in str(caught.value)


def test_private_key_pem_is_refused() -> None:
    with pytest.raises(CertificateFormatError) as caught:
        load_certificates(key_pem())
    assert caught.value.message == "no certificate found: the file holds a PRIVATE KEY block"


def test_private_key_beside_a_certificate_is_refused() -> None:
    root, _, _ = pki()
    with pytest.raises(CertificateFormatError, match="PRIVATE KEY block"):
        load_certificates(pem(root.cert) + key_pem())


def test_der_private_key_is_named() -> None:
    der = f.key("ec", 150).private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
    with pytest.raises(CertificateFormatError, match="holds a DER private key"):
        load_certificates(der)


def test_only_a_crl_points_to_crl_import() -> None:
    root, _, _ = pki()
    with pytest.raises(CertificateFormatError) as caught:
        load_certificates(f.crl(root).public_bytes(Encoding.PEM))
    assert caught.value.message == "no certificate found: the file holds a X509 CRL block"
    assert caught.value.hint is not None
    assert "postseal crl import FILE" in caught.value.hint


def test_corrupt_base64_names_the_block() -> None:
    root, ca, _ = pki()
    broken = pem(ca.cert).replace(b"\n", b"\n!!", 2)
    with pytest.raises(CertificateFormatError) as caught:
        load_certificates(pem(root.cert) + broken)
    assert caught.value.message.startswith("corrupt certificate in PEM block 2: ")
    assert "base64" in caught.value.message


def test_truncated_base64_is_corrupt() -> None:
    root, _, _ = pki()
    lines = pem(root.cert).splitlines()
    truncated = b"\n".join([*lines[:3], lines[-1]]) + b"\n"
    with pytest.raises(CertificateFormatError, match="corrupt certificate in PEM block 1"):
        load_certificates(truncated)


def test_missing_end_line_is_reported() -> None:
    root, ca, _ = pki()
    cut = pem(root.cert).split(b"-----END")[0]
    with pytest.raises(CertificateFormatError, match="has no END line"):
        load_certificates(cut + pem(ca.cert))


# ---- load_crl ----------------------------------------------------------------------


def test_crl_pem_and_der() -> None:
    root, _, _ = pki()
    crl = f.crl(root)
    assert load_crl(crl.public_bytes(Encoding.PEM)) == crl
    assert load_crl(crl.public_bytes(Encoding.DER)) == crl


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("empty", "no CRL found: the file is empty"),
        ("cert", "no CRL found: the file holds a CERTIFICATE block"),
        ("two", "the file holds 2 CRLs"),
        ("corrupt-pem", "corrupt CRL in PEM block 1: "),
        ("corrupt-der", "corrupt DER CRL: "),
        ("text", "no CRL found: the file is neither PEM"),
    ],
)
def test_crl_errors(kind: str, message: str) -> None:
    root, _, _ = pki()
    crl_pem = f.crl(root).public_bytes(Encoding.PEM)
    data = {
        "empty": b"",
        "cert": pem(root.cert),
        "two": crl_pem + crl_pem,
        "corrupt-pem": crl_pem.replace(b"\n", b"\n#", 1),
        "corrupt-der": b"\x30\x03\x02\x01\x01",
        "text": b"not a crl",
    }[kind]
    with pytest.raises(CertificateFormatError) as caught:
        load_crl(data)
    assert caught.value.message.startswith(message)


# ---- fingerprint, describe ---------------------------------------------------------


def test_fingerprint_is_sha256_of_der_in_lower_hex() -> None:
    root, _, _ = pki()
    expected = hashlib.sha256(root.cert.public_bytes(Encoding.DER)).hexdigest()
    assert fingerprint(root.cert) == expected


def test_describe_lists_the_fields() -> None:
    root, _, _ = pki()
    info = describe(root.cert)
    assert info["subject"] == "CN=Trust Root,O=Example Org"
    assert info["issuer"] == info["subject"]
    assert info["serial"] == f"{root.cert.serial_number:X}"
    assert info["not_before"] == "2026-05-02T12:00:00+00:00"
    assert info["not_after"] == "2027-06-01T12:00:00+00:00"
    assert info["fingerprint"] == fingerprint(root.cert)
    assert info["key_type"] == "EC-P256"


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("rsa", "RSA-2048"), ("ec", "EC-P256"), ("ed25519", "Ed25519"), ("x25519", "X25519")],
)
def test_key_type(kind: f.KeyKind, expected: str) -> None:
    _, ca, _ = pki()
    assert key_type(f.leaf("Keyed", ca, kind=kind, slot=370).cert) == expected


# ---- classify_for_trust ------------------------------------------------------------


def test_happy_classifications() -> None:
    root, ca, _ = pki()
    other = f.root("Other Trust Root", slot=151)
    classify_for_trust(root.cert, "root")
    classify_for_trust(ca.cert, "intermediate")
    classify_for_trust(f.cross(root, other).cert, "cross")


@pytest.mark.parametrize("kind", ["root", "intermediate", "cross"])
def test_leaf_is_not_a_ca(kind: str) -> None:
    _, _, leaf = pki()
    with pytest.raises(InputError) as caught:
        classify_for_trust(leaf.cert, kind)  # type: ignore[arg-type]
    assert str(caught.value) == (
        "CN=Tess,O=Example Org is not a CA certificate (basicConstraints CA:FALSE or absent); "
        "a trust store holds CA certificates only — import the issuing CA or root instead"
    )


def test_missing_basic_constraints_is_not_a_ca() -> None:
    bare = f.make("Bare", subject_key=f.key("ec", 152), ca=None)
    with pytest.raises(InputError, match="is not a CA certificate"):
        classify_for_trust(bare.cert, "root")


def test_ca_without_key_cert_sign() -> None:
    odd = f.root("CRL Signer", slot=153, ku=["crl_sign", "digital_signature"])
    with pytest.raises(InputError, match="lacks keyCertSign"):
        classify_for_trust(odd.cert, "root")


def test_root_that_is_not_self_signed() -> None:
    _, ca, _ = pki()
    with pytest.raises(InputError) as caught:
        classify_for_trust(ca.cert, "root")
    assert str(caught.value) == (
        "CN=Trust CA,O=Example Org is not self-signed (it is issued by "
        "CN=Trust Root,O=Example Org) — add it with `postseal trust add-intermediate`"
    )


def test_self_issued_but_not_self_signed_is_no_root() -> None:
    root, _, _ = pki()
    rollover = f.make(root.cert.subject, issuer=root, subject_key=f.key("ec", 154), ca=True)
    with pytest.raises(InputError, match="does not verify with its own key"):
        classify_for_trust(rollover.cert, "root")
    classify_for_trust(rollover.cert, "intermediate")


@pytest.mark.parametrize("kind", ["intermediate", "cross"])
def test_self_signed_is_not_an_intermediate(kind: str) -> None:
    root, _, _ = pki()
    with pytest.raises(InputError) as caught:
        classify_for_trust(root.cert, kind)  # type: ignore[arg-type]
    assert "is self-signed" in caught.value.message
    assert caught.value.hint == "add it with `postseal trust add-root`"


def test_unknown_kind_is_a_programming_error() -> None:
    root, _, _ = pki()
    with pytest.raises(ValueError, match="unknown trust kind"):
        classify_for_trust(root.cert, "leaf")  # type: ignore[arg-type]
