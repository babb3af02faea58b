"""DATA over real sockets: size, line length, NUL, bare CR/LF, smuggling, dropped clients."""

from __future__ import annotations

import asyncio

import pytest

from postseal.protocols.smtp import SmtpListener
from postseal.services.ports import Listener

from .conftest import StartListener
from .fakes import FakeIntake
from .raw import RawClient


async def open_transaction(port: int) -> RawClient:
    client = await RawClient.connect(port)
    await client.ehlo()
    assert (await client.command("MAIL FROM:<carol@remote.example>"))[0] == 250
    assert (await client.command("RCPT TO:<bob@example.test>"))[0] == 250
    assert (await client.command("DATA"))[0] == 354
    return client


async def send_data(port: int, data: bytes) -> tuple[int, str]:
    """DATA with ``data`` verbatim, then ``<CRLF>.<CRLF>``; the reply, then QUIT."""
    client = await open_transaction(port)
    reply = await client.command(data + b"\r\n.")
    assert (await client.command("QUIT"))[0] == 221
    await client.close()
    return reply


async def test_declared_size_over_the_limit(start_listener: StartListener) -> None:
    listener = await start_listener(Listener.SMTP, max_message_size=1000)
    client = await RawClient.connect(listener.port)
    text = await client.ehlo()
    assert "250-SIZE 1000" in text.splitlines()
    _, text = await client.command("MAIL FROM:<carol@remote.example> SIZE=1001")
    assert text == "552 5.3.4 Message size exceeds the maximum of 1000 octets"
    assert (await client.command("MAIL FROM:<carol@remote.example> SIZE=1000"))[0] == 250
    await client.close()


async def test_actual_size_over_the_limit(
    start_listener: StartListener, intake: FakeIntake
) -> None:
    listener = await start_listener(Listener.SMTP, max_message_size=1000)
    code, text = await send_data(
        listener.port, b"Subject: big\r\n\r\n" + b"x" * 70 * 2 + (b"y" * 70 + b"\r\n") * 20
    )
    assert code == 552 and text.startswith("552 5.3.4 ")
    assert intake.accept_calls == 0


async def test_line_of_exactly_1000_octets_passes_and_1001_is_refused(
    mx: SmtpListener, intake: FakeIntake
) -> None:
    ok_line = b"a" * 998
    assert (await send_data(mx.port, b"Subject: x\r\n\r\n" + ok_line))[0] == 250
    assert intake.accepted[0].data.endswith(ok_line + b"\r\n")
    code, text = await send_data(mx.port, b"Subject: x\r\n\r\n" + b"a" * 999)
    assert code == 554 and text.startswith("554 5.6.0 ") and "1000 octets" in text
    assert len(intake.accepted) == 1


async def test_very_long_line_beyond_the_stream_buffer(
    mx: SmtpListener, intake: FakeIntake
) -> None:
    code, _ = await send_data(mx.port, b"Subject: x\r\n\r\n" + b"b" * 100_000 + b"\r\nafter")
    assert code == 554
    assert intake.accept_calls == 0


async def test_long_command_line(mx: SmtpListener) -> None:
    client = await RawClient.connect(mx.port)
    await client.ehlo()
    _, text = await client.command("NOOP " + "x" * 3000)
    assert text == "500 5.5.2 Line too long"
    assert (await client.command("NOOP"))[0] == 250
    await client.close()


async def test_nul_byte_is_refused(mx: SmtpListener, intake: FakeIntake) -> None:
    code, text = await send_data(mx.port, b"Subject: x\r\n\r\nbad\x00byte")
    assert code == 554 and text.startswith("554 5.6.0 ") and "NUL" in text
    assert intake.accept_calls == 0


async def test_bare_cr_is_refused(mx: SmtpListener, intake: FakeIntake) -> None:
    code, text = await send_data(mx.port, b"Subject: x\r\n\r\nbare\rcr")
    assert code == 554 and "bare CR" in text
    assert intake.accept_calls == 0


async def test_bare_lf_is_normalised_to_crlf(mx: SmtpListener, intake: FakeIntake) -> None:
    code, _ = await send_data(mx.port, b"Subject: lf\nX-A: 1\r\n\nline one\nline two")
    assert code == 250
    assert intake.accepted[0].data == b"Subject: lf\r\nX-A: 1\r\n\r\nline one\r\nline two\r\n"


async def test_dot_stuffing_is_undone(mx: SmtpListener, intake: FakeIntake) -> None:
    assert (await send_data(mx.port, b"Subject: x\r\n\r\n..\r\n..leading"))[0] == 250
    assert intake.accepted[0].data == b"Subject: x\r\n\r\n.\r\n.leading\r\n"


@pytest.mark.parametrize("terminator", [b"\n.\n", b"\r\n.\n", b"\n.\r\n", b"\r.\r"])
async def test_smtp_smuggling_does_not_split_the_message(
    mx: SmtpListener, intake: FakeIntake, terminator: bytes
) -> None:
    """SMTP smuggling (2023): a fake end-of-data followed by a second transaction must
    stay content of the first message, never become a second one."""
    client = await open_transaction(mx.port)
    smuggled = (
        b"Subject: outer\r\n\r\nouter body"
        + terminator
        + b"MAIL FROM:<ceo@example.test>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n"
        + b"Subject: smuggled\r\n\r\nsmuggled body\r\n.\r\n"
    )
    await client.send(smuggled)
    code, text = await client.reply()
    assert (await client.command("QUIT"))[0] == 221
    await client.close()
    assert intake.accept_calls <= 1
    if terminator == b"\r.\r":
        assert code == 554  # bare CR refuses the whole thing
        assert intake.accepted == []
    else:
        assert code == 250, text
        [envelope] = intake.accepted
        assert envelope.rcpt_tos == ("bob@example.test",)
        assert b"MAIL FROM:<ceo@example.test>" in envelope.data
        assert b"smuggled body" in envelope.data


async def test_dropped_connection_mid_data_accepts_nothing(
    mx: SmtpListener, intake: FakeIntake
) -> None:
    client = await open_transaction(mx.port)
    await client.send(b"Subject: half\r\n\r\nhalf a message\r\n")
    await client.close()
    for _ in range(50):
        if mx.open_connections == 0:
            break
        await asyncio.sleep(0.01)
    assert mx.open_connections == 0
    assert intake.accept_calls == 0
    assert intake.accepted == []


async def test_client_vanishing_during_accept_does_not_cancel_the_commit(
    mx: SmtpListener, intake: FakeIntake
) -> None:
    intake.accept_delay = 0.2
    client = await open_transaction(mx.port)
    await client.send(b"Subject: x\r\n\r\nbody\r\n.\r\n")
    await asyncio.sleep(0.05)
    client.writer.transport.abort()
    await asyncio.sleep(0.4)
    assert len(intake.accepted) == 1  # committed once, the reply was lost: RFC 1047


async def test_empty_line_and_rset_after_refusal(mx: SmtpListener, intake: FakeIntake) -> None:
    client = await open_transaction(mx.port)
    assert (await client.command(b"x\x00\r\n."))[0] == 554
    # The transaction is over: a new one starts cleanly.
    assert (await client.command("RCPT TO:<bob@example.test>"))[0] == 503
    assert (await client.command("MAIL FROM:<carol@remote.example>"))[0] == 250
    assert (await client.command("RSET"))[1] == "250 2.0.0 OK"
    await client.close()
