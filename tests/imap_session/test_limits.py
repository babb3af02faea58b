"""Limits, throttling, malformed input and unexpected failures: every one gets a defined
response, and the connection survives or ends with ``* BYE``."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postseal.services.mailboxes import MailboxService
from postseal.store.ports import Mailbox
from postseal.store.ports.mailbox_reads import MailboxListing
from tests.smtp.conftest import SmtpPki

from .client import RawImap
from .conftest import Connect, StartListener


async def test_long_line_gets_bad_and_the_session_survives(
    start_listener: StartListener, pki: SmtpPki
) -> None:
    listener = await start_listener("imaps", max_line_length=1024)
    client = await RawImap.connect(listener.port, tls=pki.client_context())
    await client.send(b"a1 NOOP " + b"x" * 5000 + b"\r\n")
    assert (await client.response()).startswith(b"* BAD")
    assert (await client.command("NOOP")).status == "OK"
    await client.close()


async def test_literal_limits(start_listener: StartListener, pki: SmtpPki) -> None:
    listener = await start_listener("imaps", max_literal=100)
    client = await RawImap.connect(listener.port, tls=pki.client_context())
    await client.login()
    sync = await client.command("APPEND INBOX {500}")
    assert b"BAD [TOOBIG]" in sync.tagged
    assert (await client.command("NOOP")).status == "OK"
    await client.send(b"a9 APPEND INBOX {500+}\r\n")
    assert b"BAD [TOOBIG]" in await client.response()
    assert await client.closed()
    await client.close()


async def test_brute_force_is_throttled(start_listener: StartListener, pki: SmtpPki) -> None:
    listener = await start_listener("imaps", max_auth_failures=3)
    client = await RawImap.connect(listener.port, tls=pki.client_context())
    for _ in range(2):
        reply = await client.command('LOGIN alice@example.org "wrong"')
        assert b"NO [AUTHENTICATIONFAILED]" in reply.tagged
    third = await client.command('LOGIN alice@example.org "wrong"')
    assert third.untagged[0].startswith(b"* BYE")
    assert await client.closed()
    # AuthThrottle (5 per account): the right password no longer helps for a while
    for _ in range(2):
        other = await RawImap.connect(listener.port, tls=pki.client_context())
        await other.command('LOGIN alice@example.org "wrong"')
        await other.close()
    late = await RawImap.connect(listener.port, tls=pki.client_context())
    reply = await late.command('LOGIN alice@example.org "alice-pw"')
    assert b"NO [UNAVAILABLE]" in reply.tagged
    await late.close()


async def test_connection_limits(start_listener: StartListener, pki: SmtpPki) -> None:
    listener = await start_listener(
        "imaps", max_connections_per_address=2, max_connections_per_user=1
    )
    first = await RawImap.connect(listener.port, tls=pki.client_context())
    await first.login()
    second = await RawImap.connect(listener.port, tls=pki.client_context())
    refused = await second.command('LOGIN alice@example.org "alice-pw"')
    assert b"NO [LIMIT]" in refused.tagged
    third = await RawImap.connect(listener.port, tls=pki.client_context())
    assert third.greeting.startswith(b"* BYE")
    for client in (first, second, third):
        await client.close()


async def test_timeouts_and_command_budget(start_listener: StartListener, pki: SmtpPki) -> None:
    listener = await start_listener("imaps", login_timeout=0.3, max_commands=3)
    idle = await RawImap.connect(listener.port, tls=pki.client_context())
    assert (await idle.response(wait=2)).startswith(b"* BYE")
    await idle.close()
    busy = await RawImap.connect(listener.port, tls=pki.client_context())
    for _ in range(3):
        await busy.command("NOOP")
    await busy.send(b"x NOOP\r\n")
    assert (await busy.response()).startswith(b"* BYE")
    await busy.close()


async def test_too_many_bad_commands_close(start_listener: StartListener, pki: SmtpPki) -> None:
    listener = await start_listener("imaps", max_bad_commands=2)
    client = await RawImap.connect(listener.port, tls=pki.client_context())
    for _ in range(2):
        assert (await client.command("FROB")).status == "BAD"
    await client.send(b"z FROB\r\n")
    await client.response()
    assert await client.closed()
    await client.close()


class _Broken(MailboxService):
    async def listing(self, mailbox: Mailbox) -> MailboxListing:
        raise RuntimeError("disk on fire")


async def test_unexpected_error_is_serverbug(
    start_listener: StartListener, service: MailboxService, pki: SmtpPki
) -> None:
    broken = _Broken(service._store, service._master, clock=service._clock)
    listener = await start_listener("imaps", mailboxes=broken)
    client = await RawImap.connect(listener.port, tls=pki.client_context())
    await client.login()
    reply = await client.command("SELECT INBOX")
    assert b"NO [SERVERBUG]" in reply.tagged and b"fire" not in reply.tagged
    assert (await client.command("NOOP")).status == "OK"
    await client.close()


async def test_shutdown_says_bye(start_listener: StartListener, pki: SmtpPki) -> None:
    listener = await start_listener("imaps")
    client = await RawImap.connect(listener.port, tls=pki.client_context())
    await client.login()
    await listener.stop()
    assert await client.closed()
    await client.close()


_WORDS = st.sampled_from(
    [
        "SELECT", "FETCH", "STORE", "UID", "SEARCH", "LIST", "APPEND", "COPY", "MOVE", "IDLE",
        "EXPUNGE", "STATUS", "CREATE", "INBOX", "1:*", "*", "(", ")", "[", "]", "\"", "{3}",
        "BODY[]", "FLAGS", "\\Seen", "+FLAGS", "NIL", "%", "~{1}", "{0+}", "<0.1>", "\\",
    ]
)  # fmt: skip
_LINES = st.one_of(
    st.lists(_WORDS, min_size=1, max_size=8).map(lambda w: "t " + " ".join(w)),
    st.text(alphabet=st.characters(min_codepoint=1, max_codepoint=255), max_size=60),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(lines=st.lists(_LINES, min_size=1, max_size=5))
async def test_fuzzed_command_lines_keep_the_session_up(lines: list[str], connect: Connect) -> None:
    """Whole command lines from a word soup and from random octets: each gets an
    answer and a NOOP after them still gets one (the session stays up)."""
    client = await connect()
    try:
        await client.command("SELECT INBOX")
        for line in lines:
            data = line.replace("\r", "").replace("\n", "").encode("latin-1")
            if data.endswith(b"}") and not data.endswith((b"{3}", b"{1}")):
                data += b" x"
            await client.send(data + b"\r\n")
            if data.endswith((b"{3}", b"{1}")):
                await client.send(b"abc\r\n")
        await client.send(b"DONE\r\nzz NOOP\r\n")
        reply = await client.until("zz", wait=10)
        assert reply.status in ("OK", "BAD")
    finally:
        await client.close()
