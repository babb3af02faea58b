"""The smart-host relay against real SMTP servers on 127.0.0.1 (aiosmtpd, Postfix's
smtp-sink): STARTTLS required and verified, replies mapped per recipient (RFC 5321
§4.2.1), nothing ever sent in clear when TLS is required."""

from __future__ import annotations

import asyncio
import ssl
import time

import pytest
from aiosmtpd.smtp import Session

from postseal.adapters.smtp_relay import SmtpRelay
from postseal.services.ports import RelayOutcome
from tests.delivery.sinks import (
    CollectingHandler,
    SinkPki,
    make_pki,
    smtp_sink,
    start_silent,
    start_sink,
)

DELIVERED, DEFERRED, FAILED = RelayOutcome.DELIVERED, RelayOutcome.DEFERRED, RelayOutcome.FAILED
MESSAGE = (
    b"From: alice@example.org\r\nTo: carol@partner.test\r\nSubject: dots\r\n\r\n"
    b"a line with a dot follows\r\n.\r\n..two dots\r\n.leading dot\r\nend\r\n"
)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> SinkPki:
    return make_pki(tmp_path_factory.mktemp("relay-pki"))


def _relay(port: int, pki: SinkPki | None, **options: object) -> SmtpRelay:
    ca: str | ssl.SSLContext | None = str(pki.ca_path) if pki else None
    values: dict[str, object] = {"ca_file": ca, "helo_name": "mx.example.org", "timeout": 5.0}
    values.update(options)
    return SmtpRelay("127.0.0.1", port, **values)  # type: ignore[arg-type]


async def test_delivers_over_verified_starttls_and_keeps_lone_dots(pki: SinkPki) -> None:
    handler = CollectingHandler()
    async with start_sink(handler, tls=pki.server) as port:
        outcomes = await _relay(port, pki).send(
            mail_from="alice@example.org", rcpt_tos=["carol@partner.test"], data=MESSAGE
        )
    assert outcomes["carol@partner.test"][0] is DELIVERED
    assert outcomes["carol@partner.test"][1].startswith("250 ")
    (received,) = handler.received
    assert received.tls
    assert received.data == MESSAGE  # dot-stuffed on the wire, unstuffed by the server
    assert (received.mail_from, received.rcpt_tos) == ("alice@example.org", ["carol@partner.test"])


async def test_a_ready_ssl_context_is_accepted(pki: SinkPki) -> None:
    handler = CollectingHandler()
    async with start_sink(handler, tls=pki.server) as port:
        outcomes = await _relay(port, None, ca_file=pki.client_context()).send(
            mail_from="", rcpt_tos=["carol@partner.test"], data=MESSAGE
        )
    assert outcomes["carol@partner.test"][0] is DELIVERED
    assert handler.received[0].mail_from == "<>"


async def test_no_starttls_with_tls_required_sends_nothing() -> None:
    handler = CollectingHandler()
    async with start_sink(handler) as port:
        outcomes = await _relay(port, None).send(
            mail_from="alice@example.org", rcpt_tos=["a@p.test", "b@p.test"], data=MESSAGE
        )
    assert handler.received == []
    for outcome, reason in outcomes.values():
        assert outcome is DEFERRED
        assert "does not offer STARTTLS" in reason
        assert "relay.require_tls" in reason


async def test_without_required_tls_a_plain_server_gets_the_message() -> None:
    handler = CollectingHandler()
    async with start_sink(handler) as port:
        outcomes = await _relay(port, None, require_tls=False).send(
            mail_from="alice@example.org", rcpt_tos=["a@p.test"], data=MESSAGE
        )
    assert outcomes["a@p.test"][0] is DELIVERED
    assert not handler.received[0].tls


async def test_without_required_tls_starttls_is_still_used_unverified(pki: SinkPki) -> None:
    handler = CollectingHandler()
    async with start_sink(handler, tls=pki.server) as port:
        outcomes = await _relay(port, None, require_tls=False).send(
            mail_from="alice@example.org", rcpt_tos=["a@p.test"], data=MESSAGE
        )
    assert outcomes["a@p.test"][0] is DELIVERED
    assert handler.received[0].tls


async def test_utf8_addresses_need_smtputf8(pki: SinkPki) -> None:
    utf8, ascii_only = CollectingHandler(), CollectingHandler()
    async with start_sink(utf8, tls=pki.server, smtputf8=True) as port:
        outcomes = await _relay(port, pki).send(
            mail_from="alice@example.org", rcpt_tos=["jörg@p.test"], data=MESSAGE
        )
    assert outcomes["jörg@p.test"][0] is DELIVERED
    assert utf8.received[0].rcpt_tos == ["jörg@p.test"]
    async with start_sink(ascii_only, tls=pki.server) as port:
        outcomes = await _relay(port, pki).send(
            mail_from="alice@example.org", rcpt_tos=["jörg@p.test"], data=MESSAGE
        )
    assert outcomes["jörg@p.test"] == (
        FAILED,
        "553 5.6.7 the smart host does not support SMTPUTF8 (RFC 6531 §3.2)",
    )
    assert ascii_only.received == []


async def test_a_certificate_that_does_not_verify_sends_nothing(pki: SinkPki) -> None:
    handler = CollectingHandler()
    async with start_sink(handler, tls=pki.server) as port:
        outcomes = await _relay(port, None).send(  # the system store does not know the CA
            mail_from="alice@example.org", rcpt_tos=["a@p.test"], data=MESSAGE
        )
    assert handler.received == []
    outcome, reason = outcomes["a@p.test"]
    assert outcome is DEFERRED
    assert "does not verify" in reason
    assert "relay.ca_file" in reason


async def test_rcpt_replies_settle_each_recipient(pki: SinkPki) -> None:
    handler = CollectingHandler(
        rcpt_replies={
            "gone@p.test": "550 5.1.1 <gone@p.test>: user unknown",
            "busy@p.test": "451 4.3.0 try again later",
        }
    )
    async with start_sink(handler, tls=pki.server) as port:
        outcomes = await _relay(port, pki).send(
            mail_from="alice@example.org",
            rcpt_tos=["gone@p.test", "ok@p.test", "busy@p.test"],
            data=MESSAGE,
        )
    assert outcomes["gone@p.test"] == (FAILED, "550 5.1.1 <gone@p.test>: user unknown")
    assert outcomes["busy@p.test"] == (DEFERRED, "451 4.3.0 try again later")
    assert outcomes["ok@p.test"][0] is DELIVERED
    assert handler.received[0].rcpt_tos == ["ok@p.test"]


async def test_every_recipient_refused_sends_no_data(pki: SinkPki) -> None:
    handler = CollectingHandler(rcpt_replies={"gone@p.test": "550 5.1.1 no"})
    async with start_sink(handler, tls=pki.server) as port:
        outcomes = await _relay(port, pki).send(
            mail_from="alice@example.org", rcpt_tos=["gone@p.test"], data=MESSAGE
        )
    assert outcomes == {"gone@p.test": (FAILED, "550 5.1.1 no")}
    assert handler.received == []


@pytest.mark.parametrize(
    ("reply", "expected"),
    [("554 5.6.0 content rejected", FAILED), ("452 4.3.1 out of space", DEFERRED)],
)
async def test_the_data_reply_settles_every_accepted_recipient(
    pki: SinkPki, reply: str, expected: RelayOutcome
) -> None:
    handler = CollectingHandler(rcpt_replies={"gone@p.test": "550 5.1.1 no"}, data_reply=reply)
    async with start_sink(handler, tls=pki.server) as port:
        outcomes = await _relay(port, pki).send(
            mail_from="alice@example.org",
            rcpt_tos=["a@p.test", "gone@p.test", "b@p.test"],
            data=MESSAGE,
        )
    assert outcomes["a@p.test"] == (expected, reply)
    assert outcomes["b@p.test"] == (expected, reply)
    assert outcomes["gone@p.test"][0] is FAILED


async def test_a_refused_connection_defers() -> None:
    async with start_silent() as port:
        pass  # the port is closed again: nobody listens
    outcomes = await _relay(port, None).send(
        mail_from="alice@example.org", rcpt_tos=["a@p.test"], data=MESSAGE
    )
    outcome, reason = outcomes["a@p.test"]
    assert outcome is DEFERRED
    assert f"127.0.0.1:{port}" in reason


async def test_a_silent_server_times_out_and_defers() -> None:
    async with start_silent() as port:
        started = time.monotonic()
        outcomes = await _relay(port, None, timeout=0.5).send(
            mail_from="alice@example.org", rcpt_tos=["a@p.test"], data=MESSAGE
        )
    assert time.monotonic() - started < 5
    outcome, reason = outcomes["a@p.test"]
    assert outcome is DEFERRED
    assert "timed out" in reason


@pytest.mark.interop
def test_postfix_smtp_sink_receives_the_message() -> None:
    import asyncio

    with smtp_sink() as sink:
        relay = _relay(sink.port, None, require_tls=False)
        outcomes = asyncio.run(
            relay.send(mail_from="alice@example.org", rcpt_tos=["c@p.test"], data=MESSAGE)
        )
        assert outcomes["c@p.test"][0] is DELIVERED
        deadline = time.monotonic() + 5
        while not sink.dumps() and time.monotonic() < deadline:
            time.sleep(0.05)
        (dump,) = sink.dumps()
    assert b"a line with a dot follows\r\n.\r\n..two dots" in dump.replace(b"\n", b"\r\n").replace(
        b"\r\r\n", b"\r\n"
    )


class ConnectionCounter(CollectingHandler):
    """Also remembers each connection (aiosmtpd's protocol object) that said EHLO."""

    def __init__(self) -> None:
        super().__init__()
        self.connections: list[object] = []

    async def handle_EHLO(
        self,
        server: object,
        session: Session,
        envelope: object,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname  # aiosmtpd leaves this to a handler that has the hook
        if server not in self.connections:
            self.connections.append(server)
        return responses


async def test_reuse_keeps_a_connection_for_the_next_send_and_closes_it_on_request(
    pki: SinkPki,
) -> None:
    handler = ConnectionCounter()
    async with start_sink(handler, tls=pki.server) as port:
        relay = _relay(port, pki, reuse=1)
        for n in range(3):
            outcomes = await relay.send(
                mail_from="alice@example.org", rcpt_tos=[f"r{n}@p.test"], data=MESSAGE
            )
            assert outcomes[f"r{n}@p.test"][0] is DELIVERED
        assert len(handler.connections) == 1  # one TLS handshake for three messages
        await relay.close_idle()
        await relay.send(mail_from="alice@example.org", rcpt_tos=["r3@p.test"], data=MESSAGE)
        await relay.close_idle()
    assert len(handler.connections) == 2
    assert [r.rcpt_tos for r in handler.received] == [[f"r{n}@p.test"] for n in range(4)]
    assert all(r.tls and r.data == MESSAGE for r in handler.received)


async def test_a_kept_connection_the_server_dropped_is_replaced_without_loss(
    pki: SinkPki,
) -> None:
    handler = ConnectionCounter()
    async with start_sink(handler, tls=pki.server) as port:
        relay = _relay(port, pki, reuse=1)
        await relay.send(mail_from="alice@example.org", rcpt_tos=["a@p.test"], data=MESSAGE)
        (kept,) = handler.connections
        kept.transport.close()  # type: ignore[attr-defined]  # the server times it out
        await asyncio.sleep(0.05)
        outcomes = await relay.send(
            mail_from="alice@example.org", rcpt_tos=["b@p.test"], data=MESSAGE
        )
        await relay.close_idle()
    assert outcomes["b@p.test"][0] is DELIVERED  # RSET failed, so a new connection sent it
    assert len(handler.connections) == 2
    assert [r.rcpt_tos for r in handler.received] == [["a@p.test"], ["b@p.test"]]


async def test_without_reuse_every_send_has_its_own_connection(pki: SinkPki) -> None:
    handler = ConnectionCounter()
    async with start_sink(handler, tls=pki.server) as port:
        relay = _relay(port, pki)
        for n in range(2):
            await relay.send(mail_from="alice@example.org", rcpt_tos=[f"r{n}@p.test"], data=MESSAGE)
    assert len(handler.connections) == 2
