"""Mailboxes: creation, UIDs under concurrency, exactly-once local delivery, nothing in
clear on disk."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from postseal.custody import MasterKey
from postseal.custody.sealing import (
    SealedBlob,
    new_container_key,
    new_id,
    open_sealed,
    queue_key,
    seal,
    unwrap_container_key,
    wrap_container_key,
)
from postseal.errors import ConflictError, NotFoundError
from postseal.store.ports import (
    NewMailbox,
    NewRecipient,
    NewStoredMessage,
    NewUser,
    QueuedMessage,
    RecipientKind,
    RecipientStatus,
    SealedBody,
    UserRecord,
)
from postseal.store.sql import SqlStore, open_store

T0 = datetime(2026, 1, 15, 9, 30, 0, 123456, tzinfo=UTC)  # as in conftest
BOB = NewRecipient("bob@example.org", RecipientKind.LOCAL)


class _Boom(Exception):
    pass


def _body(tag: str) -> SealedBody:
    return SealedBody(wrapped_key=b"K" * 64 + tag.encode(), ciphertext=b"\x00\xff" + tag.encode())


def _new_box(user: UserRecord, name: str = "INBOX", box_id: str | None = None) -> NewMailbox:
    return NewMailbox(box_id or f"01JBOX{name}", user.id, name, b"wrapped " + name.encode(), T0)


def _new_message(tag: str, *flags: str) -> NewStoredMessage:
    return NewStoredMessage(f"01JMSG{tag}", T0, 100 + len(tag), _body(tag), flags)


async def _bob(store: SqlStore, new_user: Callable[..., NewUser]) -> UserRecord:
    async with store.begin() as tx:
        return await tx.users.add(new_user("bob@example.org"))


async def test_a_created_mailbox_reads_back(
    store: SqlStore, new_user: Callable[..., NewUser]
) -> None:
    bob = await _bob(store, new_user)
    async with store.begin() as tx:
        inbox = await tx.mailboxes.create(_new_box(bob))
        sent = await tx.mailboxes.create(_new_box(bob, "Sent"))
        assert await tx.mailboxes.get(inbox.id) == inbox
        assert await tx.mailboxes.find(bob.id, "INBOX") == inbox
        assert await tx.mailboxes.find(bob.id, "Drafts") is None
        assert await tx.mailboxes.get("01JNOSUCH") is None
        assert await tx.mailboxes.list(bob.id) == [inbox, sent]
        assert await tx.mailboxes.list(bob.id + 1) == []
    assert (inbox.name, inbox.user_id, inbox.uidnext, inbox.created_at) == ("INBOX", bob.id, 1, T0)
    assert inbox.wrapped_key == b"wrapped INBOX"
    assert inbox.uidvalidity == int(T0.timestamp())
    assert sent.uidvalidity == inbox.uidvalidity + 1  # same second: still a new value


async def test_bad_mailboxes_are_refused_and_change_nothing(
    store: SqlStore, new_user: Callable[..., NewUser]
) -> None:
    bob = await _bob(store, new_user)
    async with store.begin() as tx:
        inbox = await tx.mailboxes.create(_new_box(bob))
        with pytest.raises(ConflictError) as caught:
            await tx.mailboxes.create(_new_box(bob, box_id="01JOTHER"))
        assert caught.value.message == f"user {bob.id} already has a mailbox named INBOX"
        with pytest.raises(ConflictError, match="a mailbox with id 01JBOXINBOX already exists"):
            await tx.mailboxes.create(_new_box(bob, "Sent", box_id=inbox.id))
        with pytest.raises(NotFoundError, match="there is no user with id 4242"):
            await tx.mailboxes.create(NewMailbox("01JX", 4242, "INBOX", b"k", T0))
        with pytest.raises(ValueError, match="must not be empty"):
            await tx.mailboxes.create(_new_box(bob, ""))
        assert await tx.mailboxes.ensure(_new_box(bob, box_id="01JIGNORED")) == inbox
    async with store.begin() as tx:
        assert [m.name for m in await tx.mailboxes.list(bob.id)] == ["INBOX"]


async def test_append_allocates_increasing_uids_and_reads_back(
    store: SqlStore, new_user: Callable[..., NewUser]
) -> None:
    bob = await _bob(store, new_user)
    async with store.begin() as tx:
        inbox = await tx.mailboxes.create(_new_box(bob))
        first = await tx.mailboxes.append(inbox.id, _new_message("a", "\\Seen", "$Work", "\\Seen"))
        second = await tx.mailboxes.append(inbox.id, _new_message("b"))
    assert (first.uid, second.uid) == (1, 2)
    assert first.flags == ("$Work", "\\Seen")
    assert (first.email_id, first.internal_date, first.size) == ("01JMSGa", T0, 101)
    async with store.begin() as tx:
        assert await tx.mailboxes.list_messages(inbox.id) == [first, second]
        assert await tx.mailboxes.get_message(inbox.id, 2) == second
        assert await tx.mailboxes.get_message(inbox.id, 3) is None
        assert await tx.mailboxes.body(inbox.id, 1) == _body("a")
        assert await tx.mailboxes.body(inbox.id, 3) is None
        stored = await tx.mailboxes.get(inbox.id)
        assert stored is not None
        assert stored.uidnext == 3


async def test_a_refused_append_takes_no_uid(
    store: SqlStore, new_user: Callable[..., NewUser]
) -> None:
    bob = await _bob(store, new_user)
    async with store.begin() as tx:
        inbox = await tx.mailboxes.create(_new_box(bob))
        with pytest.raises(ValueError, match="the flag 'two words' is empty or holds white space"):
            await tx.mailboxes.append(inbox.id, _new_message("a", "two words"))
        with pytest.raises(ValueError, match="the flag '' is empty"):
            await tx.mailboxes.append(inbox.id, _new_message("a", ""))
        naive = NewStoredMessage("01JN", datetime(2026, 1, 1), 1, _body("n"))
        with pytest.raises(ValueError, match="naive datetime"):
            await tx.mailboxes.append(inbox.id, naive)
        with pytest.raises(NotFoundError, match="there is no mailbox with id 01JNONE"):
            await tx.mailboxes.append("01JNONE", _new_message("a"))
        assert (await tx.mailboxes.append(inbox.id, _new_message("ok"))).uid == 1


async def _append_many(store: SqlStore, mailbox_id: str, tag: str, count: int) -> list[int]:
    uids = []
    for n in range(count):
        async with store.begin() as tx:
            uids.append((await tx.mailboxes.append(mailbox_id, _new_message(f"{tag}{n}"))).uid)
        await asyncio.sleep(0)
    return uids


async def test_concurrent_appends_from_two_processes_get_distinct_increasing_uids(
    url: str, store: SqlStore, new_user: Callable[..., NewUser]
) -> None:
    bob = await _bob(store, new_user)
    other = await open_store(url)
    try:
        async with store.begin() as tx:
            inbox = await tx.mailboxes.create(_new_box(bob))
        results = await asyncio.gather(
            _append_many(store, inbox.id, "a", 10),
            _append_many(other, inbox.id, "b", 10),
            _append_many(store, inbox.id, "c", 10),
            _append_many(other, inbox.id, "d", 10),
        )
    finally:
        await other.close()
    for uids in results:
        assert uids == sorted(uids)
    assert sorted(uid for uids in results for uid in uids) == list(range(1, 41))
    async with store.begin() as tx:
        stored = await tx.mailboxes.list_messages(inbox.id)
        box = await tx.mailboxes.get(inbox.id)
    assert [m.uid for m in stored] == list(range(1, 41))
    assert box is not None
    assert box.uidnext == 41


async def test_concurrent_ensures_agree_on_one_mailbox(
    url: str, store: SqlStore, new_user: Callable[..., NewUser]
) -> None:
    bob = await _bob(store, new_user)
    other = await open_store(url)

    async def ensure(on: SqlStore, box_id: str) -> str:
        async with on.begin() as tx:
            return (await tx.mailboxes.ensure(_new_box(bob, box_id=box_id))).id

    try:
        ids = await asyncio.gather(
            *(ensure(s, f"01J{n}") for n, s in enumerate([store, other] * 3))
        )
    finally:
        await other.close()
    assert len(set(ids)) == 1


async def _enqueue_for_bob(store: SqlStore, queued_message: Callable[..., QueuedMessage]) -> None:
    async with store.begin() as tx:
        await tx.queue.enqueue(queued_message("01JQ"), _body("queued"), [BOB])
        await tx.queue.claim_due(T0, owner="runner-a", lease_seconds=60)


async def test_local_delivery_appends_and_marks_delivered_exactly_once(
    store: SqlStore, new_user: Callable[..., NewUser], queued_message: Callable[..., QueuedMessage]
) -> None:
    bob = await _bob(store, new_user)
    await _enqueue_for_bob(store, queued_message)
    async with store.begin() as tx:
        inbox = await tx.mailboxes.ensure(_new_box(bob))
        await tx.queue.mark_delivered("01JQ", BOB.address, owner="runner-a", at=T0)
        await tx.mailboxes.append(inbox.id, _new_message("Q"))
    # The crashed-looking runner-a's lease ran out, but the recipient is final.
    later = T0 + timedelta(minutes=5)
    async with store.begin() as tx:
        assert await tx.queue.claim_due(later, owner="runner-b", lease_seconds=60) == []

    async def deliver_again() -> None:
        async with store.begin() as tx:
            await tx.queue.mark_delivered("01JQ", BOB.address, owner="runner-a", at=later)
            await tx.mailboxes.append(inbox.id, _new_message("again"))

    with pytest.raises(ConflictError, match="it is delivered already"):
        await deliver_again()
    async with store.begin() as tx:
        assert [m.email_id for m in await tx.mailboxes.list_messages(inbox.id)] == ["01JMSGQ"]


async def test_a_failed_delivery_transaction_leaves_the_recipient_pending_and_the_box_as_is(
    store: SqlStore, new_user: Callable[..., NewUser], queued_message: Callable[..., QueuedMessage]
) -> None:
    bob = await _bob(store, new_user)
    async with store.begin() as tx:
        inbox = await tx.mailboxes.create(_new_box(bob))
    await _enqueue_for_bob(store, queued_message)

    async def crash_while_delivering() -> None:
        async with store.begin() as tx:
            await tx.queue.mark_delivered("01JQ", BOB.address, owner="runner-a", at=T0)
            await tx.mailboxes.append(inbox.id, _new_message("Q"))
            raise _Boom

    with pytest.raises(_Boom):
        await crash_while_delivering()
    async with store.begin() as tx:
        entry = await tx.queue.get("01JQ")
        assert entry is not None
        (bob_rcpt,) = entry.recipients
        assert (bob_rcpt.status, bob_rcpt.lease_owner) == (RecipientStatus.PENDING, "runner-a")
        assert await tx.mailboxes.list_messages(inbox.id) == []
        assert await tx.mailboxes.get(inbox.id) == inbox
        retaken = await tx.queue.claim_due(T0 + timedelta(seconds=60), owner="b", lease_seconds=60)
        assert [r.address for c in retaken for r in c.recipients] == [BOB.address]


async def test_removing_a_user_removes_their_mailboxes_and_mail(
    store: SqlStore, new_user: Callable[..., NewUser]
) -> None:
    bob = await _bob(store, new_user)
    async with store.begin() as tx:
        inbox = await tx.mailboxes.create(_new_box(bob))
        await tx.mailboxes.append(inbox.id, _new_message("a"))
    async with store.begin() as tx:
        await tx.users.remove(bob.id)
    async with store.begin() as tx:
        assert await tx.mailboxes.get(inbox.id) is None
        assert await tx.mailboxes.body(inbox.id, 1) is None


async def _raw_files(url: str, store: SqlStore) -> dict[str, bytes]:
    """Every file of the database as stored: SQLite's .db, -wal and -shm; PostgreSQL's
    files of this database and its write-ahead log, after a checkpoint."""
    parsed = make_url(url)
    if store.dialect == "sqlite":
        directory = Path(str(parsed.database)).parent
        return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}
    connection = await asyncpg.connect(
        host=parsed.host, port=parsed.port, user=parsed.username, database=parsed.database
    )
    try:
        await connection.execute("CHECKPOINT")
        oid = await connection.fetchval(
            "SELECT oid FROM pg_database WHERE datname = current_database()"
        )
        names = [f"base/{oid}/{name}" for name in await _ls(connection, f"base/{oid}")]
        names += [f"pg_wal/{name}" for name in await _ls(connection, "pg_wal")]
        files = {}
        for name in names:
            data = await connection.fetchval(
                "SELECT pg_read_binary_file($1, 0, (pg_stat_file($1, true)).size, true)", name
            )
            files[name] = bytes(data or b"")
        return files
    finally:
        await connection.close()


async def _ls(connection: asyncpg.Connection, directory: str) -> list[str]:
    rows = await connection.fetch(
        "SELECT name FROM pg_ls_dir($1) AS name"
        " WHERE NOT coalesce((pg_stat_file($1 || '/' || name, true)).isdir, true)",
        directory,
    )
    return [row["name"] for row in rows]


async def test_no_subject_or_body_text_reaches_the_disk(
    url: str,
    store: SqlStore,
    new_user: Callable[..., NewUser],
    queued_message: Callable[..., QueuedMessage],
) -> None:
    marker = f"MARKER-{uuid.uuid4().hex}"
    control = f"CONTROL-{uuid.uuid4().hex}"  # written in clear: proves the search sees data
    message = (
        f"From: alice@example.org\r\nTo: bob@example.org\r\nSubject: Merger {marker}\r\n\r\n"
        f"Strictly confidential: {marker}\r\n"
    ).encode()
    master = MasterKey(os.urandom(32))
    message_id = new_id(T0)
    queued = seal(queue_key(master), message, container="queue", label=message_id)
    bob = await _bob(store, new_user)
    async with store.begin() as tx:
        await tx.meta.set("control", control)
        await tx.queue.enqueue(
            queued_message(message_id, size=len(message)),
            SealedBody(queued.wrapped_key, queued.ciphertext),
            [BOB],
        )
    async with store.begin() as tx:  # what the queue runner will do
        (claimed,) = await tx.queue.claim_due(T0, owner="runner", lease_seconds=60)
        text = open_sealed(
            queue_key(master),
            SealedBlob(claimed.body.wrapped_key, claimed.body.ciphertext),
            container="queue",
            label=message_id,
        )
        box_id = new_id(T0)
        wrapped = wrap_container_key(master, new_container_key(), container=box_id)
        inbox = await tx.mailboxes.ensure(NewMailbox(box_id, bob.id, "INBOX", wrapped, T0))
        box_key = unwrap_container_key(master, inbox.wrapped_key, container=inbox.id)
        stored = seal(box_key, text, container=inbox.id, label=message_id)
        await tx.queue.mark_delivered(message_id, BOB.address, owner="runner", at=T0)
        body = SealedBody(stored.wrapped_key, stored.ciphertext)
        await tx.mailboxes.append(inbox.id, NewStoredMessage(message_id, T0, len(text), body))
    async with store.begin() as tx:
        found = await tx.mailboxes.body(inbox.id, 1)
    assert found is not None
    blob = SealedBlob(found.wrapped_key, found.ciphertext)
    assert open_sealed(box_key, blob, container=inbox.id, label=message_id) == message

    files = await _raw_files(url, store)
    assert any(control.encode() in data for data in files.values())
    assert [name for name, data in files.items() if marker.encode() in data] == []
    assert [name for name, data in files.items() if b"Subject: Merger" in data] == []
    if store.dialect == "sqlite":
        await store.close()  # checkpoints the WAL into the database file
        files = await _raw_files(url, store)
        assert any(control.encode() in data for data in files.values())
        assert [name for name, data in files.items() if marker.encode() in data] == []
