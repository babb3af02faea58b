"""POP3 over real sockets with Python's poplib (POP3 + stls(), POP3_SSL) and a raw client:
TLS before passwords, the maildrop snapshot, RETR/TOP bytes, DELE/RSET/QUIT semantics,
SASL PLAIN, throttling, limits and malformed input."""

from __future__ import annotations

import asyncio
import base64
import poplib
import socket
import ssl
from collections.abc import Callable
from typing import TypeVar

import pytest

from postseal.errors import ConfigError
from postseal.protocols.pop3 import Pop3Listener
from postseal.services.mailboxes import MailboxService
from postseal.services.throttle import AuthThrottle
from postseal.store.ports import UserRecord
from tests.smtp.conftest import SmtpPki

from .conftest import PASSWORD, StartPop3

T = TypeVar("T")
MESSAGES = [
    b"From: alice@example.org\r\nSubject: one\r\n\r\nfirst\r\n.leading dot\r\n..two\r\n",
    b"From: alice@example.org\r\nSubject: two\r\n\r\nsecond\r\nline 2\r\nline 3\r\n",
    b"From: alice@example.org\r\nSubject: three\r\n\r\nno final line end",
]


async def blocking(work: Callable[[], T]) -> T:
    return await asyncio.to_thread(work)


async def _fill(service: MailboxService, bob: UserRecord) -> None:
    for data in MESSAGES:
        await service.append(bob, "INBOX", data)


def _client(listener: Pop3Listener, pki: SmtpPki) -> poplib.POP3:
    client = poplib.POP3("127.0.0.1", listener.port, timeout=10)
    client.stls(pki.client_context())
    client.user("bob@example.org")
    client.pass_(PASSWORD)
    return client


async def test_capa_offers_no_password_before_tls(start_pop3: StartPop3, pki: SmtpPki) -> None:
    listener = await start_pop3("pop3")

    def run() -> tuple[dict[str, list[str]], dict[str, list[str]], str]:
        client = poplib.POP3("127.0.0.1", listener.port, timeout=10)
        before = client.capa()
        with pytest.raises(poplib.error_proto) as refused:
            client.user("bob@example.org")
        client.stls(pki.client_context())
        after = client.capa()
        client.quit()
        return before, after, str(refused.value)

    before, after, refused = await blocking(run)
    assert "STLS" in before and "USER" not in before and "SASL" not in before
    assert "[AUTH]" in refused
    assert after["SASL"] == ["PLAIN"] and "USER" in after and "STLS" not in after
    assert {"TOP", "UIDL", "RESP-CODES", "PIPELINING"} <= set(after)


async def test_a_whole_session_reads_exact_bytes_and_deletes_only_on_quit(
    start_pop3: StartPop3, pki: SmtpPki, service: MailboxService, bob: UserRecord
) -> None:
    await _fill(service, bob)
    listener = await start_pop3("pop3")

    def run() -> dict[str, object]:
        client = _client(listener, pki)
        seen: dict[str, object] = {"stat": client.stat()}
        seen["list"] = client.list()[1]
        seen["uidl"] = client.uidl()[1]
        seen["retr"] = [b"\r\n".join(client.retr(n)[1]) + b"\r\n" for n in (1, 2, 3)]
        seen["top"] = client.top(2, 1)[1]
        client.dele(1)
        with pytest.raises(poplib.error_proto):
            client.retr(1)
        client.rset()
        client.dele(2)
        seen["stat after dele"] = client.stat()
        client.quit()
        return seen

    seen = await blocking(run)
    sizes = [len(m) for m in MESSAGES]
    assert seen["stat"] == (3, sum(sizes))
    assert seen["list"] == [f"{n} {s}".encode() for n, s in enumerate(sizes, 1)]
    inbox = await service.find(bob, "INBOX")
    assert seen["uidl"] == [f"{n} {n:08X}{inbox.uidvalidity:08X}".encode() for n in (1, 2, 3)]
    assert seen["retr"] == [MESSAGES[0], MESSAGES[1], MESSAGES[2] + b"\r\n"]
    assert seen["top"] == [b"From: alice@example.org", b"Subject: two", b"", b"second"]
    assert seen["stat after dele"] == (2, sizes[0] + sizes[2])
    left = await service.messages(inbox)
    assert [m.uid for m in left] == [1, 3]
    assert all("\\Seen" in m.flags for m in left)  # retrieved, left on the server


async def test_a_dropped_connection_deletes_nothing(
    start_pop3: StartPop3, pki: SmtpPki, service: MailboxService, bob: UserRecord
) -> None:
    await _fill(service, bob)
    listener = await start_pop3("pop3")

    def run() -> None:
        client = _client(listener, pki)
        client.dele(1)
        client.close()  # no QUIT: RFC 1939 §6, no UPDATE state

    await blocking(run)
    await asyncio.sleep(0.1)
    inbox = await service.find(bob, "INBOX")
    assert len(await service.messages(inbox)) == 3


async def test_pop3s_is_implicit_tls(
    start_pop3: StartPop3, pki: SmtpPki, service: MailboxService, bob: UserRecord
) -> None:
    await _fill(service, bob)
    listener = await start_pop3("pop3s")

    def run() -> tuple[dict[str, list[str]], list[bytes]]:
        client = poplib.POP3_SSL("127.0.0.1", listener.port, context=pki.client_context())
        capa = client.capa()
        client.user("bob@example.org")
        client.pass_(PASSWORD)
        lines = client.retr(2)[1]
        client.quit()
        return capa, lines

    capa, lines = await blocking(run)
    assert "STLS" not in capa and "USER" in capa
    assert b"\r\n".join(lines) + b"\r\n" == MESSAGES[1]


class Raw:
    """A line-oriented client over implicit TLS for what poplib cannot send."""

    def __init__(self, port: int, pki: SmtpPki) -> None:
        plain = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock = pki.client_context().wrap_socket(plain, server_hostname="localhost")
        self.file = self.sock.makefile("rb")
        self.greeting = self.line()

    def line(self) -> bytes:
        return self.file.readline()

    def send(self, data: bytes) -> bytes:
        self.sock.sendall(data)
        return self.line()

    def close(self) -> None:
        self.file.close()
        self.sock.close()


async def test_sasl_plain_and_malformed_commands(start_pop3: StartPop3, pki: SmtpPki) -> None:
    listener = await start_pop3("pop3s", max_errors=5)
    token = base64.b64encode(f"\0bob@example.org\0{PASSWORD}".encode())

    def run() -> list[bytes]:
        raw = Raw(listener.port, pki)
        replies = [raw.greeting, raw.send(b"HELLO world\r\n"), raw.send(b"RETR 1\r\n")]
        replies.append(raw.send(b"AUTH PLAIN\r\n"))
        replies.append(raw.send(token + b"\r\n"))
        replies.append(raw.send(b"STAT\r\n"))
        replies.append(raw.send(b"RETR x\r\n"))
        replies.append(raw.send(b"X" * 2000 + b"\r\n"))
        replies.append(raw.send(b"LIST 99\r\n"))  # the fifth error closes
        replies.append(raw.line())
        replies.append(raw.line())
        raw.close()
        return replies

    replies = await blocking(run)
    assert replies[0].startswith(b"+OK")
    assert replies[1].startswith(b"-ERR") and replies[2].startswith(b"-ERR")
    assert replies[3] == b"+ \r\n"
    assert replies[4].startswith(b"+OK bob@example.org has 0 messages")
    assert replies[5] == b"+OK 0 0\r\n"
    assert replies[6].startswith(b"-ERR") and b"line longer" in replies[7]
    assert replies[8].startswith(b"-ERR there is no message 99")
    assert replies[9].startswith(b"-ERR too many errors") and replies[10] == b""


async def test_failed_logins_are_throttled(start_pop3: StartPop3, pki: SmtpPki) -> None:
    listener = await start_pop3("pop3s", throttle=AuthThrottle(per_account=2))

    def run() -> list[str]:
        errors = []
        for password in ("wrong", "wrong", PASSWORD):
            client = poplib.POP3_SSL("127.0.0.1", listener.port, context=pki.client_context())
            client.user("bob@example.org")
            try:
                client.pass_(password)
            except poplib.error_proto as exc:
                errors.append(str(exc))
            client.close()
        return errors

    errors = await blocking(run)
    assert len(errors) == 3 and all("[AUTH]" in e for e in errors)
    assert "too many failed logins" in errors[2]


async def test_idle_sessions_are_logged_out(start_pop3: StartPop3, pki: SmtpPki) -> None:
    listener = await start_pop3("pop3s", idle_timeout=0.3)

    def run() -> list[bytes]:
        raw = Raw(listener.port, pki)
        lines = [raw.line(), raw.line()]
        raw.close()
        return lines

    lines = await blocking(run)
    assert lines[0].startswith(b"-ERR idle") and lines[1] == b""


async def test_address_in_use_is_a_config_error(start_pop3: StartPop3) -> None:
    first = await start_pop3("pop3")
    with pytest.raises(ConfigError, match="cannot listen for pop3"):
        await start_pop3("pop3", port=first.port)


def test_unknown_kind_is_a_config_error(server_tls: ssl.SSLContext) -> None:
    with pytest.raises(ConfigError):
        Pop3Listener(
            "pop2",
            service=None,  # type: ignore[arg-type]
            authenticate=None,  # type: ignore[arg-type]
            host="127.0.0.1",
            port=0,
            hostname="x",
            tls=server_tls,
        )


async def test_plaintext_pipelined_behind_stls_closes_the_connection(
    start_pop3: StartPop3,
) -> None:
    """RFC 2595 §4 / CVE-2011-0411: a command injected before the handshake never runs."""
    listener = await start_pop3("pop3")

    def run() -> list[bytes]:
        with socket.create_connection(("127.0.0.1", listener.port), timeout=10) as sock:
            reader = sock.makefile("rb")
            lines = [reader.readline()]
            sock.sendall(b"STLS\r\nUSER bob@example.org\r\n")
            lines += [reader.readline(), reader.readline()]
            reader.close()
            return lines

    greeting, refused, closed = await blocking(run)
    assert greeting.startswith(b"+OK")
    assert refused.startswith(b"-ERR data sent after STLS") and closed == b""
