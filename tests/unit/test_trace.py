"""Received: (RFC 5321 §4.4, RFC 3848) and Authentication-Results: (RFC 8601) fields, and
prepending them without touching a signed message."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from postseal.mail.trace import authentication_results, prepend_fields, received_field
from tests.peers import require_tool

AT = datetime(2026, 3, 2, 9, 15, 30, tzinfo=UTC)


def _received(**changes: object) -> bytes:
    values: dict[str, object] = {
        "from_helo": "client.partner.test",
        "client_address": "192.0.2.25",
        "by_host": "mx.example.org",
        "protocol": "ESMTPS",
        "queue_id": "01JQ5Z7X8Y9A0B1C2D3E4F5G6H",
        "for_address": "bob@example.org",
        "at": AT,
        "tls": None,
    }
    values.update(changes)
    return received_field(**values)  # type: ignore[arg-type]


def _well_formed(field: bytes) -> str:
    """Check folding (RFC 5322 §2.2.3); return the unfolded value."""
    assert field.endswith(b"\r\n")
    lines = field[:-2].split(b"\r\n")
    assert all(len(line) <= 78 for line in lines)
    assert all(line[:1] in (b" ", b"\t") for line in lines[1:])
    assert b"\n" not in field.replace(b"\r\n", b"")
    assert all(0x20 <= byte < 0x7F for byte in field.replace(b"\r\n", b""))
    return field[:-2].replace(b"\r\n", b"").decode("ascii")


def test_a_received_field_follows_rfc_5321_section_4_4() -> None:
    field = _received()
    assert _well_formed(field) == (
        "Received: from client.partner.test ([192.0.2.25]) by mx.example.org with ESMTPS"
        " id 01JQ5Z7X8Y9A0B1C2D3E4F5G6H for <bob@example.org>;"
        " Mon, 02 Mar 2026 09:15:30 +0000"
    )


def test_tls_comment_ipv6_literal_and_no_for_clause() -> None:
    field = _received(
        client_address="2001:db8::25",
        tls="TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)",
        for_address=None,
        protocol="ESMTPSA",
    )
    value = _well_formed(field)
    assert "([IPv6:2001:db8::25])" in value
    assert r"(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 \(256/256 bits\))" in value
    assert " for " not in value
    assert len(field.split(b"\r\n")) > 2  # it had to fold


def test_a_hostile_helo_cannot_inject_a_field() -> None:
    value = _well_formed(_received(from_helo="evil\r\nBcc: mallory@evil.test\x00"))
    assert "Bcc:" in value  # kept as text, on the same logical line
    assert "\r\nBcc" not in _received(from_helo="evil\r\nBcc: x").decode()


@pytest.mark.parametrize(
    "changes",
    [
        {"protocol": "HTTP"},
        {"at": datetime(2026, 3, 2)},
        {"by_host": "bad host"},
        {"queue_id": "id;with;semicolons"},
    ],
)
def test_bad_received_input_is_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each message names its own rule
        _received(**changes)


def test_authentication_results_for_smime() -> None:
    field = authentication_results(
        authserv_id="mx.example.org",
        results=[("smime", "pass", None, {"header.from": "alice@example.org"})],
    )
    assert _well_formed(field) == (
        "Authentication-Results: mx.example.org; smime=pass header.from=alice@example.org"
    )


def test_reasons_and_odd_values_are_quoted_and_long_ones_folded() -> None:
    reason = 'signer "Alice" \\ certificate revoked on 2026-03-01 ' + "and more words " * 6
    field = authentication_results(
        authserv_id="mx.example.org",
        results=[
            ("smime", "fail", reason, {"header.from": "alice@example.org"}),
            ("smime", "neutral", None, {"body.smime-identifier": "Alice Example <a@b>"}),
        ],
    )
    value = _well_formed(field)
    assert 'smime=fail reason="signer \\"Alice\\" \\\\ certificate revoked' in value
    assert 'body.smime-identifier="Alice Example <a@b>"' in value
    assert "; smime=neutral" in value
    assert len(field.split(b"\r\n")) > 3


def test_no_results_is_none_and_bad_results_are_refused() -> None:
    assert authentication_results(authserv_id="mx.example.org", results=[]) == (
        b"Authentication-Results: mx.example.org; none\r\n"
    )
    with pytest.raises(ValueError, match="smime result"):
        authentication_results(authserv_id="mx.example.org", results=[("smime", "ok", None, {})])
    with pytest.raises(ValueError, match="property"):
        authentication_results(
            authserv_id="mx.example.org", results=[("smime", "pass", None, {"from": "a@b"})]
        )


def test_prepend_fields_keeps_the_message_byte_for_byte() -> None:
    message = b"From: a@example.org\r\nSubject: x\r\n\r\nbody \r\n\r\n.\r\n"
    fields = [_received(), authentication_results(authserv_id="mx.example.org", results=[])]
    out = prepend_fields(message, fields)
    assert out == fields[0] + fields[1] + message
    with pytest.raises(ValueError, match="CRLF-terminated"):
        prepend_fields(message, [b"X-Bad: no line end"])
    with pytest.raises(ValueError, match="CRLF-terminated"):
        prepend_fields(message, [b"X-Bad: one\nX-Two: bare LF\r\n"])


def _signer(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Alice")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.RFC822Name("alice@example.org")]), critical=False
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "alice.crt", directory / "alice.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.mark.interop
def test_a_signed_message_still_verifies_with_openssl_after_prepending(tmp_path: Path) -> None:
    openssl = require_tool("openssl", package="openssl")
    cert, key = _signer(tmp_path)
    content = b"Content-Type: text/plain\r\n\r\nSigned words.  \r\n.\r\n"
    (tmp_path / "content.mime").write_bytes(content)
    subprocess.run(
        [openssl, "cms", "-sign", "-in", tmp_path / "content.mime", "-signer", cert,
         "-inkey", key, "-md", "sha256", "-out", tmp_path / "signed.eml"],
        check=True, capture_output=True,
    )  # fmt: skip
    signed = (tmp_path / "signed.eml").read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    fields = [
        _received(tls="TLSv1.3"),
        authentication_results(
            authserv_id="mx.example.org",
            results=[("smime", "pass", "good signature", {"header.from": "alice@example.org"})],
        ),
    ]
    annotated = prepend_fields(signed, fields)

    def verify(message: bytes) -> subprocess.CompletedProcess[bytes]:
        (tmp_path / "in.eml").write_bytes(message)
        return subprocess.run(
            [openssl, "cms", "-verify", "-noverify", "-in", tmp_path / "in.eml",
             "-out", tmp_path / "out.mime"],
            capture_output=True, check=False,
        )  # fmt: skip

    assert verify(annotated).returncode == 0, verify(annotated).stderr
    assert (tmp_path / "out.mime").read_bytes() == content
    tampered = annotated.replace(b"Signed words.", b"Signed wordz.")
    assert verify(tampered).returncode != 0  # the check can fail
