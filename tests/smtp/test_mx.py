"""The MX listener (``smtp``): local recipients only, no AUTH, STARTTLS offered."""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
import warnings

import pytest

from postseal.errors import PolicyError, StoreError, TemporaryError
from postseal.protocols.smtp import SmtpListener
from postseal.services.ports import Listener

from .conftest import SmtpPki, StartListener
from .fakes import ALICE, BOB, FakeIntake
from .raw import RawClient

MESSAGE = b"From: carol@remote.example\r\nTo: bob@example.test\r\nSubject: hi\r\n\r\nHello Bob.\r\n"


async def test_plain_delivery_with_smtplib(mx: SmtpListener, intake: FakeIntake) -> None:
    def send() -> dict[str, tuple[int, bytes]]:
        with smtplib.SMTP("127.0.0.1", mx.port, local_hostname="relay.remote.example") as client:
            return client.sendmail("carol@remote.example", [BOB], MESSAGE)

    assert await asyncio.to_thread(send) == {}
    [envelope] = intake.accepted
    assert envelope.listener is Listener.SMTP
    assert envelope.client_address == "127.0.0.1"
    assert envelope.helo == "relay.remote.example"
    assert envelope.auth_user is None
    assert envelope.mail_from == "carol@remote.example"
    assert envelope.rcpt_tos == (BOB,)
    assert envelope.data == MESSAGE
    assert not envelope.tls


async def test_starttls_delivery(mx: SmtpListener, intake: FakeIntake, pki: SmtpPki) -> None:
    def send() -> tuple[str, ...]:
        with smtplib.SMTP("127.0.0.1", mx.port) as client:
            client.ehlo()
            assert client.has_extn("starttls")
            assert not client.has_extn("auth")
            client.starttls(context=pki.client_context())
            client.ehlo()
            assert not client.has_extn("starttls")
            assert not client.has_extn("auth")  # ADR 0007: no AUTH on the MX, even with TLS
            client.sendmail("carol@remote.example", [BOB], MESSAGE)
            return tuple(client.esmtp_features)

    features = await asyncio.to_thread(send)
    for extension in ("pipelining", "size", "8bitmime", "smtputf8", "enhancedstatuscodes", "dsn"):
        assert extension in features
    assert intake.accepted[0].tls


async def test_ehlo_advertises_size_and_greeting_hides_version(mx: SmtpListener) -> None:
    client = await RawClient.connect(mx.port, greet=False)
    code, greeting = await client.reply()
    assert (code, greeting) == (220, "220 mx.example.test ESMTP postseal")
    text = await client.ehlo()
    assert f"250-SIZE {25 * 1024 * 1024}" in text.splitlines()
    await client.close()


async def test_open_relay_attempt_is_refused(mx: SmtpListener, intake: FakeIntake) -> None:
    client = await RawClient.connect(mx.port)
    await client.ehlo()
    assert (await client.command("MAIL FROM:<spammer@remote.example>"))[0] == 250
    code, text = await client.command("RCPT TO:<victim@elsewhere.example>")
    assert code == 554
    assert text.startswith("554 5.7.1 ")
    code, text = await client.command("DATA")
    assert text.startswith("554 5.5.1")  # RFC 2920 §3.1: no valid recipients
    await client.close()
    assert intake.accept_calls == 0


async def test_unknown_local_user(mx: SmtpListener) -> None:
    client = await RawClient.connect(mx.port)
    await client.ehlo()
    await client.command("MAIL FROM:<carol@remote.example>")
    _, text = await client.command("RCPT TO:<nobody@example.test>")
    assert text == "550 5.1.1 nobody@example.test: no such mailbox here"
    await client.close()


async def test_auth_is_not_offered_on_mx(mx: SmtpListener) -> None:
    client = await RawClient.connect(mx.port)
    await client.ehlo()
    _, text = await client.command("AUTH PLAIN AGFsaWNlAHB3")
    assert text.startswith("502 5.5.1")
    await client.close()


async def test_null_sender_postmaster_and_dsn_parameters(
    mx: SmtpListener, intake: FakeIntake
) -> None:
    client = await RawClient.connect(mx.port)
    await client.ehlo()
    _, text = await client.command("MAIL FROM:<> RET=HDRS ENVID=QQ+2B1 BODY=8BITMIME SIZE=100")
    assert text == "250 2.1.0 Sender OK"
    _, text = await client.command(
        "RCPT TO:<bob@example.test> NOTIFY=FAILURE,DELAY ORCPT=rfc822;bob@example.test"
    )
    assert text == "250 2.1.5 Recipient OK"
    assert (await client.command("RCPT TO:<Postmaster>"))[0] == 250
    assert (await client.command("DATA"))[0] == 354
    _, text = await client.command(b"Subject: bounce\r\n\r\n\xc3\xa9t\xc3\xa9\r\n.")
    assert text == "250 2.0.0 OK queued as Q0001"
    await client.close()
    [envelope] = intake.accepted
    assert envelope.mail_from == ""
    assert envelope.rcpt_tos == (BOB, "postmaster")
    assert envelope.body_8bit and not envelope.smtputf8


async def test_smtputf8_flag_reaches_the_envelope(mx: SmtpListener, intake: FakeIntake) -> None:
    client = await RawClient.connect(mx.port)
    await client.ehlo()
    code, text = await client.command("MAIL FROM:<josé@exemple.example> SMTPUTF8")
    assert code == 250, text
    assert (await client.command("RCPT TO:<bob@example.test>"))[0] == 250
    await client.command("DATA")
    assert (await client.command(b"Subject: ol\xc3\xa1\r\n\r\nx\r\n."))[0] == 250
    await client.close()
    assert intake.accepted[0].smtputf8
    assert intake.accepted[0].mail_from == "josé@exemple.example"


async def test_non_ascii_address_without_smtputf8_is_refused(mx: SmtpListener) -> None:
    client = await RawClient.connect(mx.port)
    await client.ehlo()
    _, text = await client.command("MAIL FROM:<josé@exemple.example>")
    assert text.startswith("553 5.1.7") and "SMTPUTF8" in text
    await client.close()


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("MAIL FROM:<a@b.example> FOO=1", "555 5.5.4"),
        ("MAIL FROM:a@b.example", "501 5.5.4"),
        ("MAIL FROM:<a@b.example> SIZE=ten", "501 5.5.4"),
        ("MAIL FROM:<a@@b.example>", "553 5.1.7"),
        ("MAIL FROM:<a@b.example>\rRCPT TO:<x@example.test>", "501 5.5.4"),
        ("MAIL FROM:<a@b.example> ENVID=x\x00y", "501 5.5.4"),
        ("MAIL FROM:<a@b.example> BODY=BINARYMIME", "555 5.5.4"),
        ("MAIL FROM:<a@b.example> SIZE=1 SIZE=2", "501 5.5.4"),
        ("FROBNICATE", "500 5.5.2"),
        ("MAIL", "501 5.5.4"),
        ("RCPT TO:<bob@example.test>", "503 5.5.1"),
        ("EHLO", "501 5.5.4"),
    ],
)
async def test_malformed_commands_get_5xx_and_the_session_survives(
    mx: SmtpListener, intake: FakeIntake, line: str, expected: str
) -> None:
    client = await RawClient.connect(mx.port)
    await client.ehlo()
    _, text = await client.command(line)
    assert text.startswith(expected + " "), text
    assert "\r" not in text
    assert (await client.command("NOOP")) == (250, "250 2.0.0 OK")
    await client.close()
    assert intake.accept_calls == 0


async def test_header_injection_in_rcpt(mx: SmtpListener) -> None:
    client = await RawClient.connect(mx.port)
    await client.ehlo()
    await client.command("MAIL FROM:<carol@remote.example>")
    code, text = await client.command("RCPT TO:<bob@example.test>\rX-Injected: yes")
    assert code == 501
    code, text = await client.command("RCPT TO:<bob@example.test> ORCPT=rfc822;a+0D+0Ab")
    assert code == 501 and "control" in text
    await client.close()


async def test_too_many_errors_close_with_421(start_listener: StartListener) -> None:
    listener = await start_listener(Listener.SMTP, max_errors=3)
    client = await RawClient.connect(listener.port)
    await client.ehlo()
    await client.command("MAIL FROM:<bad")
    await client.command("MAIL FROM:<bad")
    code, _text = await client.command("MAIL FROM:<bad")
    assert code == 501
    assert await client.reply() == (421, "421 4.7.0 Too many errors, closing connection")
    assert await client.closed()
    await client.close()


async def test_too_many_commands_close_with_421(start_listener: StartListener) -> None:
    listener = await start_listener(Listener.SMTP, max_commands=3)
    client = await RawClient.connect(listener.port)
    await client.ehlo()
    await client.command("NOOP")
    await client.command("NOOP")
    assert (await client.command("NOOP"))[1] == "421 4.7.0 Too many commands, closing connection"
    assert await client.closed()
    await client.close()


async def test_policy_refusal_names_recipients_on_one_line(
    mx: SmtpListener, intake: FakeIntake
) -> None:
    intake.accept_error = PolicyError(
        "cannot encrypt to bob@example.test:\r\nno certificate", hint="ask bob to enroll"
    )
    client = await RawClient.connect(mx.port)
    await client.ehlo()
    await client.command("MAIL FROM:<carol@remote.example>")
    await client.command("RCPT TO:<bob@example.test>")
    await client.command("DATA")
    _, text = await client.command(b"Subject: x\r\n\r\nx\r\n.")
    assert text == "550 5.7.1 cannot encrypt to bob@example.test: no certificate"
    await client.close()


@pytest.mark.parametrize(
    "error", [TemporaryError("scanner busy"), StoreError("database at db.internal:5432 is down")]
)
async def test_temporary_failures_answer_451_and_nothing_else(
    mx: SmtpListener, intake: FakeIntake, error: Exception
) -> None:
    intake.accept_error = error
    client = await RawClient.connect(mx.port)
    await client.ehlo()
    await client.command("MAIL FROM:<carol@remote.example>")
    await client.command("RCPT TO:<bob@example.test>")
    await client.command("DATA")
    _, text = await client.command(b"Subject: x\r\n\r\nx\r\n.")
    assert text == "451 4.3.0 Temporary failure on this server, try again later"
    assert (await client.command("QUIT"))[0] == 221
    await client.close()
    assert intake.accepted == []


async def test_unexpected_exception_is_451_and_logged(
    mx: SmtpListener, intake: FakeIntake, caplog: pytest.LogCaptureFixture
) -> None:
    intake.accept_error = RuntimeError("secret internal detail")
    client = await RawClient.connect(mx.port)
    await client.ehlo()
    await client.command("MAIL FROM:<carol@remote.example>")
    await client.command("RCPT TO:<bob@example.test>")
    await client.command("DATA")
    code, text = await client.command(b"x\r\n.")
    assert code == 451 and "secret" not in text
    assert (await client.command("NOOP"))[0] == 250
    await client.close()
    assert any(
        r.exc_info and "secret internal detail" in str(r.exc_info[1]) for r in caplog.records
    )


async def test_too_many_recipients(start_listener: StartListener, intake: FakeIntake) -> None:
    listener = await start_listener(Listener.SMTP, max_recipients=2)
    client = await RawClient.connect(listener.port)
    await client.ehlo()
    await client.command("MAIL FROM:<carol@remote.example>")
    assert (await client.command("RCPT TO:<bob@example.test>"))[0] == 250
    assert (await client.command("RCPT TO:<alice@example.test>"))[0] == 250
    _, text = await client.command("RCPT TO:<postmaster@example.test>")
    assert text == "452 4.5.3 Too many recipients"
    await client.command("DATA")
    assert (await client.command(b"x\r\n."))[0] == 250
    await client.close()
    assert intake.accepted[0].rcpt_tos == (BOB, ALICE)


async def test_connection_limit_per_client(start_listener: StartListener) -> None:
    listener = await start_listener(Listener.SMTP, max_connections_per_client=2)
    first = await RawClient.connect(listener.port)
    second = await RawClient.connect(listener.port)
    third = await RawClient.connect(listener.port, greet=False)
    _, text = await third.reply()
    assert text == "421 4.7.0 Too many connections from your address, try again later"
    assert await third.closed()
    await third.close()
    await first.command("QUIT")
    await first.close()
    await asyncio.sleep(0.05)
    fourth = await RawClient.connect(listener.port)  # a slot was freed
    for client in (second, fourth):
        await client.command("QUIT")
        await client.close()


async def test_connection_limit_total(start_listener: StartListener) -> None:
    listener = await start_listener(Listener.SMTP, max_connections=1)
    first = await RawClient.connect(listener.port)
    second = await RawClient.connect(listener.port, greet=False)
    assert (await second.reply())[1] == "421 4.7.0 Too many connections, try again later"
    await second.close()
    await first.close()


async def test_idle_timeout_closes(start_listener: StartListener) -> None:
    listener = await start_listener(Listener.SMTP, idle_timeout=0.3)
    client = await RawClient.connect(listener.port)
    assert await client.closed(wait=3)
    await client.close()


async def test_pipelining_mail_rcpt_data(mx: SmtpListener, intake: FakeIntake) -> None:
    client = await RawClient.connect(mx.port)
    await client.ehlo()
    await client.send(
        b"MAIL FROM:<carol@remote.example>\r\nRCPT TO:<bob@example.test>\r\n"
        b"RCPT TO:<nobody@example.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n"
    )
    replies = [await client.reply() for _ in range(5)]
    assert [code for code, _ in replies] == [250, 250, 550, 250, 354]
    await client.send(b"Subject: pipelined\r\n\r\nbody\r\n.\r\nQUIT\r\n")
    assert (await client.reply())[0] == 250
    assert (await client.reply())[0] == 221
    await client.close()
    assert intake.accepted[0].rcpt_tos == (BOB, ALICE)


async def test_aiosmtplib_pipelined_send(mx: SmtpListener, intake: FakeIntake) -> None:
    import aiosmtplib

    errors, reply = await aiosmtplib.send(
        MESSAGE,
        sender="carol@remote.example",
        recipients=[BOB, ALICE],
        hostname="127.0.0.1",
        port=mx.port,
        start_tls=False,
    )
    assert errors == {}
    assert reply == "2.0.0 OK queued as Q0001"
    assert intake.accepted[0].rcpt_tos == (BOB, ALICE)


async def test_tls11_client_cannot_starttls(
    mx: SmtpListener, pki: SmtpPki, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "postseal.smtp")
    context = tls11_only(pki)

    def attempt() -> None:
        with smtplib.SMTP("127.0.0.1", mx.port) as client:
            client.starttls(context=context)

    with pytest.raises(ssl.SSLError):
        await asyncio.to_thread(attempt)
    assert "TLS handshake failed" in caplog.text
    assert "UNSUPPORTED_PROTOCOL" in caplog.text  # refused by the server, not the client
    # The session is closed, the listener keeps serving.
    assert (await asyncio.to_thread(plain_noop, mx.port))[0] == 250


def tls11_only(pki: SmtpPki) -> ssl.SSLContext:
    """A client that offers TLS 1.0/1.1 only (SECLEVEL=0 so that OpenSSL offers them at all:
    the handshake must fail because of the server, not the client)."""
    context = pki.client_context()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = ssl.TLSVersion.TLSv1_1
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    return context


def plain_noop(port: int) -> tuple[int, bytes]:
    with smtplib.SMTP("127.0.0.1", port) as client:
        return client.noop()
