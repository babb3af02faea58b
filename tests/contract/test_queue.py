"""The mail queue: enqueue, leases, state transitions, exclusive claims, housekeeping."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from postseal.errors import ConflictError, NotFoundError
from postseal.store.ports import (
    NewRecipient,
    QueuedMessage,
    QueuedRecipient,
    RecipientKind,
    RecipientStatus,
    SealedBody,
)
from postseal.store.sql import SqlStore, open_store

T0 = datetime(
    2026, 1, 15, 9, 30, 0, 123456, tzinfo=UTC
)  # as in conftest: the queued messages' receipt


MessageFactory = Callable[..., QueuedMessage]
LOCAL = RecipientKind.LOCAL
REMOTE = RecipientKind.REMOTE
BOB = NewRecipient("bob@example.org", LOCAL)
CAROL = NewRecipient("carol@partner.test", REMOTE, notify="FAILURE,DELAY", orcpt="rfc822;c@p.test")
LEASE = 60.0


def _body(tag: str) -> SealedBody:
    return SealedBody(wrapped_key=b"K" * 64 + tag.encode(), ciphertext=b"\x00\xff" + tag.encode())


def _ids(n: int) -> list[str]:
    return [f"01JQUEUE{i:018d}" for i in range(n)]


async def _enqueue(
    store: SqlStore, message: QueuedMessage, *recipients: NewRecipient, tag: str = "m"
) -> None:
    async with store.begin() as tx:
        await tx.queue.enqueue(message, _body(tag), list(recipients or (BOB,)))


async def _recipient(store: SqlStore, message_id: str, address: str) -> QueuedRecipient:
    async with store.begin() as tx:
        entry = await tx.queue.get(message_id)
    assert entry is not None
    return next(r for r in entry.recipients if r.address == address)


async def test_an_enqueued_message_reads_back_pending_and_due(
    store: SqlStore, queued_message: MessageFactory
) -> None:
    message = queued_message(dsn_ret="HDRS", dsn_envid="QQ314159")
    await _enqueue(store, message, CAROL, BOB)
    async with store.begin() as tx:
        entry = await tx.queue.get(message.id)
        assert await tx.queue.body(message.id) == _body("m")
        assert await tx.queue.list() == [entry]
        assert await tx.queue.get("01JNOSUCH") is None
        assert await tx.queue.body("01JNOSUCH") is None
    assert entry is not None
    assert entry.message == message
    assert [r.address for r in entry.recipients] == ["bob@example.org", "carol@partner.test"]
    carol = entry.recipients[1]
    assert carol == QueuedRecipient(
        message_id=message.id,
        address="carol@partner.test",
        kind=REMOTE,
        status=RecipientStatus.PENDING,
        attempts=0,
        next_attempt_at=T0,
        last_error=None,
        finished_at=None,
        notify="FAILURE,DELAY",
        orcpt="rfc822;c@p.test",
        lease_owner=None,
        lease_until=None,
    )


async def test_enqueue_many_stores_each_entry_or_says_why_not(
    store: SqlStore, queued_message: MessageFactory
) -> None:
    """One call for a burst (the intake's group commit): every entry is stored or
    refused on its own, exactly as :meth:`enqueue` would have, and a refusal changes
    nothing of the others."""
    await _enqueue(store, queued_message("01JTAKEN"))
    async with store.begin() as tx:
        refused = await tx.queue.enqueue_many(
            [
                (queued_message("01JM1"), _body("1"), [BOB, CAROL]),
                (queued_message("01JTAKEN"), _body("again"), [BOB]),
                (queued_message("01JM2"), _body("2"), []),
                (queued_message("01JM3"), _body("3"), [BOB, BOB]),
                (queued_message("01JM4", received_at=datetime(2026, 1, 1)), _body("4"), [BOB]),
                (queued_message("01JM5"), _body("5"), [CAROL]),
                (queued_message("01JM5"), _body("5b"), [BOB]),
            ]
        )
    assert refused[0] is None and refused[5] is None
    assert isinstance(refused[1], ConflictError) and "01JTAKEN already exists" in str(refused[1])
    assert isinstance(refused[2], ValueError) and "has no recipient" in str(refused[2])
    assert isinstance(refused[3], ValueError) and "twice" in str(refused[3])
    assert isinstance(refused[4], ValueError) and "naive datetime" in str(refused[4])
    assert isinstance(refused[6], ConflictError)  # the same id twice in one call
    async with store.begin() as tx:
        stored = {e.message.id: e for e in await tx.queue.list()}
        body = await tx.queue.body("01JM5")
    assert sorted(stored) == ["01JM1", "01JM5", "01JTAKEN"]
    assert [r.address for r in stored["01JM1"].recipients] == [BOB.address, CAROL.address]
    assert [r.address for r in stored["01JM5"].recipients] == [CAROL.address]
    assert body == _body("5")
    async with store.begin() as tx:  # every stored recipient is pending and due
        claimed = await tx.queue.claim_due(T0, owner="c", lease_seconds=LEASE)
    assert sum(len(c.recipients) for c in claimed) == 4


async def test_bad_enqueues_are_refused_and_change_nothing(
    store: SqlStore, queued_message: MessageFactory
) -> None:
    await _enqueue(store, queued_message())
    async with store.begin() as tx:
        with pytest.raises(ConflictError, match=r"queued message with id 01JQUEUE0+AA already"):
            await tx.queue.enqueue(queued_message(), _body("again"), [CAROL])
        with pytest.raises(ValueError, match="has no recipient"):
            await tx.queue.enqueue(queued_message("01JB"), _body("b"), [])
        with pytest.raises(ValueError, match=r"lists bob@example\.org twice"):
            await tx.queue.enqueue(queued_message("01JC"), _body("c"), [BOB, CAROL, BOB])
        with pytest.raises(ValueError, match="naive datetime"):
            await tx.queue.enqueue(
                queued_message("01JD", received_at=datetime(2026, 1, 1)), _body("d"), [BOB]
            )
        await tx.queue.enqueue(queued_message("01JE"), _body("e"), [BOB])
    async with store.begin() as tx:
        assert [e.message.id for e in await tx.queue.list()] == [
            "01JE",
            "01JQUEUE0000000000000000AA",
        ]
        first = await tx.queue.get("01JQUEUE0000000000000000AA")
        assert first is not None
        assert [r.address for r in first.recipients] == ["bob@example.org"]


async def test_claim_leases_due_recipients_once_with_their_message(
    store: SqlStore, queued_message: MessageFactory
) -> None:
    early, late = (
        queued_message("01JA"),
        queued_message("01JB", received_at=T0 + timedelta(hours=1)),
    )
    await _enqueue(store, early, BOB, CAROL, tag="early")
    await _enqueue(store, late, BOB, tag="late")
    async with store.begin() as tx:
        claimed = await tx.queue.claim_due(T0, owner="runner-a", lease_seconds=7200)
    assert [c.message for c in claimed] == [early]
    assert claimed[0].body == _body("early")
    assert [(r.address, r.attempts, r.lease_owner) for r in claimed[0].recipients] == [
        ("bob@example.org", 1, "runner-a"),
        ("carol@partner.test", 1, "runner-a"),
    ]
    assert claimed[0].recipients[0].lease_until == T0 + timedelta(hours=2)
    async with store.begin() as tx:
        assert await tx.queue.claim_due(T0, owner="runner-b", lease_seconds=LEASE) == []
        later = await tx.queue.claim_due(
            T0 + timedelta(hours=1), owner="runner-b", lease_seconds=LEASE, limit=5
        )
    assert [(c.message.id, len(c.recipients)) for c in later] == [("01JB", 1)]


async def test_claim_honours_the_limit_and_refuses_nonsense(
    store: SqlStore, queued_message: MessageFactory
) -> None:
    await _enqueue(store, queued_message("01JA"), BOB, CAROL)
    async with store.begin() as tx:
        one = await tx.queue.claim_due(T0, owner="a", lease_seconds=LEASE, limit=1)
        assert [r.address for c in one for r in c.recipients] == ["bob@example.org"]
        with pytest.raises(ValueError, match="positive lease"):
            await tx.queue.claim_due(T0, owner="a", lease_seconds=0)
        with pytest.raises(ValueError, match="limit of at least 1"):
            await tx.queue.claim_due(T0, owner="a", lease_seconds=LEASE, limit=0)
        with pytest.raises(ValueError, match="naive datetime"):
            await tx.queue.claim_due(datetime(2026, 1, 1), owner="a", lease_seconds=LEASE)


async def test_final_states_are_final(store: SqlStore, queued_message: MessageFactory) -> None:
    dave = NewRecipient("dave@example.org", LOCAL)
    await _enqueue(store, queued_message("01JA"), BOB, CAROL, dave)
    at = T0 + timedelta(seconds=5)
    async with store.begin() as tx:
        await tx.queue.claim_due(T0, owner="a", lease_seconds=LEASE)
        await tx.queue.mark_delivered("01JA", BOB.address, owner="a", at=at)
        await tx.queue.mark_failed("01JA", CAROL.address, owner="a", error="550 5.1.1 no", at=at)
        await tx.queue.mark_expired("01JA", dave.address, owner="a", at=at)
    for address, status in [
        (BOB.address, "delivered"),
        (CAROL.address, "failed"),
        (dave.address, "expired"),
    ]:
        async with store.begin() as tx:
            with pytest.raises(ConflictError) as caught:
                await tx.queue.mark_delivered("01JA", address, owner="a", at=at)
            assert caught.value.message == (
                f"cannot mark {address} of queued message 01JA delivered: it is {status} already"
            )
            with pytest.raises(ConflictError):
                await tx.queue.mark_deferred(
                    "01JA", address, owner="a", error="x", next_attempt_at=at
                )
        stored = await _recipient(store, "01JA", address)
        assert (stored.status, stored.finished_at, stored.next_attempt_at) == (status, at, None)
        assert (stored.lease_owner, stored.lease_until) == (None, None)
    assert (await _recipient(store, "01JA", CAROL.address)).last_error == "550 5.1.1 no"


async def test_only_the_lease_holder_may_mark_a_recipient(
    store: SqlStore, queued_message: MessageFactory
) -> None:
    await _enqueue(store, queued_message("01JA"), BOB)
    async with store.begin() as tx:
        with pytest.raises(ConflictError, match="leased to no runner, not to a"):
            await tx.queue.mark_delivered("01JA", BOB.address, owner="a", at=T0)
        await tx.queue.claim_due(T0, owner="a", lease_seconds=LEASE)
        with pytest.raises(ConflictError, match="leased to runner a, not to b"):
            await tx.queue.mark_failed("01JA", BOB.address, owner="b", error="x", at=T0)
        with pytest.raises(NotFoundError, match="queued message 01JA has no recipient eve@x"):
            await tx.queue.mark_delivered("01JA", "eve@x", owner="a", at=T0)
        with pytest.raises(NotFoundError, match="queued message 01JZ has no recipient"):
            await tx.queue.mark_expired("01JZ", BOB.address, owner="a", at=T0)
    assert (await _recipient(store, "01JA", BOB.address)).status is RecipientStatus.PENDING


async def test_a_deferred_recipient_waits_until_its_next_attempt(
    store: SqlStore, queued_message: MessageFactory
) -> None:
    await _enqueue(store, queued_message("01JA"), CAROL)
    retry_at = T0 + timedelta(minutes=5)
    async with store.begin() as tx:
        await tx.queue.claim_due(T0, owner="a", lease_seconds=LEASE)
        await tx.queue.mark_deferred(
            "01JA", CAROL.address, owner="a", error="451 4.3.0 busy", next_attempt_at=retry_at
        )
        assert await tx.queue.next_due() == retry_at
        assert (
            await tx.queue.claim_due(retry_at - timedelta(seconds=1), owner="b", lease_seconds=1)
            == []
        )
        again = await tx.queue.claim_due(retry_at, owner="b", lease_seconds=LEASE)
    (carol,) = again[0].recipients
    assert (carol.attempts, carol.last_error, carol.lease_owner) == (2, "451 4.3.0 busy", "b")


async def test_an_expired_lease_lets_another_runner_take_over(
    store: SqlStore, queued_message: MessageFactory
) -> None:
    await _enqueue(store, queued_message("01JA"), CAROL)
    async with store.begin() as tx:
        await tx.queue.claim_due(T0, owner="crashed", lease_seconds=LEASE)
        assert await tx.queue.next_due() == T0 + timedelta(seconds=LEASE)
        almost = T0 + timedelta(seconds=LEASE - 1)
        assert await tx.queue.claim_due(almost, owner="b", lease_seconds=LEASE) == []
        after = T0 + timedelta(seconds=LEASE)
        taken = await tx.queue.claim_due(after, owner="b", lease_seconds=LEASE)
        assert taken[0].recipients[0].attempts == 2
        with pytest.raises(ConflictError, match="leased to runner b, not to crashed"):
            await tx.queue.mark_delivered("01JA", CAROL.address, owner="crashed", at=after)
        await tx.queue.mark_delivered("01JA", CAROL.address, owner="b", at=after)
    assert (await _recipient(store, "01JA", CAROL.address)).status is RecipientStatus.DELIVERED


async def test_retry_makes_pending_recipients_due_now(
    store: SqlStore, queued_message: MessageFactory
) -> None:
    await _enqueue(store, queued_message("01JA"), BOB, CAROL)
    now = T0 + timedelta(minutes=1)
    async with store.begin() as tx:
        await tx.queue.claim_due(T0, owner="a", lease_seconds=LEASE)
        await tx.queue.mark_delivered("01JA", BOB.address, owner="a", at=T0)
        await tx.queue.mark_deferred(
            "01JA",
            CAROL.address,
            owner="a",
            error="timeout",
            next_attempt_at=T0 + timedelta(hours=4),
        )
        assert await tx.queue.retry("01JA", now=now) == 1
        assert (await tx.queue.next_due()) == now
        with pytest.raises(NotFoundError, match="there is no queued message 01JZ"):
            await tx.queue.retry("01JZ", now=now)
    assert (await _recipient(store, "01JA", CAROL.address)).next_attempt_at == now
    assert (await _recipient(store, "01JA", BOB.address)).status is RecipientStatus.DELIVERED


async def test_delete_removes_the_message_and_a_late_runner_finds_nothing(
    store: SqlStore, queued_message: MessageFactory
) -> None:
    await _enqueue(store, queued_message("01JA"), BOB, CAROL)
    async with store.begin() as tx:
        await tx.queue.claim_due(T0, owner="a", lease_seconds=LEASE)
    async with store.begin() as tx:
        await tx.queue.delete("01JA")
        with pytest.raises(NotFoundError) as caught:
            await tx.queue.delete("01JA")
        assert caught.value.hint == "`postseal queue list` shows the queued messages"
        with pytest.raises(NotFoundError):
            await tx.queue.mark_delivered("01JA", BOB.address, owner="a", at=T0)
        assert await tx.queue.get("01JA") is None
        assert await tx.queue.list() == []
        assert await tx.queue.next_due() is None


async def test_list_filters_by_status_and_finished_and_purge_keep_the_active(
    store: SqlStore, queued_message: MessageFactory
) -> None:
    for message_id in ("01JA", "01JB", "01JC"):
        await _enqueue(store, queued_message(message_id), BOB, CAROL)
    async with store.begin() as tx:
        await tx.queue.claim_due(T0, owner="a", lease_seconds=LEASE)
        for message_id, minutes in (("01JA", 1), ("01JB", 10)):
            done = T0 + timedelta(minutes=minutes)
            await tx.queue.mark_delivered(message_id, BOB.address, owner="a", at=done)
            await tx.queue.mark_failed(message_id, CAROL.address, owner="a", error="5xx", at=done)
        await tx.queue.mark_delivered("01JC", BOB.address, owner="a", at=T0)
    async with store.begin() as tx:
        pending = await tx.queue.list(status=RecipientStatus.PENDING)
        assert [e.message.id for e in pending] == ["01JC"]
        failed = await tx.queue.list(status=RecipientStatus.FAILED, limit=1)
        assert [e.message.id for e in failed] == ["01JA"]
        assert [e.message.id for e in await tx.queue.finished()] == ["01JA", "01JB"]
        assert await tx.queue.purge_finished(T0 + timedelta(minutes=5)) == 1
        assert await tx.queue.purge_finished(T0 + timedelta(minutes=5)) == 0
    async with store.begin() as tx:
        assert [e.message.id for e in await tx.queue.list()] == ["01JB", "01JC"]
        assert await tx.queue.body("01JA") is None
        assert await tx.queue.purge_finished(T0 + timedelta(days=1)) == 1
        assert [e.message.id for e in await tx.queue.list()] == ["01JC"]


async def test_an_expired_message_is_still_handed_out_so_the_runner_can_expire_it(
    store: SqlStore, queued_message: MessageFactory
) -> None:
    message = queued_message("01JA", expires_at=T0 + timedelta(hours=1))
    await _enqueue(store, message, CAROL)
    later = T0 + timedelta(days=2)
    async with store.begin() as tx:
        (claimed,) = await tx.queue.claim_due(later, owner="a", lease_seconds=LEASE)
        assert claimed.message.expires_at < later
        await tx.queue.mark_expired("01JA", CAROL.address, owner="a", at=later)
        assert await tx.queue.claim_due(later, owner="a", lease_seconds=LEASE) == []
        assert await tx.queue.next_due() is None


async def _claim_all(store: SqlStore, owner: str) -> list[tuple[str, str]]:
    taken: list[tuple[str, str]] = []
    while True:
        async with store.begin() as tx:
            claimed = await tx.queue.claim_due(T0, owner=owner, lease_seconds=LEASE, limit=3)
        if not claimed:
            return taken
        taken += [(c.message.id, r.address) for c in claimed for r in c.recipients]
        await asyncio.sleep(0)


async def test_two_stores_claiming_at_once_never_get_the_same_recipient(
    url: str, store: SqlStore, queued_message: MessageFactory
) -> None:
    """Two engines stand for two postseal processes (or nodes on one PostgreSQL)."""
    recipients = [NewRecipient(f"user{n}@example.org", LOCAL) for n in range(6)]
    for message_id in _ids(10):
        await _enqueue(store, queued_message(message_id), *recipients)
    other = await open_store(url)
    try:
        results = await asyncio.gather(
            _claim_all(store, "node-1"),
            _claim_all(other, "node-2"),
            _claim_all(store, "node-1b"),
            _claim_all(other, "node-2b"),
        )
    finally:
        await other.close()
    everything = [key for result in results for key in result]
    assert len(everything) == 60
    assert len(set(everything)) == 60
    if url.startswith("postgresql"):
        # SKIP LOCKED lets claimers work side by side; SQLite's BEGIN IMMEDIATE serialises
        # them, and one may legitimately take everything.
        assert sum(1 for result in results if result) >= 2
