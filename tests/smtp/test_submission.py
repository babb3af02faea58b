"""The submission listeners: 587 (STARTTLS, then AUTH) and 465 (implicit TLS, then AUTH)."""

from __future__ import annotations

import asyncio
import base64
import logging
import smtplib
import ssl

import aiosmtplib
import pytest

from postseal.protocols.smtp import SmtpListener
from postseal.services.ports import Listener

from .conftest import SmtpPki
from .fakes import ALICE, BOB, PASSWORD, FakeIntake
from .raw import RawClient
from .test_mx import tls11_only

MESSAGE = b"From: alice@example.test\r\nTo: bob@example.test\r\nSubject: hi\r\n\r\nHi Bob.\r\n"
PLAIN = base64.b64encode(f"\0{ALICE}\0{PASSWORD}".encode()).decode()


async def test_submission_happy_path_with_smtplib(
    submission: SmtpListener, intake: FakeIntake, pki: SmtpPki
) -> None:
    def send() -> None:
        with smtplib.SMTP("127.0.0.1", submission.port) as client:
            client.ehlo()
            assert client.has_extn("starttls") and not client.has_extn("auth")
            client.starttls(context=pki.client_context())
            client.ehlo()
            assert client.esmtp_features["auth"].split() == ["PLAIN", "LOGIN"]
            client.login(ALICE, PASSWORD)  # smtplib picks PLAIN
            client.sendmail(ALICE, [BOB, "friend@elsewhere.example"], MESSAGE)

    await asyncio.to_thread(send)
    [envelope] = intake.accepted
    assert envelope.listener is Listener.SUBMISSION
    assert envelope.auth_user == ALICE
    assert envelope.tls
    assert envelope.rcpt_tos == (BOB, "friend@elsewhere.example")  # relaying for a user
    assert envelope.data == MESSAGE


async def test_submission_login_with_aiosmtplib(
    submission: SmtpListener, intake: FakeIntake, pki: SmtpPki
) -> None:
    async with aiosmtplib.SMTP(
        hostname="127.0.0.1", port=submission.port, start_tls=True, tls_context=pki.client_context()
    ) as client:
        code, _ = await client.auth_login(ALICE, PASSWORD)
        assert code == 235
        errors, reply = await client.sendmail(ALICE, [BOB], MESSAGE)
        assert errors == {} and reply.endswith("queued as Q0001")
    assert intake.accepted[0].auth_user == ALICE


async def test_submissions_implicit_tls(
    submissions: SmtpListener, intake: FakeIntake, pki: SmtpPki
) -> None:
    def send() -> None:
        with smtplib.SMTP_SSL(
            "127.0.0.1", submissions.port, context=pki.client_context()
        ) as client:
            client.ehlo()
            assert not client.has_extn("starttls")
            assert client.has_extn("auth")
            client.login(ALICE, PASSWORD)
            client.sendmail(ALICE, [BOB], MESSAGE)

    await asyncio.to_thread(send)
    [envelope] = intake.accepted
    assert envelope.listener is Listener.SUBMISSIONS
    assert envelope.auth_user == ALICE and envelope.tls


async def test_submissions_refuses_tls11(submissions: SmtpListener, pki: SmtpPki) -> None:
    context = tls11_only(pki)

    def attempt() -> None:
        with smtplib.SMTP_SSL("127.0.0.1", submissions.port, context=context, timeout=5):
            pass

    with pytest.raises((ssl.SSLError, ConnectionError)):
        await asyncio.to_thread(attempt)


async def test_submission_refuses_auth_and_mail_before_starttls(
    submission: SmtpListener, intake: FakeIntake
) -> None:
    client = await RawClient.connect(submission.port)
    await client.ehlo()
    for line in (f"AUTH PLAIN {PLAIN}", f"MAIL FROM:<{ALICE}>", f"RCPT TO:<{BOB}>", "DATA"):
        assert (await client.command(line))[1] == "530 5.7.0 Must issue a STARTTLS command first"
    await client.close()
    assert intake.auth_attempts == []


async def starttls_client(port: int, pki: SmtpPki) -> RawClient:
    client = await RawClient.connect(port)
    await client.ehlo()
    assert (await client.command("STARTTLS"))[0] == 220
    await client.writer.start_tls(pki.client_context(), server_hostname="localhost")
    text = await client.ehlo()
    assert "250-AUTH PLAIN LOGIN" in text.splitlines() or "250 AUTH PLAIN LOGIN" in text
    return client


async def test_mail_before_auth_is_refused(submission: SmtpListener, pki: SmtpPki) -> None:
    client = await starttls_client(submission.port, pki)
    assert (await client.command(f"MAIL FROM:<{ALICE}>"))[1] == "530 5.7.0 Authentication required"
    await client.close()


async def test_wrong_password(submission: SmtpListener, pki: SmtpPki, intake: FakeIntake) -> None:
    client = await starttls_client(submission.port, pki)
    bad = base64.b64encode(f"\0{ALICE}\0guess".encode()).decode()
    assert (await client.command(f"AUTH PLAIN {bad}"))[1] == (
        "535 5.7.8 Authentication credentials invalid"
    )
    assert (await client.command(f"MAIL FROM:<{ALICE}>"))[0] == 530
    assert (await client.command(f"AUTH PLAIN {PLAIN}"))[0] == 235  # a retry may succeed
    await client.close()
    assert intake.auth_attempts == [(ALICE, "127.0.0.1")] * 2


async def test_throttled(submission: SmtpListener, pki: SmtpPki, intake: FakeIntake) -> None:
    intake.throttled.add(ALICE)
    client = await starttls_client(submission.port, pki)
    assert (await client.command(f"AUTH PLAIN {PLAIN}"))[1] == (
        "454 4.7.0 Too many failures, try again later"
    )
    await client.close()


async def test_auth_login_exchange_and_cancel(submission: SmtpListener, pki: SmtpPki) -> None:
    client = await starttls_client(submission.port, pki)
    assert await client.command("AUTH LOGIN") == (334, "334 VXNlcm5hbWU6")
    assert await client.command("*") == (501, "501 5.7.0 Auth aborted")
    assert await client.command("AUTH LOGIN") == (334, "334 VXNlcm5hbWU6")
    assert await client.command(base64.b64encode(ALICE.encode())) == (334, "334 UGFzc3dvcmQ6")
    code, _ = await client.command(base64.b64encode(PASSWORD.encode()))
    assert code == 235
    assert (await client.command("AUTH PLAIN"))[1] == "503 5.5.1 Already authenticated"
    await client.close()


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("AUTH CRAM-MD5", "504 5.5.4"),
        ("AUTH PLAIN not-base64!", "501 5.5.2"),
        ("AUTH PLAIN " + base64.b64encode(b"only-one-part").decode(), "501 5.5.2"),
        (
            "AUTH PLAIN " + base64.b64encode(f"bob@example.test\0{ALICE}\0x".encode()).decode(),
            "501 5.5.2",
        ),
    ],
)
async def test_malformed_auth(
    submission: SmtpListener, pki: SmtpPki, intake: FakeIntake, line: str, expected: str
) -> None:
    client = await starttls_client(submission.port, pki)
    assert (await client.command(line))[1].startswith(expected + " ")
    await client.close()
    assert intake.auth_attempts == []


async def test_spoofed_sender(submission: SmtpListener, pki: SmtpPki, intake: FakeIntake) -> None:
    client = await starttls_client(submission.port, pki)
    await client.command(f"AUTH PLAIN {PLAIN}")
    _, text = await client.command("MAIL FROM:<ceo@example.test>")
    assert text == "553 5.7.1 alice@example.test is not allowed to send as ceo@example.test"
    assert (await client.command(f"MAIL FROM:<{ALICE}>"))[0] == 250
    await client.close()


async def test_password_never_logged(
    submission: SmtpListener, pki: SmtpPki, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = await starttls_client(submission.port, pki)
    await client.command(f"AUTH PLAIN {PLAIN}")
    await client.command("QUIT")
    await client.close()
    assert caplog.records
    assert PASSWORD not in caplog.text and PLAIN not in caplog.text


async def test_starttls_command_injection_is_discarded(
    submission: SmtpListener, pki: SmtpPki, intake: FakeIntake
) -> None:
    """RFC 3207 §4.2 / CVE-2011-0411: commands pipelined with STARTTLS in plaintext are
    dropped, never executed inside the TLS session."""
    client = await RawClient.connect(submission.port)
    await client.ehlo()
    await client.send(f"STARTTLS\r\nAUTH PLAIN {PLAIN}\r\n".encode())
    assert (await client.reply())[0] == 220
    await client.writer.start_tls(pki.client_context(), server_hostname="localhost")
    await client.ehlo()
    assert (await client.command(f"MAIL FROM:<{ALICE}>"))[1] == "530 5.7.0 Authentication required"
    await client.close()
    assert intake.auth_attempts == []


async def test_stop_answers_421_to_idle_sessions(submission: SmtpListener, pki: SmtpPki) -> None:
    client = await starttls_client(submission.port, pki)
    await submission.stop()
    assert await client.reply() == (421, "421 4.3.2 Service shutting down, try again later")
    await client.close()
