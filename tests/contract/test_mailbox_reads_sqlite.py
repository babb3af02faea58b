"""The SQLite read path (ADR 0017): read-only connections, point reads on the event
loop's thread that never wait there for a lock, everything else in a worker thread."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from test_mailboxes import T0, _bob, _new_message

from postseal.errors import StoreError
from postseal.store.ports import NewMailbox, NewStoredMessage, NewUser, SealedBody
from postseal.store.sql import SqlStore, open_store
from postseal.store.sql.sqlite_reads import INLINE_BYTES, SqliteMailboxReads

BOX = "01JBOXSQLITE"


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "store.db"


@pytest.fixture
async def filled(path: Path, new_user: Callable[..., NewUser]) -> AsyncIterator[SqlStore]:
    """A SQLite store whose INBOX (id BOX) holds three small messages and a large one."""
    store = await open_store(f"sqlite+aiosqlite:///{path}", migrate=True)
    try:
        bob = await _bob(store, new_user)
        large = SealedBody(b"K" * 64, b"x" * (INLINE_BYTES + 1))
        async with store.begin() as tx:
            await tx.mailboxes.create(NewMailbox(BOX, bob.id, "INBOX", b"w", T0))
            for tag in ("a", "b", "c"):
                await tx.mailboxes.append(BOX, _new_message(tag))
            await tx.mailboxes.append(BOX, NewStoredMessage("01JMSGL", T0, 1, large))
        yield store
    finally:
        await store.close()


def _reads(path: Path, *, workers: int = 4) -> SqliteMailboxReads:
    return SqliteMailboxReads(make_url(f"sqlite+aiosqlite:///{path}"), path, workers=workers)


async def _largest_stall(work: asyncio.Future[object], *, tick: float = 0.01) -> float:
    """The longest the event loop went without running a task while ``work`` ran."""
    largest, last = 0.0, time.monotonic()
    while not work.done():
        await asyncio.sleep(tick)
        now = time.monotonic()
        largest, last = max(largest, now - last - tick), now
    return largest


async def test_a_locked_database_never_stalls_the_event_loop(filled: SqlStore, path: Path) -> None:
    await filled.close()  # the engine's connections would keep the lock from being taken
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")  # nobody else may even read until it lets go
    reads = _reads(path)
    try:
        read = asyncio.ensure_future(reads.highest_modseq(BOX))
        asyncio.get_running_loop().call_later(0.4, holder.close)
        stall = await _largest_stall(read)
        assert await read == 5  # read as soon as the lock was let go
        assert stall < 0.2  # the waiting happened in a worker thread, not on the loop
    finally:
        await reads.close()


async def test_point_reads_do_not_queue_behind_busy_workers(filled: SqlStore, path: Path) -> None:
    reads = _reads(path, workers=1)
    release = threading.Event()
    try:
        blocked = asyncio.ensure_future(reads._run(lambda _: release.wait(5)))
        listing = asyncio.ensure_future(reads.listing(BOX))
        await asyncio.sleep(0.05)
        assert await asyncio.wait_for(reads.highest_modseq(BOX), 0.5) == 5
        found = await asyncio.wait_for(reads.body(BOX, 2), 0.5)
        assert found is not None and found.ciphertext.endswith(b"b")
        assert await asyncio.wait_for(reads.find(1, "INBOX"), 0.5) is not None
        assert not listing.done()  # the worker is still taken
        release.set()
        assert await blocked is True
        assert (await listing) is not None
        big = await reads.body(BOX, 4)  # over INLINE_BYTES: read by the worker
        assert big is not None and len(big.ciphertext) == INLINE_BYTES + 1
    finally:
        release.set()
        await reads.close()


async def test_the_read_connections_cannot_write(filled: SqlStore, path: Path) -> None:
    reads = _reads(path)
    try:
        with pytest.raises(StoreError, match="readonly database"):
            await reads._run(lambda c: c.execute("DELETE FROM mailbox_messages"))
        assert await reads.body(BOX, 1) is not None
    finally:
        await reads.close()


async def test_a_snapshot_left_open_does_not_hide_later_commits(
    filled: SqlStore, path: Path
) -> None:
    reads = _reads(path, workers=1)
    try:
        await reads._run(lambda c: c.execute("BEGIN").execute("SELECT 1 FROM mailboxes").fetchall())
        async with filled.begin() as tx:
            await tx.mailboxes.append(BOX, _new_message("d"))
        found = await reads.listing(BOX)
        assert found is not None and [m.uid for m in found.messages] == [1, 2, 3, 4, 5]
    finally:
        await reads.close()


async def test_a_file_that_is_no_database_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not a database" * 512)
    reads = _reads(path)
    try:
        with pytest.raises(StoreError, match=r"cannot read the SQLite database .*junk\.db"):
            await reads.highest_modseq(BOX)  # the point read, on the loop's thread
        with pytest.raises(StoreError, match="not a database"):
            await reads.listing(BOX)  # a worker thread's read
    finally:
        await reads.close()


async def test_a_missing_file_is_a_store_error_and_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "gone.db"
    reads = _reads(path)
    try:
        with pytest.raises(StoreError, match="unable to open"):
            await reads.highest_modseq(BOX)
        assert not path.exists()
    finally:
        await reads.close()


async def test_close_waits_for_reads_under_way_then_refuses_new_ones(
    filled: SqlStore, path: Path
) -> None:
    reads = _reads(path)
    under_way = asyncio.ensure_future(reads.listing(BOX))
    await asyncio.sleep(0)  # handed to a worker thread
    await reads.close()
    found = await under_way
    assert found is not None and len(found.messages) == 4
    for read in (reads.highest_modseq(BOX), reads.body(BOX, 1), reads.listing(BOX)):
        with pytest.raises(StoreError, match="is closed"):
            await read
    await reads.close()  # a second close is harmless
