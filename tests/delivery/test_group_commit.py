"""Group commit (ADR 0016) on SQLite and PostgreSQL: units share transactions, each
caller hears of its own unit only after the commit, a failing unit takes no other with
it, and a writer's refused item changes nothing while the rest commits."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta

import pytest

from postseal.custody import MasterKey
from postseal.errors import ConflictError, StoreError
from postseal.services.group_commit import GroupCommit
from postseal.services.local_delivery import LOCAL_DELIVERIES, LocalDelivery
from postseal.services.mailbox_writer import MailboxWriter
from postseal.services.queueing import QUEUE_WRITER, SealedForQueue
from postseal.store.ports import (
    NewRecipient,
    NewUser,
    QueuedMessage,
    RecipientKind,
    SealedBody,
    Store,
    Transaction,
)

from .conftest import T0


def _message(message_id: str, *recipients: str) -> SealedForQueue:
    message = QueuedMessage(
        id=message_id,
        mail_from="alice@example.org",
        received_at=T0,
        expires_at=T0 + timedelta(days=1),
        size=5,
        listener="smtp",
        client_address="192.0.2.1",
    )
    rcpts = tuple(NewRecipient(r, RecipientKind.LOCAL) for r in recipients or ("bob@example.org",))
    return SealedForQueue(message, SealedBody(b"k" * 60, b"sealed " + message_id.encode()), rcpts)


async def _queued(store: Store) -> list[str]:
    async with store.begin(readonly=True) as tx:
        return [entry.message.id for entry in await tx.queue.list(limit=1000)]


async def test_concurrent_writes_share_transactions_and_all_commit(store: Store) -> None:
    commits = GroupCommit(store)
    ids = [f"01GC{n:04d}" for n in range(40)]
    await asyncio.gather(*(commits.write(QUEUE_WRITER, _message(i)) for i in ids))
    assert await _queued(store) == ids
    assert commits.units == 40
    assert commits.transactions < 10  # a burst is a few transactions, not forty


async def test_a_refused_item_fails_alone_and_the_others_commit(store: Store) -> None:
    commits = GroupCommit(store)
    await commits.write(QUEUE_WRITER, _message("01GCTAKEN"))
    results = await asyncio.gather(
        commits.write(QUEUE_WRITER, _message("01GCA")),
        commits.write(QUEUE_WRITER, _message("01GCTAKEN")),  # the id exists
        commits.write(QUEUE_WRITER, _message("01GCB", "x@example.org", "x@example.org")),
        commits.write(QUEUE_WRITER, _message("01GCC")),
        return_exceptions=True,
    )
    assert results[0] is None and results[3] is None
    assert isinstance(results[1], ConflictError)
    assert isinstance(results[2], ValueError) and "twice" in str(results[2])
    assert await _queued(store) == ["01GCA", "01GCC", "01GCTAKEN"]


async def test_a_failing_unit_is_run_alone_and_takes_no_other_with_it(store: Store) -> None:
    commits = GroupCommit(store)

    async def broken(tx: Transaction) -> None:
        await QUEUE_WRITER.write_batch(tx, [_message("01GCBROKEN")])
        raise RuntimeError("a bug in one unit")

    async def fine(tx: Transaction) -> str:
        await _message("01GCFINE").write(tx)
        return "done"

    results = await asyncio.gather(
        commits.run(fine),
        commits.run(broken),
        commits.write(QUEUE_WRITER, _message("01GCITEM")),
        return_exceptions=True,
    )
    assert results[0] == "done" and results[2] is None
    assert isinstance(results[1], RuntimeError)
    assert await _queued(store) == ["01GCFINE", "01GCITEM"]  # nothing of the broken one


async def test_a_cancelled_caller_does_not_cancel_its_unit(store: Store) -> None:
    commits = GroupCommit(store)
    started = asyncio.Event()

    async def slow(tx: Transaction) -> None:
        started.set()
        await asyncio.sleep(0.05)
        await _message("01GCSLOW").write(tx)

    caller = asyncio.ensure_future(commits.run(slow))
    await started.wait()
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    await commits.drain()
    assert await _queued(store) == ["01GCSLOW"]  # committed all the same


class _Unreachable:
    """A store whose transactions cannot begin."""

    @contextlib.asynccontextmanager
    async def begin_batch(self) -> AsyncIterator[Transaction]:
        raise StoreError("cannot use the database: it went away")
        yield  # pragma: no cover


async def test_a_transaction_that_cannot_begin_fails_every_unit_without_retry() -> None:
    commits = GroupCommit(_Unreachable())  # type: ignore[arg-type]
    results: Sequence[object] = await asyncio.gather(
        *(commits.write(QUEUE_WRITER, _message(f"01GCX{n}")) for n in range(5)),
        return_exceptions=True,
    )
    assert all(isinstance(r, StoreError) for r in results)
    assert commits.transactions < 5  # one attempt for the batch, none per unit


async def test_local_deliveries_in_one_batch_refuse_only_the_lost_lease(
    store: Store, master: MasterKey
) -> None:
    """The batch writer of local deliveries marks and appends together; a recipient whose
    lease is another runner's is refused with ConflictError and gets no append."""
    async with store.begin() as tx:
        bob = await tx.users.add(NewUser("bob@example.org", "Bob", "smime-user"))
    commits = GroupCommit(store)
    for n in range(3):
        await commits.write(QUEUE_WRITER, _message(f"01GCD{n}"))
    writer = MailboxWriter(master)
    async with store.begin() as tx:
        await tx.queue.claim_due(T0, owner="runner-a", lease_seconds=60)
        inbox = await writer.ensure_inbox(tx, bob.id, now=T0)

    async def deliver(message_id: str, owner: str) -> None:
        sealed = await writer.seal(inbox, b"Subject: x\r\n\r\nhi\r\n", email_id=message_id,
                                   internal_date=T0)  # fmt: skip
        item = LocalDelivery(message_id, "bob@example.org", owner, T0, inbox.id, sealed)
        await commits.write(LOCAL_DELIVERIES, item)

    results = await asyncio.gather(
        deliver("01GCD0", "runner-a"),
        deliver("01GCD1", "runner-b"),  # not its lease
        deliver("01GCD2", "runner-a"),
        return_exceptions=True,
    )
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], ConflictError) and "leased to runner runner-a" in str(results[1])
    async with store.begin() as tx:
        stored = await tx.mailboxes.list_messages(inbox.id)
        states = {e.message.id: e.recipients[0].status.value for e in await tx.queue.list()}
    assert [(m.uid, m.email_id) for m in stored] == [(1, "01GCD0"), (2, "01GCD2")]
    assert states == {"01GCD0": "delivered", "01GCD1": "pending", "01GCD2": "delivered"}
