"""Real IMAP clients against the listener: Python's imaplib (IMAP4 + starttls(),
IMAP4_SSL) and aioimaplib. Bodies appended through the service come back byte-identical,
and an S/MIME-signed message still verifies with ``openssl cms -verify``."""

from __future__ import annotations

import asyncio
import imaplib
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from postseal.protocols.imap.listener import ImapListener
from postseal.services.mailboxes import MailboxService
from tests.smtp.conftest import SmtpPki

from .conftest import StartListener, Users, message

openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


def _signed_message(tmp: Path) -> tuple[bytes, Path]:
    """A multipart/signed message made by OpenSSL, CRLF line ends, and its signer."""
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", tmp / "key.pem", "-out", tmp / "cert.pem", "-days", "2",
         "-subj", "/CN=carol/emailAddress=carol@example.net",
         "-addext", "keyUsage=digitalSignature", "-addext", "extendedKeyUsage=emailProtection"],
        check=True, capture_output=True,
    )  # fmt: skip
    (tmp / "content.mime").write_bytes(
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nSigned words, trailing space \r\n"
    )
    subprocess.run(
        ["openssl", "cms", "-sign", "-in", tmp / "content.mime", "-signer", tmp / "cert.pem",
         "-inkey", tmp / "key.pem", "-md", "sha256", "-out", tmp / "signed.eml"],
        check=True, capture_output=True,
    )  # fmt: skip
    signed = (tmp / "signed.eml").read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    header = b"From: carol@example.net\r\nTo: alice@example.org\r\nSubject: signed\r\n"
    return header + signed, tmp / "cert.pem"


def _verifies(data: bytes, signer: Path, tmp: Path) -> bool:
    (tmp / "fetched.eml").write_bytes(data)
    result = subprocess.run(
        ["openssl", "cms", "-verify", "-in", tmp / "fetched.eml", "-CAfile", signer,
         "-purpose", "any", "-out", tmp / "out.mime"],
        capture_output=True,
    )  # fmt: skip
    return result.returncode == 0


def _imaplib_session(client: imaplib.IMAP4, expected: list[bytes]) -> None:
    client.login("alice@example.org", "alice-pw")
    status, data = client.select("INBOX")
    assert status == "OK" and data == [str(len(expected)).encode()]
    for number, body in enumerate(expected, 1):
        status, fetched = client.fetch(str(number), "(BODY.PEEK[])")
        assert status == "OK"
        assert fetched[0][1] == body  # type: ignore[index]
    status, found = client.search(None, "SUBJECT", '"subject 1"')
    assert found == [b"2"]
    status, _ = client.store("1", "+FLAGS", "(\\Flagged)")
    assert status == "OK"
    status, _ = client.uid("COPY", "1", "Trash")
    assert status == "OK"
    status, _ = client.uid("MOVE", "2", "Junk")
    assert status == "OK"
    client.store("1", "+FLAGS", "(\\Deleted)")
    status, expunged = client.expunge()
    assert status == "OK" and expunged[-1] == b"1"  # after the MOVE's own EXPUNGE
    # imaplib 3.11 has no idle(): send IDLE by hand (INTEROP.md)
    tag = client._new_tag()
    client.send(tag + b" IDLE\r\n")
    assert client.readline().startswith(b"+ ")
    client.send(b"DONE\r\n")
    assert client.readline().startswith(tag + b" OK")
    client.logout()


@openssl
async def test_imaplib_ssl_and_starttls(
    start_listener: StartListener,
    service: MailboxService,
    users: Users,
    pki: SmtpPki,
    tmp_path: Path,
) -> None:
    signed, signer = _signed_message(tmp_path)
    bodies = [message("subject 0"), message("subject 1"), signed]
    for body in bodies:
        await service.append(users.alice, "INBOX", body)
    imaps = await start_listener("imaps")
    context = pki.client_context()

    def run_ssl() -> bytes:
        with imaplib.IMAP4_SSL("127.0.0.1", imaps.port, ssl_context=context, timeout=10) as c:
            c.login("alice@example.org", "alice-pw")
            c.select("INBOX", readonly=True)
            _, fetched = c.fetch("3", "(RFC822)")
            return fetched[0][1]  # type: ignore[index,return-value]

    fetched = await asyncio.to_thread(run_ssl)
    assert fetched == signed
    assert _verifies(fetched, signer, tmp_path)
    plain = await start_listener("imap")

    def run_starttls() -> None:
        client = imaplib.IMAP4("127.0.0.1", plain.port, timeout=10)
        assert "LOGINDISABLED" in client.capabilities
        with pytest.raises(imaplib.IMAP4.error, match="PRIVACYREQUIRED"):
            client.login("alice@example.org", "alice-pw")
        client.starttls(ssl_context=context)
        _imaplib_session(client, bodies)

    await asyncio.to_thread(run_starttls)


async def test_aioimaplib(
    imaps: ImapListener, service: MailboxService, users: Users, pki: SmtpPki
) -> None:
    aioimaplib = pytest.importorskip("aioimaplib")
    body = message("async client")
    await service.append(users.alice, "INBOX", body)
    client = aioimaplib.IMAP4_SSL("127.0.0.1", imaps.port, ssl_context=pki.client_context())
    await client.wait_hello_from_server()
    assert (await client.login("alice@example.org", "alice-pw")).result == "OK"
    assert (await client.select("INBOX")).result == "OK"
    fetched = await client.fetch("1", "(BODY.PEEK[])")
    assert fetched.result == "OK" and bytes(fetched.lines[1]) == body
    assert (await client.search("ALL")).lines[0] == b"1"
    assert (await client.store("1", "+FLAGS", "(\\Seen)")).result == "OK"
    assert (await client.copy("1", "Trash")).result == "OK"
    await client.idle_start(timeout=5)
    await service.append(users.alice, "INBOX", message("while idle"))
    pushed = await client.wait_server_push(timeout=3)
    assert any(re.match(rb"2 EXISTS", line) for line in pushed)
    client.idle_done()
    assert (await client.logout()).result == "OK"
    client.protocol.transport.close()  # aioimaplib leaves its transport open after LOGOUT
    await asyncio.sleep(0.05)
