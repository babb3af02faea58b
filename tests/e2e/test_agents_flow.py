"""Issue 4, transport agents end to end: a real server process, smtplib on 587, and
OpenSSL judging every signature after the full pipeline (ADR 0015).

The disclaimer goes into unsigned mail before postseal signs it; mail the sender signed
is skipped or wrapped, never changed (RFC 8551 §3.5)."""

from __future__ import annotations

import subprocess
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from postseal.mail.structure import parse
from tests.e2e import mailserver
from tests.e2e.cli import Org, init_org
from tests.peers import require_tool

PASSWORD = "correct horse battery staple"
DISCLAIMER = "Vertraulich \u2013 nur für den Empfänger.\nConfidential: for the addressee only."
ALICE, BOB = "alice@example.org", "bob@example.org"


def _org(base: Path, policy_lines: str, *, encrypt: str = "never") -> Org:
    org = init_org(base / "org", key_type="rsa-2048", pki_url="http://pki.example.org/pki")
    for address in (ALICE, BOB):
        org.ok("user", "add", address, "--password-stdin", stdin=PASSWORD + "\n")
    disclaimer = DISCLAIMER.replace("\n", "\\n")
    (base / "org" / "postseal.toml").write_text(
        f'[queue]\nretry_initial_seconds = 1\n[policy]\nencrypt = "{encrypt}"\n'
        f'disclaimer = "{disclaimer}"\n{policy_lines}',
        encoding="utf-8",
    )
    return org


def _message(subject: str) -> bytes:
    return (
        f"From: Alice <{ALICE}>\r\nTo: {BOB}\r\nSubject: {subject}\r\n"
        "Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <agents@example.org>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"Hello Bob, this is {subject}.\r\n"
    ).encode()


def _deliver(org: Org, tmp_path: Path, message: bytes) -> bytes:
    with mailserver.running(org, {"submission": mailserver.free_port()}, tmp_path) as server:
        server.submit(ALICE, PASSWORD, [BOB], message)
        mailserver.wait_for(lambda: mailserver.inbox(org, BOB), what="delivery to bob")
    (delivered,) = mailserver.inbox(org, BOB)
    return delivered


def _text(entity: bytes) -> str:
    """The decoded text of the entity's text parts (RFC 2045 §6 by the standard library)."""
    parsed = message_from_bytes(entity, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    found = [
        str(part.get_content()) for part in parsed.walk() if part.get_content_maintype() == "text"
    ]
    return "\n".join(found).replace("\r\n", "\n")


def _verified(org: Org, tmp_path: Path, entity: bytes, name: str) -> bytes:
    """Both verifiers accept ``entity``: ``postseal smime verify`` and ``openssl cms
    -verify`` with the organisation's CA bundle and CRLs; OpenSSL's output (the signed
    content) is returned."""
    openssl = require_tool("openssl", package="openssl")
    path = tmp_path / f"{name}.eml"
    path.write_bytes(entity)
    checked = org.run("smime", "verify", "--in", str(path))
    assert checked.status == 0, checked.stderr
    bundle = tmp_path / "ca+crl.pem"
    bundle.write_bytes(org.ok("ca", "export").stdout_bytes + org.ok("crl", "export").stdout_bytes)
    result = subprocess.run(
        [
            openssl,
            "cms",
            "-verify",
            "-in",
            str(path),
            "-CAfile",
            str(bundle),
            "-crl_check",
            "-purpose",
            "smimesign",
        ],
        timeout=30,
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout


def _signed_by_alice(org: Org, tmp_path: Path, subject: str) -> bytes:
    """What alice's own program sends: the CLI signs the whole message (its header fields
    inside the signed entity, RFC 8551 §3.1)."""
    plain, signed = tmp_path / "plain.eml", tmp_path / "signed.eml"
    plain.write_bytes(_message(subject))
    org.ok("smime", "sign", "--as", ALICE, "--in", str(plain), "--out", str(signed))
    return signed.read_bytes()


def test_unsigned_mail_arrives_with_the_disclaimer(tmp_path: Path) -> None:
    org = _org(tmp_path, "")
    delivered = _deliver(org, tmp_path, _message("plain hello"))
    text = _text(delivered)
    assert text.startswith("Hello Bob, this is plain hello.\n\n")
    assert DISCLAIMER in text


def test_signed_mail_is_skipped_and_still_verifies(tmp_path: Path) -> None:
    org = _org(tmp_path, 'disclaimer_on_signed = "skip"\n')
    signed = _signed_by_alice(org, tmp_path, "signed hello")
    delivered = _deliver(org, tmp_path, signed)
    assert delivered.endswith(signed)  # byte-exact below the prepended trace fields
    assert "Vertraulich" not in _text(delivered)
    content = _verified(org, tmp_path, delivered, "skipped")
    assert b"Hello Bob, this is signed hello." in content


def test_signed_mail_is_wrapped_and_the_inner_part_verifies(tmp_path: Path) -> None:
    org = _org(tmp_path, 'disclaimer_on_signed = "wrap"\n')
    signed = _signed_by_alice(org, tmp_path, "wrapped hello")
    delivered = _deliver(org, tmp_path, signed)
    root = parse(delivered).root
    assert (root.type, root.subtype) == ("multipart", "mixed")
    signed_part, disclaimer_part = root.children
    inner = delivered[signed_part.start : signed_part.end]
    assert inner in signed  # the entity the sender signed, byte for byte
    content = _verified(org, tmp_path, inner, "wrapped")
    assert b"Hello Bob, this is wrapped hello." in content
    disclaimer = delivered[disclaimer_part.start : disclaimer_part.end]
    assert _text(disclaimer) == DISCLAIMER
    assert disclaimer_part.disposition == "inline"


def test_server_signature_covers_the_disclaimer(tmp_path: Path) -> None:
    org = _org(tmp_path, '[policy.user."alice@example.org"]\nsign = "always"\n')
    delivered = _deliver(org, tmp_path, _message("server-signed hello"))
    assert b"multipart/signed" in delivered.split(b"\r\n\r\n", 1)[0]
    content = _verified(org, tmp_path, delivered, "server-signed")
    text = _text(content)
    assert "Hello Bob, this is server-signed hello." in text
    assert DISCLAIMER in text  # inside what the signature covers


def test_wrapped_signed_mail_encrypted_by_the_server_still_verifies(tmp_path: Path) -> None:
    """The full outbound pipeline: wrap, then opportunistic encryption to bob; after
    ``openssl cms -decrypt`` the inner signed part verifies."""
    openssl = require_tool("openssl", package="openssl")
    org = _org(tmp_path, 'disclaimer_on_signed = "wrap"\n', encrypt="opportunistic")
    signed = _signed_by_alice(org, tmp_path, "sealed hello")
    delivered = _deliver(org, tmp_path, signed)
    assert b"application/pkcs7-mime" in delivered.split(b"\r\n\r\n", 1)[0]
    p12, key = tmp_path / "bob.p12", tmp_path / "bob.key"
    org.ok(
        "cert",
        "export",
        BOB,
        "--format",
        "p12",
        "--with-key",
        "--password-stdin",
        "--out",
        str(p12),
        stdin="p12 password\n",
    )
    subprocess.run(
        [
            openssl,
            "pkcs12",
            "-in",
            str(p12),
            "-passin",
            "pass:p12 password",
            "-nodes",
            "-nocerts",
            "-out",
            str(key),
        ],
        check=True,
        timeout=30,
        capture_output=True,
    )
    cert = tmp_path / "bob.crt"
    cert.write_bytes(org.ok("cert", "export", BOB, "--format", "pem").stdout_bytes)
    (tmp_path / "sealed.eml").write_bytes(delivered)
    decrypted = (
        subprocess.run(
            [
                openssl,
                "cms",
                "-decrypt",
                "-in",
                str(tmp_path / "sealed.eml"),
                "-recip",
                str(cert),
                "-inkey",
                str(key),
            ],
            check=True,
            timeout=30,
            capture_output=True,
        )
        .stdout.replace(b"\r\n", b"\n")
        .replace(b"\n", b"\r\n")
    )
    root = parse(decrypted).root
    signed_part, disclaimer_part = root.children
    inner = decrypted[signed_part.start : signed_part.end]
    assert inner in signed
    assert b"Hello Bob, this is sealed hello." in _verified(org, tmp_path, inner, "sealed")
    assert _text(decrypted[disclaimer_part.start : disclaimer_part.end]) == DISCLAIMER
