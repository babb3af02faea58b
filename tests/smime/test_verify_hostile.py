"""Hostile input: verification and the MIME splitter only ever return result values or
raise InputError subclasses — quickly, whatever the bytes."""

from __future__ import annotations

import base64
import contextlib
import functools

import pytest
from asn1crypto import core
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postseal.errors import InputError
from postseal.smime import signed_data
from postseal.smime.der import sequence, tlv
from postseal.smime.mime import build_pkcs7_mime, parse_smime
from postseal.smime.results import VerifyResult
from postseal.smime.sign import sign
from postseal.smime.verify import verify, verify_cms
from tests.smime.signing_fixtures import NOW, pki


@functools.cache
def _samples() -> tuple[bytes, bytes]:
    p = pki()
    alice = p.users["alice"]
    body = b"From: alice@example.org\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
    kwargs = {
        "signer_cert": alice.cert,
        "signer_key": alice.key,
        "chain": p.chain,
        "signing_time": NOW,
    }
    return sign(body, **kwargs), sign(body, opaque=True, **kwargs)  # type: ignore[arg-type]


def _check(message: bytes) -> None:
    try:
        result = verify(message, validate_chain=pki().validator(), now=NOW)
    except InputError:
        return
    assert isinstance(result, VerifyResult)
    result.summary()
    result.to_json()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_random_bytes(data: bytes) -> None:
    _check(data)
    with contextlib.suppress(InputError):
        parse_smime(data)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(min_value=0), st.integers(min_value=0, max_value=255), st.booleans(), st.booleans()
)
def test_mutated_messages(position: int, value: int, opaque: bool, truncate: bool) -> None:
    base = _samples()[opaque]
    spot = position % len(base)
    mutated = base[:spot] if truncate else base[:spot] + bytes([value]) + base[spot + 1 :]
    _check(mutated)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0), st.integers(min_value=0, max_value=255), st.booleans())
def test_mutated_der(position: int, value: int, truncate: bool) -> None:
    der = parse_smime(_samples()[1]).der  # type: ignore[union-attr]
    spot = position % len(der)
    mutated = der[:spot] if truncate else der[:spot] + bytes([value]) + der[spot + 1 :]
    with contextlib.suppress(InputError):
        verify_cms(mutated, validate_chain=pki().validator(), now=NOW)


@pytest.mark.parametrize(
    ("der", "text"),
    [
        (b"\x30\x84\x7f\xff\xff\xff" + b"\x00" * 10, "runs past"),
        (b"\x30\x89" + b"\xff" * 9, "absurd length"),
        (b"\x30\x80" * 5000 + b"\x00\x00" * 5000, "nested deeper"),
        (b"\x30\x80\x04\x01", "truncated"),
        (b"\x30\x00\x00", "trailing data"),
        (b"\x06\x03\x2a\x03\x04", "malformed CMS SignedData"),
        (b"\x30\x03\x02\x01\x01", "malformed CMS SignedData"),
    ],
)
def test_malformed_der(der: bytes, text: str) -> None:
    with pytest.raises(InputError, match=text):
        signed_data.parse(der)


def test_not_signed_data() -> None:
    # ContentInfo holding id-data
    der = bytes.fromhex("300f06092a864886f70d010701a0020400")
    with pytest.raises(InputError, match="not signed-data"):
        signed_data.parse(der[:2] + der[2:])


def test_deep_der_inside_a_message() -> None:
    der = b"\x30\x80" * 3000 + b"\x00\x00" * 3000
    message = build_pkcs7_mime(der, smime_type="signed-data")
    with pytest.raises(InputError, match="nested deeper"):
        verify(message, validate_chain=pki().validator(), now=NOW)


def test_huge_message_refused_without_parsing() -> None:
    big = b"Content-Type: application/pkcs7-mime\r\n\r\n" + b"A" * (65 * 1024 * 1024)
    with pytest.raises(InputError, match="larger than 64 MiB"):
        verify(big, validate_chain=pki().validator(), now=NOW)


def test_pem_without_end_line() -> None:
    blob = b"-----BEGIN PKCS7-----\n" + base64.b64encode(b"\x30\x00") + b"\n"
    with pytest.raises(InputError, match="PEM"):
        verify_cms(blob, validate_chain=pki().validator(), now=NOW)


@pytest.mark.parametrize(("depth", "ok"), [(64, True), (65, False)])
def test_the_depth_limit_is_exact(depth: int, ok: bool) -> None:
    der = b"\x30\x80" * depth + b"\x00\x00" * depth
    if ok:
        signed_data.check_structure(der)
    else:
        with pytest.raises(InputError, match="nested deeper than 64"):
            signed_data.check_structure(der)


def _with_serial(encoded_serial: bytes, *, version: bool = True) -> bytes:
    """A certificate-shaped DER whose tbsCertificate starts with these serial octets."""
    tbs = (b"\xa0\x03\x02\x01\x02" if version else b"") + tlv(0x02, encoded_serial)
    return sequence(sequence(tbs, b"\x30\x00"), b"\x30\x00", b"\x03\x01\x00")


@pytest.mark.parametrize(
    ("value", "version"), [(v, True) for v in (0, 1, 127, 128, 2**159, -1, -128)] + [(5, False)]
)
def test_the_serial_sign_is_read_like_asn1crypto(value: int, version: bool) -> None:
    encoded = core.Integer(value).contents
    assert signed_data._serial_positive(_with_serial(encoded, version=version)) is (value > 0)


@pytest.mark.parametrize("cut", [0, 1, 3, 6, 9, 11])
def test_an_unreadable_serial_is_not_positive(cut: int) -> None:
    assert not signed_data._serial_positive(_with_serial(b"\x01\x02")[:cut])
