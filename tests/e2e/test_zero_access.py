"""Issue 5, zero-access mailboxes (ADR 0020): incoming mail stored as S/MIME encrypted to
the owner's own certificate only — a real server, real SMTP, OpenSSL as the owner's mail
program, and the server's own key for the user shown unable to read what was stored."""

from __future__ import annotations

import smtplib
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.e2e import mailserver
from tests.e2e.cli import Org, init_org
from tests.peers import require_tool

PASSWORD = "correct horse battery staple"
BOB = "bob@example.org"


@dataclass(frozen=True)
class OwnerPki:
    """A CA of the owner's choosing and the owner's own key and certificate, as files."""

    root: Path
    crl: Path
    cert: Path
    key: Path
    root_key: ec.EllipticCurvePrivateKey
    root_cert: x509.Certificate
    serial: int


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _crl(pki: OwnerPki, revoked: tuple[int, ...] = (), *, number: int = 1) -> bytes:
    now = datetime.now(UTC)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(pki.root_cert.subject)
        .last_update(now - timedelta(minutes=5))
        .next_update(now + timedelta(days=7))
        .add_extension(x509.CRLNumber(number), critical=False)
    )
    for serial in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(now - timedelta(minutes=1))
            .add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise), critical=False)
            .build()
        )
    return builder.sign(pki.root_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def _owner_pki(tmp: Path, address: str) -> OwnerPki:
    """A root CA (with an empty CRL) and an RSA-2048 S/MIME certificate for ``address``
    whose private key exists only in the test's files — never in postseal."""
    now = datetime.now(UTC)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = (
        x509.CertificateBuilder()
        .subject_name(_name("Owner's Own Root"))
        .issuer_name(_name("Owner's Own Root"))
        .public_key(root_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), False)
        .sign(root_key, hashes.SHA256())
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    serial = x509.random_serial_number()
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(address))
        .issuer_name(root.subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=10))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, True, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False)
        .add_extension(x509.SubjectAlternativeName([x509.RFC822Name(address)]), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), False
        )
        .sign(root_key, hashes.SHA256())
    )
    pki = OwnerPki(
        root=tmp / "owner-root.pem",
        crl=tmp / "owner-root.crl",
        cert=tmp / "owner.crt",
        key=tmp / "owner.key",
        root_key=root_key,
        root_cert=root,
        serial=serial,
    )
    pki.root.write_bytes(root.public_bytes(serialization.Encoding.PEM))
    pki.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pki.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    pki.crl.write_bytes(_crl(pki))
    return pki


def _org(base: Path) -> Org:
    org = init_org(base / "org", key_type="rsa-2048", pki_url="http://pki.example.org/pki")
    for user in ("alice@example.org", BOB):
        org.ok("user", "add", user, "--password-stdin", stdin=PASSWORD + "\n")
    (org.data_dir / "postseal.toml").write_text("[queue]\nretry_initial_seconds = 1\n")
    return org


def _message(subject: str) -> bytes:
    return (
        f"From: Alice <alice@example.org>\r\nTo: {BOB}\r\nSubject: {subject}\r\n"
        "Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <za@example.org>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"Hello Bob, this is {subject}.\r\n"
    ).encode()


def _send(server: mailserver.Server, message: bytes) -> None:
    with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=30) as client:
        client.sendmail("alice@partner.example", [BOB], message)


def _server_held_key(org: Org, tmp: Path) -> tuple[Path, Path]:
    """bob's postseal-issued certificate and the key postseal holds for it."""
    openssl = require_tool("openssl", package="openssl")
    p12 = tmp / "bob-server.p12"
    org.ok(
        "cert", "export", BOB, "--format", "p12", "--with-key", "--password-stdin",
        "--out", str(p12), stdin="p12 password\n",
    )  # fmt: skip
    key, cert = tmp / "bob-server.key", tmp / "bob-server.crt"
    for out, flag in ((key, "-nocerts"), (cert, "-nokeys")):
        subprocess.run(
            [openssl, "pkcs12", "-in", str(p12), "-passin", "pass:p12 password", "-nodes",
             flag, "-out", str(out)],
            check=True, timeout=30, capture_output=True,
        )  # fmt: skip
    return cert, key


def _decrypt(stored: bytes, cert: Path, key: Path, tmp: Path) -> subprocess.CompletedProcess[bytes]:
    openssl = require_tool("openssl", package="openssl")
    source = tmp / "stored.eml"
    source.write_bytes(stored)
    return subprocess.run(
        [openssl, "cms", "-decrypt", "-in", str(source), "-recip", str(cert), "-inkey", str(key)],
        timeout=30,
        capture_output=True,
    )


def _deferred_for_zero_access(org: Org) -> bool:
    for entry in org.json("queue", "list"):
        recipients = org.json("queue", "show", entry["id"])["recipients"]
        if any("zero-access mailbox" in line for line in recipients):
            return True
    return False


def test_enabling_refuses_what_would_not_keep_the_promise(tmp_path: Path) -> None:
    org = _org(tmp_path)
    pki = _owner_pki(tmp_path, BOB)
    assert org.json("mailbox", "zero-access", BOB)["zero_access"] is False

    # Untrusted CA: says so and names `trust add-root`.
    untrusted = org.run("mailbox", "zero-access", BOB, "--certificate", str(pki.cert))
    assert untrusted.status == 1
    assert "trust add-root" in untrusted.stderr

    org.ok("trust", "add-root", str(pki.root))
    org.ok("crl", "import", str(pki.crl))
    # A certificate whose key postseal holds (bob's own, issued by postseal) is refused.
    held = tmp_path / "bob-held.pem"
    held.write_bytes(org.ok("cert", "export", BOB, "--format", "pem").stdout_bytes)
    refused = org.run("mailbox", "zero-access", BOB, "--certificate", str(held))
    assert refused.status == 1
    assert "holds the private key" in refused.stderr
    # Another user's certificate, a file with a private key, a missing file, a stranger.
    wrong = org.run("mailbox", "zero-access", "alice@example.org", "--certificate", str(pki.cert))
    assert wrong.status == 1
    assert f"names {BOB}, not alice@example.org" in wrong.stderr
    with_key = tmp_path / "with-key.pem"
    with_key.write_bytes(pki.cert.read_bytes() + pki.key.read_bytes())
    assert org.run("mailbox", "zero-access", BOB, "--certificate", str(with_key)).status == 1
    missing = org.run("mailbox", "zero-access", BOB, "--certificate", str(tmp_path / "nope.pem"))
    assert missing.status == 1
    assert "no such file" in missing.stderr
    assert org.run("mailbox", "zero-access", "nobody@example.org", "--off").status == 1
    # Nothing of that changed anything.
    assert org.json("mailbox", "zero-access", BOB)["zero_access"] is False
    assert org.json("mailbox", "zero-access", "alice@example.org")["zero_access"] is False

    shown = org.json("mailbox", "zero-access", BOB, "--certificate", str(pki.cert))
    assert shown["zero_access"] is True
    assert shown["certificate_status"] == "valid"
    assert shown["subject"] == f"CN={BOB}"
    assert shown["enabled_by"] == "cli"
    assert org.json("mailbox", "zero-access", BOB)["fingerprint"] == shown["fingerprint"]
    assert org.json("mailbox", "zero-access", BOB, "--off")["changed"] is True
    assert org.json("mailbox", "zero-access", BOB)["zero_access"] is False


def test_mail_is_stored_for_the_owners_key_alone(tmp_path: Path) -> None:
    openssl = require_tool("openssl", package="openssl")
    org = _org(tmp_path)
    pki = _owner_pki(tmp_path, BOB)
    org.ok("trust", "add-root", str(pki.root))
    org.ok("crl", "import", str(pki.crl))
    org.ok("mailbox", "zero-access", BOB, "--certificate", str(pki.cert))
    server_cert, server_key = _server_held_key(org, tmp_path)

    plain = tmp_path / "plain.eml"
    plain.write_bytes(_message("Signed minutes"))
    signed = org.ok("smime", "sign", "--as", "alice@example.org", "--in", str(plain)).stdout_bytes
    encrypted = org.ok("smime", "encrypt", "--to", BOB, "--in", str(plain)).stdout_bytes

    with mailserver.running(org, {"smtp": mailserver.free_port()}, tmp_path) as server:
        _send(server, _message("Board minutes"))
        mailserver.wait_for(lambda: len(mailserver.inbox(org, BOB)) == 1, what="delivery 1")
        _send(server, signed)
        mailserver.wait_for(lambda: len(mailserver.inbox(org, BOB)) == 2, what="delivery 2")
        _send(server, encrypted)
        mailserver.wait_for(lambda: len(mailserver.inbox(org, BOB)) == 3, what="delivery 3")

        # The owner's certificate is revoked: mail waits in the queue, never stored readable.
        (tmp_path / "revoked.crl").write_bytes(_crl(pki, (pki.serial,), number=2))
        org.ok("crl", "import", str(tmp_path / "revoked.crl"))
        assert org.json("mailbox", "zero-access", BOB)["certificate_status"] == "revoked"
        _send(server, _message("After the revocation"))
        mailserver.wait_for(lambda: _deferred_for_zero_access(org), what="the deferral")
        assert len(mailserver.inbox(org, BOB)) == 3
        # Turned off, the waiting message is delivered as it arrived at the next attempt.
        org.ok("mailbox", "zero-access", BOB, "--off")
        mailserver.wait_for(lambda: len(mailserver.inbox(org, BOB)) == 4, what="delivery 4")

    stored = mailserver.inbox(org, BOB)
    first_header = stored[0].split(b"\r\n\r\n", 1)[0]
    assert b"application/pkcs7-mime" in first_header
    assert b"Board minutes" not in stored[0]  # RFC 9788: the outer Subject is a placeholder
    assert b"Hello Bob" not in stored[0]
    opened = _decrypt(stored[0], pki.cert, pki.key, tmp_path)
    assert opened.returncode == 0, opened.stderr
    assert b"Subject: Board minutes" in opened.stdout
    assert b"Hello Bob, this is Board minutes." in opened.stdout
    # The key postseal holds for bob opens nothing: only the owner's program can.
    assert _decrypt(stored[0], server_cert, server_key, tmp_path).returncode != 0

    # A signed message stays signed inside; the owner's program verifies it after decrypting.
    opened = _decrypt(stored[1], pki.cert, pki.key, tmp_path)
    assert opened.returncode == 0, opened.stderr
    inner = tmp_path / "inner.eml"
    inner.write_bytes(opened.stdout)
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(org.ok("ca", "export").stdout_bytes)
    verified = subprocess.run(
        [openssl, "cms", "-verify", "-in", str(inner), "-CAfile", str(bundle), "-purpose", "any"],
        timeout=30,
        capture_output=True,
    )
    assert verified.returncode == 0, verified.stderr
    assert b"Hello Bob, this is Signed minutes." in verified.stdout

    # An already encrypted message is kept as it arrived (its CMS object unchanged).
    assert encrypted.split(b"\r\n\r\n", 1)[1] in stored[2]
    # After --off, the waiting message is stored as it arrived.
    assert b"Subject: After the revocation" in stored[3]
