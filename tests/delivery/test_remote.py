"""Remote delivery through a real SMTP server on 127.0.0.1 (aiosmtpd with STARTTLS from a
test CA; Postfix's smtp-sink in plain text): outcomes per recipient, back-off, DSNs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from postseal.adapters.smtp_relay import SmtpRelay
from postseal.custody import MasterKey
from postseal.store.ports import NewRecipient, RecipientStatus
from postseal.store.sql import SqlStore

from .conftest import HOST, REMOTE, SETTINGS, FakeClock, Queue, RunnerFactory, message_bytes
from .helpers import all_entries, dsn_fields, entry, inbox, recipient
from .sinks import CollectingHandler, SinkPki, make_pki, smtp_sink, start_sink

ALICE, BOB = "alice@example.org", "bob@example.org"
CAROL, DAN = "carol@partner.test", "dan@partner.test"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> SinkPki:
    return make_pki(tmp_path_factory.mktemp("delivery-pki"))


@pytest.fixture
def handler() -> CollectingHandler:
    return CollectingHandler()


@pytest.fixture
async def relay(handler: CollectingHandler, pki: SinkPki) -> AsyncIterator[SmtpRelay]:
    async with start_sink(handler, tls=pki.server) as port:
        yield SmtpRelay("127.0.0.1", port, ca_file=str(pki.ca_path), helo_name=HOST, timeout=5)


async def test_local_and_remote_recipients_of_one_message_are_delivered(
    store: SqlStore,
    queue: Queue,
    runner: RunnerFactory,
    master: MasterKey,
    relay: SmtpRelay,
    handler: CollectingHandler,
) -> None:
    await queue.users(BOB)
    data = message_bytes("mixed", "line one\r\n.\r\nafter a lone dot")
    message_id = await queue.add(data, [BOB, CAROL, DAN])
    assert await runner(relay=relay).run_once() == 3
    assert await inbox(store, master, BOB) == [data]
    (sent,) = handler.received  # one SMTP transaction for both remote recipients
    assert (sent.rcpt_tos, sent.data, sent.tls) == ([CAROL, DAN], data, True)
    assert {r.status for r in (await entry(store, message_id)).recipients} == {
        RecipientStatus.DELIVERED
    }


async def test_a_server_without_starttls_gets_nothing_and_the_recipient_waits(
    store: SqlStore, queue: Queue, runner: RunnerFactory
) -> None:
    plain = CollectingHandler()
    message_id = await queue.add(message_bytes("secret"), [CAROL])
    async with start_sink(plain) as port:
        relay = SmtpRelay("127.0.0.1", port, helo_name=HOST, timeout=5)
        await runner(relay=relay).run_once()
    assert plain.received == []
    carol = await recipient(store, message_id, CAROL)
    assert carol.status is RecipientStatus.PENDING
    assert carol.last_error is not None
    assert "does not offer STARTTLS" in carol.last_error


async def test_a_550_fails_the_recipient_and_the_local_sender_gets_a_report(
    store: SqlStore,
    queue: Queue,
    runner: RunnerFactory,
    master: MasterKey,
    relay: SmtpRelay,
    handler: CollectingHandler,
) -> None:
    handler.rcpt_replies[CAROL] = "550 5.1.1 <carol@partner.test>: Recipient address rejected"
    await queue.users(ALICE)
    orcpt = NewRecipient(CAROL, REMOTE, orcpt="rfc822;Carol@Partner.test")
    message_id = await queue.add(message_bytes("to carol"), [orcpt, DAN])
    service = runner(relay=relay)
    await service.run_once()
    carol = await recipient(store, message_id, CAROL)
    assert carol.status is RecipientStatus.FAILED
    assert (await recipient(store, message_id, DAN)).status is RecipientStatus.DELIVERED
    await service.run_once()  # the DSN goes to alice's INBOX
    (notice,) = await inbox(store, master, ALICE)
    report, blocks = dsn_fields(notice)
    assert report.get_content_type() == "multipart/report"
    assert blocks[0]["Reporting-MTA"] == f"dns; {HOST}"
    assert len(blocks) == 2  # only carol is reported
    assert blocks[1]["Final-Recipient"] == f"rfc822; {CAROL}"
    assert blocks[1]["Original-Recipient"] == "rfc822; Carol@Partner.test"
    assert (blocks[1]["Action"], blocks[1]["Status"]) == ("failed", "5.1.1")
    assert blocks[1]["Diagnostic-Code"].startswith("smtp; 550 5.1.1")


async def test_a_550_for_a_null_sender_makes_no_dsn(
    store: SqlStore,
    queue: Queue,
    runner: RunnerFactory,
    relay: SmtpRelay,
    handler: CollectingHandler,
) -> None:
    handler.rcpt_replies[CAROL] = "550 5.1.1 no such user"
    message_id = await queue.add(message_bytes("a bounce"), [CAROL], mail_from="")
    await runner(relay=relay).run_once()
    assert (await recipient(store, message_id, CAROL)).status is RecipientStatus.FAILED
    assert [e.message.id for e in await all_entries(store)] == [message_id]


async def test_a_451_defers_with_growing_backoff(
    store: SqlStore,
    queue: Queue,
    runner: RunnerFactory,
    clock: FakeClock,
    relay: SmtpRelay,
    handler: CollectingHandler,
) -> None:
    handler.rcpt_replies[CAROL] = "451 4.7.1 greylisted, try again later"
    message_id = await queue.add(message_bytes("greylisted"), [CAROL])
    service = runner(relay=relay)
    waits = []
    for _ in range(4):
        assert await service.run_once() == 1
        carol = await recipient(store, message_id, CAROL)
        assert carol.status is RecipientStatus.PENDING
        assert carol.last_error == "451 4.7.1 greylisted, try again later"
        assert carol.next_attempt_at is not None
        waits.append((carol.next_attempt_at - clock()).total_seconds())
        assert await service.run_once() == 0  # not due yet
        clock.now = carol.next_attempt_at
    for attempt, wait in enumerate(waits):
        expected = SETTINGS.retry_initial_seconds * 2**attempt
        assert expected * 0.9 <= wait <= expected * 1.1
    handler.rcpt_replies.clear()
    await service.run_once()
    assert (await recipient(store, message_id, CAROL)).status is RecipientStatus.DELIVERED


async def test_backoff_is_capped(runner: RunnerFactory) -> None:
    service = runner()
    assert service.backoff(30).total_seconds() <= SETTINGS.retry_max_seconds * 1.1
    assert service.backoff(30).total_seconds() >= SETTINGS.retry_max_seconds * 0.9


@pytest.mark.interop
async def test_postfix_smtp_sink_as_the_smart_host(
    store: SqlStore, queue: Queue, runner: RunnerFactory
) -> None:
    data = message_bytes("to postfix", "through smtp-sink")
    with smtp_sink() as sink:
        relay = SmtpRelay("127.0.0.1", sink.port, require_tls=False, helo_name=HOST, timeout=5)
        message_id = await queue.add(data, [CAROL])
        await runner(relay=relay).run_once()
        assert (await recipient(store, message_id, CAROL)).status is RecipientStatus.DELIVERED
        for _ in range(100):  # smtp-sink writes the dump after its reply
            if dumps := sink.dumps():
                break
            await asyncio.sleep(0.05)
    assert any(b"through smtp-sink" in dump for dump in dumps)
