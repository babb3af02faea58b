"""Issue 4 end to end: with ``relay.direct`` a real server delivers remote mail to the
recipient domain's MX found in DNS (a real DNS server on loopback), and a domain that
takes no mail (null MX, RFC 7505) bounces at once with a DSN naming 5.1.10."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from tests.delivery.sinks import CollectingHandler
from tests.dns_server import Zone, serve_dns
from tests.e2e import mailserver
from tests.e2e.cli import init_org

PASSWORD = "correct horse battery staple"
MX = "127.0.0.3"


@pytest.fixture
def dns_port() -> Iterator[int]:
    """The zone of remote.test (MX on 127.0.0.3) and nomail.test (null MX), served from a
    thread of its own for as long as the test runs."""
    zone = Zone(
        {
            ("remote.test", "MX"): ["10 mx.remote.test."],
            ("mx.remote.test", "A"): [MX],
            ("nomail.test", "MX"): ["0 ."],
        }
    )
    ready: list[int] = []
    started = threading.Event()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def serve() -> None:
        async with serve_dns(zone) as port:
            ready.append(port)
            started.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert started.wait(10)
    try:
        yield ready[0]
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()


def test_remote_mail_goes_to_the_mx_and_a_null_mx_bounces(tmp_path: Path, dns_port: int) -> None:
    handler = CollectingHandler()
    mx_port = mailserver.free_port()
    controller = Controller(handler, hostname=MX, port=mx_port)
    controller.start()
    try:
        org = init_org(
            tmp_path / "org", key_type="ecdsa-p256", pki_url="http://pki.example.org/pki"
        )
        org.ok("user", "add", "alice@example.org", "--password-stdin", stdin=PASSWORD + "\n")
        (org.data_dir / "postseal.toml").write_text(
            f'[relay]\ndirect = true\ndns_servers = ["127.0.0.1:{dns_port}"]\nmx_port = {mx_port}\n'
        )
        message = (
            b"From: alice@example.org\r\nTo: carol@remote.test, x@nomail.test\r\n"
            b"Subject: direct\r\nMessage-ID: <direct@example.org>\r\n\r\nhello\r\n"
        )
        with mailserver.running(org, {"submission": mailserver.free_port()}, tmp_path) as server:
            server.submit(
                "alice@example.org", PASSWORD, ["carol@remote.test", "x@nomail.test"], message
            )
            mailserver.wait_for(lambda: handler.received, what="the MX of remote.test")
            mailserver.wait_for(
                lambda: mailserver.inbox(org, "alice@example.org"), what="the DSN for nomail.test"
            )
    finally:
        controller.stop()
    (received,) = handler.received
    assert received.rcpt_tos == ["carol@remote.test"]
    assert received.data.endswith(b"hello\r\n")
    (dsn,) = mailserver.inbox(org, "alice@example.org")
    assert b"multipart/report" in dsn
    assert b"Status: 5.1.10" in dsn
    assert b"x@nomail.test" in dsn
