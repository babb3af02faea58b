"""Direct delivery to MX hosts against a real DNS server and real SMTP servers on
loopback addresses (127.0.0.2, 127.0.0.3 share one port, as MX hosts share port 25):
preference order, the next MX only when a host is unreachable, implicit MX, null MX
(RFC 7505), NXDOMAIN, SERVFAIL and silence (RFC 5321 §5.1)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from aiosmtpd.smtp import SMTP

from postseal.adapters.mx_lookup import LookupFailed, MxLookup, NoMailDomain
from postseal.adapters.mx_relay import MxRelay
from postseal.services.ports import RelayOutcome
from tests.delivery.sinks import CollectingHandler
from tests.dns_server import Zone, serve_dns

DELIVERED, DEFERRED, FAILED = RelayOutcome.DELIVERED, RelayOutcome.DEFERRED, RelayOutcome.FAILED
MESSAGE = b"From: alice@example.org\r\nTo: carol@remote.test\r\nSubject: mx\r\n\r\nhello\r\n"
MX1, MX2 = "127.0.0.2", "127.0.0.3"


@contextlib.asynccontextmanager
async def mx_hosts(*handlers: tuple[str, CollectingHandler]) -> AsyncIterator[int]:
    """SMTP servers on the given loopback addresses, all on one port (yielded)."""
    loop = asyncio.get_running_loop()
    servers = []
    port = 0
    try:
        for address, handler in handlers:
            server = await loop.create_server(
                lambda h=handler, a=address: SMTP(h, hostname=f"mx.{a}"),  # type: ignore[misc]
                address,
                port,
            )
            port = server.sockets[0].getsockname()[1]
            servers.append(server)
        if not servers:  # a port nobody listens on
            probe = await loop.create_server(asyncio.Protocol, MX1, 0)
            port = probe.sockets[0].getsockname()[1]
            probe.close()
            await probe.wait_closed()
        yield port
    finally:
        for server in servers:
            server.close()
            await server.wait_closed()


def _zone(**extra: list[str]) -> Zone:
    records: dict[tuple[str, str], list[str]] = {
        ("remote.test", "MX"): ["20 mx2.remote.test.", "10 mx1.remote.test."],
        ("mx1.remote.test", "A"): [MX1],
        ("mx2.remote.test", "A"): [MX2],
        ("implicit.test", "A"): [MX2],
        ("nomail.test", "MX"): ["0 ."],
        ("nomail.test", "A"): [MX2],
        ("other.test", "MX"): ["10 mx2.remote.test."],
        ("noaddress.test", "TXT"): ['"v=spf1 -all"'],
    }
    for key, value in extra.items():
        name, kind = key.rsplit("_", 1)
        records[(name.replace("_", "."), kind.upper())] = value
    return Zone(records, servfail=frozenset({"broken.test"}), silent=frozenset({"slow.test"}))


async def _send(
    dns_port: int, mx_port: int, rcpts: list[str]
) -> dict[str, tuple[RelayOutcome, str]]:
    lookup = MxLookup([f"127.0.0.1:{dns_port}"], timeout=1.0)
    relay = MxRelay(lookup, helo_name="mx.example.org", port=mx_port, timeout=5.0)
    return dict(await relay.send(mail_from="alice@example.org", rcpt_tos=rcpts, data=MESSAGE))


async def test_the_lower_preference_first_then_the_next_when_unreachable() -> None:
    zone = _zone()
    handler = CollectingHandler()
    async with serve_dns(zone) as dns_port, mx_hosts((MX2, handler)) as mx_port:
        # mx1 (preference 10) listens nowhere: refused, so mx2 (20) takes the message
        outcomes = await _send(dns_port, mx_port, ["carol@remote.test"])
    assert outcomes["carol@remote.test"][0] is DELIVERED
    assert [r.rcpt_tos for r in handler.received] == [["carol@remote.test"]]
    assert handler.received[0].data == MESSAGE
    looked_up = [name for name, kind in zone.queries if kind in ("A", "AAAA")]
    assert looked_up.index("mx1.remote.test") < looked_up.index("mx2.remote.test")


async def test_a_reply_is_final_and_the_next_mx_is_not_tried() -> None:
    first = CollectingHandler(rcpt_replies={"carol@remote.test": "550 5.1.1 no such user"})
    second = CollectingHandler()
    async with (
        serve_dns(_zone()) as dns_port,
        mx_hosts((MX1, first), (MX2, second)) as mx_port,
    ):
        outcomes = await _send(dns_port, mx_port, ["carol@remote.test", "dave@remote.test"])
    assert outcomes["carol@remote.test"] == (FAILED, "550 5.1.1 no such user")
    assert outcomes["dave@remote.test"][0] is DELIVERED
    assert second.received == []


async def test_implicit_mx_and_recipients_grouped_by_domain() -> None:
    handler = CollectingHandler()
    async with serve_dns(_zone()) as dns_port, mx_hosts((MX2, handler)) as mx_port:
        outcomes = await _send(
            dns_port, mx_port, ["a@implicit.test", "b@other.test", "c@other.test"]
        )
    assert {o for o, _ in outcomes.values()} == {DELIVERED}
    assert sorted(sorted(r.rcpt_tos) for r in handler.received) == [
        ["a@implicit.test"],
        ["b@other.test", "c@other.test"],
    ]


@pytest.mark.parametrize(
    ("rcpt", "outcome", "text"),
    [
        ("x@nomail.test", FAILED, "556 5.1.10"),  # RFC 7505 §4.2
        ("x@nowhere.test", FAILED, "550 5.1.2"),  # NXDOMAIN
        ("x@noaddress.test", FAILED, "550 5.1.2"),  # neither MX nor address
        ("x@broken.test", DEFERRED, "4.4.3"),  # SERVFAIL
        ("x@slow.test", DEFERRED, "4.4.3"),  # no answer in time
    ],
)
async def test_domains_that_take_no_mail_fail_and_dns_trouble_defers(
    rcpt: str, outcome: RelayOutcome, text: str
) -> None:
    async with serve_dns(_zone()) as dns_port, mx_hosts() as mx_port:
        outcomes = await _send(dns_port, mx_port, [rcpt])
    assert outcomes[rcpt][0] is outcome
    assert outcomes[rcpt][1].startswith(text), outcomes[rcpt][1]


async def test_no_reachable_host_defers_naming_the_last_one() -> None:
    async with serve_dns(_zone()) as dns_port, mx_hosts() as mx_port:
        outcomes = await _send(dns_port, mx_port, ["carol@remote.test"])
    outcome, text = outcomes["carol@remote.test"]
    assert outcome is DEFERRED
    assert text.startswith("4.4.1 no MX host of remote.test could be reached")
    assert "mx2.remote.test" in text


async def test_lookup_orders_by_preference_and_shuffles_ties() -> None:
    zone = _zone(tie_test_MX=["10 b.tie.test.", "10 a.tie.test.", "5 first.tie.test."])
    seen = set()
    async with serve_dns(zone) as dns_port:
        lookup = MxLookup([f"127.0.0.1:{dns_port}"], timeout=1.0)
        for _ in range(20):
            hosts = await lookup.hosts("tie.test")
            assert hosts[0].host == "first.tie.test"
            seen.add(tuple(h.host for h in hosts[1:]))
        with pytest.raises(NoMailDomain, match="null MX"):
            await lookup.hosts("nomail.test")
        with pytest.raises(LookupFailed, match="SERVFAIL"):
            await lookup.hosts("broken.test")
    assert seen == {("a.tie.test", "b.tie.test"), ("b.tie.test", "a.tie.test")}
