"""Local delivery from the queue: exactly once, byte-identical, sealed at rest; failures,
expiry and DSNs (RFC 3464) in the same transaction as the state change."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace

import pytest

from postseal.custody import MasterKey
from postseal.errors import ConflictError
from postseal.services.delivery import NO_RELAY
from postseal.store.ports import NewRecipient, RecipientStatus
from postseal.store.sql import SqlStore, open_store

from .conftest import LOCAL, REMOTE, SETTINGS, FakeClock, Queue, RunnerFactory, message_bytes
from .helpers import all_entries, dsn_fields, entry, inbox, raw_files, recipient

BOB, CAROL, ALICE = "bob@example.org", "carol@example.org", "alice@example.org"


async def test_local_delivery_is_byte_identical_and_nothing_readable_reaches_the_disk(
    url: str, store: SqlStore, queue: Queue, runner: RunnerFactory, master: MasterKey
) -> None:
    marker = f"MARKER-{uuid.uuid4().hex}"
    data = message_bytes(f"Merger {marker}", f"Strictly confidential: {marker}\r\n.\r\nend")
    await queue.users(BOB, CAROL)
    message_id = await queue.add(data, [BOB, CAROL])

    assert await runner().run_once() == 2

    assert await inbox(store, master, BOB) == [data]
    assert await inbox(store, master, CAROL) == [data]
    states = {r.address: r.status for r in (await entry(store, message_id)).recipients}
    assert states == {BOB: RecipientStatus.DELIVERED, CAROL: RecipientStatus.DELIVERED}
    files = await raw_files(url, store)
    assert any(BOB.encode() in blob for blob in files.values())  # the search sees data
    assert [name for name, blob in files.items() if marker.encode() in blob] == []


async def test_the_transform_hook_runs_before_sealing(
    store: SqlStore, queue: Queue, runner: RunnerFactory, master: MasterKey
) -> None:
    seen: list[str] = []

    async def transform(address: str, message: bytes) -> bytes:
        seen.append(address)
        return b"X-Transformed: yes\r\n" + message

    data = message_bytes("transform")
    await queue.users(BOB)
    await queue.add(data, [BOB])
    await runner(transform=transform).run_once()
    assert seen == [BOB]
    assert await inbox(store, master, BOB) == [b"X-Transformed: yes\r\n" + data]


async def test_two_runners_on_two_stores_deliver_each_recipient_exactly_once(
    url: str, store: SqlStore, queue: Queue, runner: RunnerFactory, master: MasterKey
) -> None:
    users = [f"user{i}@example.org" for i in range(4)]
    await queue.users(*users)
    sent = [await queue.add(message_bytes(f"burst {n}"), users) for n in range(12)]
    other = await open_store(url)
    try:
        first = runner(owner="runner-a", batch=7)
        second = runner(owner="runner-b", batch=7, store=other)
        for _ in range(10):
            handled = await asyncio.gather(first.run_once(), second.run_once())
            if not any(handled):
                break
    finally:
        await other.close()
    for user in users:
        got = await inbox(store, master, user)
        assert sorted(got) == sorted(message_bytes(f"burst {n}") for n in range(12))
    for message_id in sent:
        assert {r.status for r in (await entry(store, message_id)).recipients} == {
            RecipientStatus.DELIVERED
        }


async def test_a_crashed_runners_lease_expires_and_the_message_is_delivered_once(
    store: SqlStore, queue: Queue, runner: RunnerFactory, master: MasterKey, clock: FakeClock
) -> None:
    await queue.users(BOB)
    message_id = await queue.add(message_bytes("crash"), [BOB])
    async with store.begin() as tx:  # a runner that claims, then dies
        await tx.queue.claim_due(clock(), owner="crashed", lease_seconds=SETTINGS.lease_seconds)
    service = runner()
    assert await service.run_once() == 0  # leased to a live runner
    clock.advance(SETTINGS.lease_seconds + 1)
    assert await service.run_once() == 1
    assert await service.run_once() == 0
    assert await inbox(store, master, BOB) == [message_bytes("crash")]
    with pytest.raises(ConflictError):
        async with store.begin() as tx:  # the dead runner wakes up: too late
            await tx.queue.mark_delivered(message_id, BOB, owner="crashed", at=clock())
    assert (await recipient(store, message_id, BOB)).attempts == 2


async def test_a_runner_that_lost_its_lease_does_not_deliver_twice(
    store: SqlStore, queue: Queue, runner: RunnerFactory, master: MasterKey, clock: FakeClock
) -> None:
    await queue.users(BOB)
    await queue.add(message_bytes("slow"), [BOB])
    entered, release = asyncio.Event(), asyncio.Event()

    async def stall(address: str, message: bytes) -> bytes:
        entered.set()
        await release.wait()
        return message

    slow = asyncio.create_task(runner(owner="slow", transform=stall).run_once())
    await asyncio.wait_for(entered.wait(), 5)
    clock.advance(SETTINGS.lease_seconds + 1)
    assert await runner(owner="fast").run_once() == 1
    release.set()
    assert await asyncio.wait_for(slow, 5) == 1
    assert await inbox(store, master, BOB) == [message_bytes("slow")]


async def test_a_user_that_no_longer_exists_fails_and_the_local_sender_gets_a_dsn(
    store: SqlStore, queue: Queue, runner: RunnerFactory, master: MasterKey
) -> None:
    await queue.users(ALICE, BOB)
    data = message_bytes("to a leaver")
    message_id = await queue.add(data, [BOB], dsn_envid="ENV-42", dsn_ret="FULL")
    async with store.begin() as tx:
        user = await tx.users.get(BOB)
        assert user is not None
        await tx.users.remove(user.id)
    service = runner()
    await service.run_once()
    bob = await recipient(store, message_id, BOB)
    assert bob.status is RecipientStatus.FAILED
    assert bob.last_error is not None
    assert "no longer exists" in bob.last_error
    await service.run_once()  # delivers the DSN to alice
    (notice,) = await inbox(store, master, ALICE)
    report, blocks = dsn_fields(notice)
    assert report["To"].addresses[0].addr_spec == ALICE
    assert report["Auto-Submitted"] == "auto-replied"
    assert blocks[0]["Original-Envelope-Id"] == "ENV-42"
    assert blocks[1]["Final-Recipient"] == f"rfc822; {BOB}"
    assert (blocks[1]["Action"], blocks[1]["Status"]) == ("failed", "5.1.1")
    returned = list(report.iter_parts())[2]
    assert returned.get_content_type() == "message/rfc822"
    assert data in notice


async def test_without_a_relay_remote_recipients_wait_then_expire_with_a_dsn(
    store: SqlStore, queue: Queue, runner: RunnerFactory, master: MasterKey, clock: FakeClock
) -> None:
    await queue.users(ALICE)
    message_id = await queue.add(message_bytes("outward"), ["dan@partner.test"])
    service = runner()
    await service.run_once()
    dan = await recipient(store, message_id, "dan@partner.test")
    assert (dan.status, dan.last_error) == (RecipientStatus.PENDING, NO_RELAY)
    assert dan.next_attempt_at is not None
    assert 54 <= (dan.next_attempt_at - clock()).total_seconds() <= 66
    clock.advance(SETTINGS.expire_hours * 3600)
    await service.run_once()
    assert (await recipient(store, message_id, "dan@partner.test")).status is (
        RecipientStatus.EXPIRED
    )
    await service.run_once()
    (notice,) = await inbox(store, master, ALICE)
    _report, blocks = dsn_fields(notice)
    assert (blocks[1]["Action"], blocks[1]["Status"]) == ("failed", "4.4.7")
    assert "relay.smart_host" in blocks[1]["Diagnostic-Code"].replace("\r\n", "")
    assert "text/rfc822-headers" in notice.decode()  # no RET: headers only


@pytest.mark.parametrize("kind", ["null sender", "notify never"])
async def test_no_dsn_for_a_null_sender_or_notify_never(
    store: SqlStore, queue: Queue, runner: RunnerFactory, clock: FakeClock, kind: str
) -> None:
    await queue.users(ALICE)
    rcpt = NewRecipient(
        "dan@partner.test", REMOTE, notify="NEVER" if kind == "notify never" else None
    )
    sender = "" if kind == "null sender" else ALICE
    message_id = await queue.add(message_bytes("no bounce"), [rcpt], mail_from=sender)
    clock.advance(SETTINGS.expire_hours * 3600)
    await runner().run_once()
    assert (await recipient(store, message_id, "dan@partner.test")).status is (
        RecipientStatus.EXPIRED
    )
    assert [e.message.id for e in await all_entries(store)] == [message_id]


async def test_one_broken_message_does_not_stop_the_runner(
    store: SqlStore, queue: Queue, runner: RunnerFactory, master: MasterKey, clock: FakeClock
) -> None:
    await queue.users(BOB)
    broken = await queue.add(message_bytes("broken"), [BOB])
    good = await queue.add(message_bytes("good"), [BOB])
    async with store.begin() as tx:  # a body copied from another message does not open
        body = await tx.queue.body(good)
        assert body is not None
        await tx.queue.delete(broken)
        message = (await tx.queue.get(good)).message  # type: ignore[union-attr]
        await tx.queue.enqueue(replace(message, id=broken), body, [NewRecipient(BOB, LOCAL)])
    await runner().run_once()
    assert await inbox(store, master, BOB) == [message_bytes("good")]
    failed = await recipient(store, broken, BOB)
    assert failed.status is RecipientStatus.PENDING
    assert failed.last_error is not None
    assert "does not open" in failed.last_error


async def test_run_wakes_up_for_new_mail_and_stops(
    store: SqlStore, queue: Queue, runner: RunnerFactory, master: MasterKey
) -> None:
    await queue.users(BOB)
    service = runner(settings=replace(SETTINGS, poll_seconds=30))
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    await asyncio.sleep(0.1)  # idle: the next poll is 30 s away
    await queue.add(message_bytes("wake"), [BOB])
    service.wake()
    for _ in range(100):
        if await inbox(store, master, BOB):
            break
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert await inbox(store, master, BOB) == [message_bytes("wake")]
