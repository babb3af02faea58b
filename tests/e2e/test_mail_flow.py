"""Issue 4 end to end: a real server process, real SMTP clients, real peers judging the
result (OpenSSL), a real smart host, and a kill -9 in the middle of a burst."""

from __future__ import annotations

import signal
import smtplib
import subprocess
import threading
from collections.abc import Iterator
from email import message_from_bytes
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from tests.e2e import mailserver
from tests.e2e.cli import Org, init_org
from tests.peers import require_tool

PASSWORD = "correct horse battery staple"


class Sink:
    """A plain SMTP smart host that records what it receives."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.messages.append(
            (envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)  # type: ignore[attr-defined]
        )
        return "250 2.0.0 stored"


@pytest.fixture
def sink() -> Iterator[tuple[Sink, int]]:
    handler = Sink()
    port = mailserver.free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def _org(base: Path, policy: str, *, smart_host: int | None = None) -> Org:
    org = init_org(base / "org", key_type="rsa-2048", pki_url="http://pki.example.org/pki")
    org.ok("user", "add", "alice@example.org", "--password-stdin", stdin=PASSWORD + "\n")
    org.ok("user", "add", "bob@example.org", "--password-stdin", stdin=PASSWORD + "\n")
    relay = (
        f'[relay]\nsmart_host = "127.0.0.1:{smart_host}"\nrequire_tls = false\n'
        if smart_host
        else ""
    )
    (org.data_dir / "postseal.toml").write_text(
        "[queue]\nretry_initial_seconds = 1\n" + relay + policy
    )
    return org


def _message(subject: str, to: str = "bob@example.org") -> bytes:
    return (
        f"From: Alice <alice@example.org>\r\nTo: {to}\r\nSubject: {subject}\r\n"
        "Date: Mon, 23 Nov 2026 10:00:00 +0000\r\nMessage-ID: <x@example.org>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"Hello Bob, this is {subject}.\r\n"
    ).encode()


def _pem_key(org: Org, address: str, tmp: Path) -> tuple[Path, Path]:
    """(certificate, private key) files of a user, from the p12 export, via OpenSSL."""
    openssl = require_tool("openssl", package="openssl")
    p12 = tmp / f"{address}.p12"
    org.ok(
        "cert",
        "export",
        address,
        "--format",
        "p12",
        "--with-key",
        "--password-stdin",
        "--out",
        str(p12),
        stdin="p12 password\n",
    )
    key = tmp / f"{address}.key"
    cert = tmp / f"{address}.crt"
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
    cert.write_bytes(org.ok("cert", "export", address, "--format", "pem").stdout_bytes)
    return cert, key


def _ca_bundle(org: Org, tmp: Path) -> Path:
    bundle = tmp / "ca+crl.pem"
    bundle.write_bytes(org.ok("ca", "export").stdout_bytes + org.ok("crl", "export").stdout_bytes)
    return bundle


def test_sign_and_encrypt_by_policy_local_and_through_the_smart_host(
    tmp_path: Path, sink: tuple[Sink, int]
) -> None:
    """alice submits on 587 (STARTTLS + AUTH); bob (local) and carol (outside, reached
    through the smart host) receive messages OpenSSL decrypts and then verifies."""
    openssl = require_tool("openssl", package="openssl")
    handler, sink_port = sink
    org = _org(tmp_path, '[policy]\nsign = "always"\nencrypt = "required"\n', smart_host=sink_port)
    # carol belongs to a partner organisation: her certificate is a contact, her root trusted.
    partner = init_org(
        tmp_path / "partner",
        key_type="rsa-2048",
        org="Partner Org",
        domain="partner.example",
        pki_url="http://pki.partner.example/pki",
    )
    partner.ok("user", "add", "carol@partner.example", "--no-cert")
    partner.ok("cert", "issue", "carol@partner.example")
    chain = partner.ok("ca", "export").stdout_bytes.split(b"-----END CERTIFICATE-----\n")
    (tmp_path / "p-root.pem").write_bytes(chain[0] + b"-----END CERTIFICATE-----\n")
    (tmp_path / "p-issuing.pem").write_bytes(chain[1] + b"-----END CERTIFICATE-----\n")
    org.ok("trust", "add-root", str(tmp_path / "p-root.pem"))
    org.ok("trust", "add-intermediate", str(tmp_path / "p-issuing.pem"))
    for ca in ("issuing", "root"):
        crl = tmp_path / f"p-{ca}.crl"
        partner.ok("crl", "export", "--ca", ca, "--out", str(crl))
        org.ok("crl", "import", str(crl))
    carol_cert, carol_key = _pem_key(partner, "carol@partner.example", tmp_path)
    org.ok("contact", "import", str(carol_cert))

    ports = {"submission": mailserver.free_port()}
    with mailserver.running(org, ports, tmp_path) as server:
        server.submit(
            "alice@example.org",
            PASSWORD,
            ["bob@example.org", "carol@partner.example"],
            _message("Quarterly figures"),
        )
        mailserver.wait_for(
            lambda: mailserver.inbox(org, "bob@example.org") and handler.messages,
            what="local delivery and the smart host",
        )
    delivered = mailserver.inbox(org, "bob@example.org")
    assert len(delivered) == 1
    assert b"application/pkcs7-mime" in delivered[0]
    assert b"Quarterly figures" not in delivered[0].split(b"\r\n\r\n", 1)[0]  # RFC 9788 placeholder
    bob_cert, bob_key = _pem_key(org, "bob@example.org", tmp_path)
    bundle = _ca_bundle(org, tmp_path)
    for received, cert, key, name in (
        (delivered[0], bob_cert, bob_key, "bob"),
        (handler.messages[0][2], carol_cert, carol_key, "carol"),
    ):
        encrypted = tmp_path / f"{name}.eml"
        encrypted.write_bytes(received)
        signed = tmp_path / f"{name}-signed.eml"
        subprocess.run(
            [
                openssl,
                "cms",
                "-decrypt",
                "-in",
                str(encrypted),
                "-recip",
                str(cert),
                "-inkey",
                str(key),
                "-out",
                str(signed),
            ],
            check=True,
            timeout=30,
            capture_output=True,
        )
        verified = subprocess.run(
            [
                openssl,
                "cms",
                "-verify",
                "-in",
                str(signed),
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
        assert verified.returncode == 0, verified.stderr.decode()
        assert b"Hello Bob, this is Quarterly figures." in verified.stdout
    assert handler.messages[0][1] == ["carol@partner.example"]


def test_required_encryption_without_certificates_is_refused_at_submission(tmp_path: Path) -> None:
    """erin (outside, no certificate known) cannot get an encrypted message: refused at DATA
    with a 5.7.x reply naming her, and nothing is queued."""
    org = _org(tmp_path, '[policy]\nencrypt = "required"\n')
    ports = {"submission": mailserver.free_port()}
    with (
        mailserver.running(org, ports, tmp_path) as server,
        pytest.raises(smtplib.SMTPDataError) as refused,
    ):
        server.submit(
            "alice@example.org",
            PASSWORD,
            ["bob@example.org", "erin@outside.example"],
            _message("secret"),
        )
    assert refused.value.smtp_code == 550
    assert b"5.7" in refused.value.smtp_error
    assert b"erin@outside.example" in refused.value.smtp_error
    assert mailserver.inbox(org, "bob@example.org") == []
    assert org.json("queue", "list") == []


def test_signed_mail_from_outside_gets_authentication_results(tmp_path: Path) -> None:
    """MX: a signed message is verified and the outcome recorded outside the signed
    content (RFC 8601); the signature still verifies after delivery."""
    org = _org(tmp_path, "")
    plain = tmp_path / "plain.eml"
    plain.write_bytes(_message("signed hello"))
    signed = org.ok("smime", "sign", "--as", "alice@example.org", "--in", str(plain)).stdout_bytes
    with mailserver.running(org, {"smtp": mailserver.free_port()}, tmp_path) as server:
        with smtplib.SMTP("127.0.0.1", server.ports["smtp"], timeout=30) as client:
            client.starttls(context=server.tls_context())
            client.sendmail("alice@example.org", ["bob@example.org"], signed)
        mailserver.wait_for(lambda: mailserver.inbox(org, "bob@example.org"), what="delivery")
    (delivered,) = mailserver.inbox(org, "bob@example.org")
    head = delivered.split(b"\r\n\r\n", 1)[0]
    assert b"Authentication-Results: mail.example.org;" in head
    assert b"smime=pass" in head
    assert delivered.endswith(signed)  # byte-exact below the prepended trace fields
    stored = tmp_path / "stored.eml"
    stored.write_bytes(delivered)
    assert org.run("smime", "verify", "--in", str(stored)).status == 0


def test_open_relay_spoofing_and_unknown_users_are_refused(tmp_path: Path) -> None:
    org = _org(tmp_path, "")
    ports = {"smtp": mailserver.free_port(), "submission": mailserver.free_port()}
    with mailserver.running(org, ports, tmp_path) as server:
        with smtplib.SMTP("127.0.0.1", ports["smtp"], timeout=30) as client:
            client.ehlo("outside.example")
            client.mail("someone@outside.example")
            assert client.rcpt("victim@elsewhere.example")[0] == 554
            assert client.rcpt("nobody@example.org")[0] == 550
        with smtplib.SMTP("127.0.0.1", ports["submission"], timeout=30) as client:
            client.ehlo("laptop")
            code, _ = client.docmd("AUTH", "PLAIN AGFsaWNlAHg=")
            assert code == 530  # STARTTLS first
            client.starttls(context=server.tls_context())
            client.login("alice@example.org", PASSWORD)
            assert client.mail("bob@example.org")[0] == 553
    assert mailserver.inbox(org, "bob@example.org") == []


def test_kill_9_mid_burst_loses_nothing_and_delivers_once(tmp_path: Path) -> None:
    """Every message that got its 250 is delivered exactly once after a crash and restart."""
    org = _org(tmp_path, '[policy]\nencrypt = "never"\n')
    ports = {"submission": mailserver.free_port()}
    server = mailserver.start(org, ports, tmp_path)
    acknowledged: list[str] = []
    stop = threading.Event()

    def burst() -> None:
        try:
            with smtplib.SMTP("127.0.0.1", ports["submission"], timeout=30) as client:
                client.starttls(context=server.tls_context())
                client.login("alice@example.org", PASSWORD)
                for n in range(200):
                    if stop.is_set():
                        return
                    subject = f"burst-{n:03d}"
                    client.sendmail("alice@example.org", ["bob@example.org"], _message(subject))
                    acknowledged.append(subject)
        except (smtplib.SMTPException, OSError):
            return  # the server died under us: what was acknowledged is what counts

    sender = threading.Thread(target=burst)
    sender.start()
    mailserver.wait_for(lambda: len(acknowledged) >= 15, what="15 acknowledged messages")
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(timeout=10)
    stop.set()
    sender.join(timeout=30)
    assert acknowledged, "no message was acknowledged before the crash"

    with mailserver.running(org, ports, tmp_path):

        def all_there() -> bool:
            subjects = _subjects(mailserver.inbox(org, "bob@example.org"))
            return set(acknowledged) <= set(subjects)

        mailserver.wait_for(all_there, timeout=60, what="every acknowledged message")
    subjects = _subjects(mailserver.inbox(org, "bob@example.org"))
    assert len(subjects) == len(set(subjects)), "a message was delivered twice"
    assert set(acknowledged) <= set(subjects)


def _subjects(messages: list[bytes]) -> list[str]:
    return [str(message_from_bytes(m)["Subject"]) for m in messages]


def test_submitted_mail_is_read_back_over_imap_and_pop3_byte_identical(tmp_path: Path) -> None:
    """The whole server: SMTP in, queue, INBOX sealed at rest, then IMAP and POP3 out."""
    import imaplib
    import poplib

    org = _org(tmp_path, '[policy]\nencrypt = "never"\nsign = "always"\n')
    ports = {name: mailserver.free_port() for name in ("submission", "imap", "pop3s")}
    with mailserver.running(org, ports, tmp_path) as server:
        server.submit("alice@example.org", PASSWORD, ["bob@example.org"], _message("over imap"))
        mailserver.wait_for(lambda: mailserver.inbox(org, "bob@example.org"), what="delivery")
        (stored,) = mailserver.inbox(org, "bob@example.org")
        imap = imaplib.IMAP4("127.0.0.1", ports["imap"], timeout=30)
        try:
            assert "LOGINDISABLED" in imap.capabilities
            imap.starttls(ssl_context=server.tls_context())
            imap.login("bob@example.org", PASSWORD)
            imap.select("INBOX")
            status, data = imap.uid("FETCH", "1:*", "(BODY.PEEK[])")
            assert status == "OK"
            fetched = data[0][1]  # type: ignore[index]
        finally:
            imap.logout()
        pop = poplib.POP3_SSL("127.0.0.1", ports["pop3s"], context=server.tls_context(), timeout=30)
        try:
            pop.user("bob@example.org")
            pop.pass_(PASSWORD)
            _, lines, _ = pop.retr(1)
        finally:
            pop.quit()
    assert fetched == stored
    assert b"\r\n".join(lines) + b"\r\n" == stored
    signed = tmp_path / "fetched.eml"
    signed.write_bytes(fetched)
    assert org.run("smime", "verify", "--in", str(signed)).status == 0
