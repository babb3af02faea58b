"""``Store.peek`` and ``Store.begin_batch`` (ADR 0023): the same repositories, the same
all-or-nothing and snapshot rules as ``begin`` — on SQLite run on the event loop's
thread, waiting in a worker only for a lock another process holds."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError

from postseal.errors import ConflictError, StoreError
from postseal.store.ports import NewUser
from postseal.store.sql import SqlStore, open_store


class _Boom(Exception):
    pass


# Inline execution is SQLite's; on PostgreSQL peek and begin_batch are begin().
sqlite_only = pytest.mark.parametrize("url", ["sqlite"], indirect=True)


async def test_peek_reads_what_was_committed_by_another_store(url: str, store: SqlStore) -> None:
    other = await open_store(url)
    try:
        async with other.begin() as tx:
            await tx.meta.set("k", "first")
        async with store.peek() as tx:
            assert await tx.meta.get("k") == "first"
        async with other.begin() as tx:
            await tx.meta.set("k", "second")
        async with store.peek() as tx:  # a new snapshot sees the later commit
            assert await tx.meta.get("k") == "second"
    finally:
        await other.close()


async def test_peek_reads_one_snapshot_beside_an_open_writer(url: str, store: SqlStore) -> None:
    async with store.begin() as tx:
        await tx.meta.set("k", "before")
    other = await open_store(url)
    try:
        async with other.begin() as writer:
            await writer.meta.set("k", "during")

            async def read() -> str | None:
                async with store.peek() as reader:
                    return await reader.meta.get("k")

            assert await asyncio.wait_for(read(), timeout=2.0) == "before"
    finally:
        await other.close()


async def test_a_write_in_peek_fails_and_changes_nothing(url: str, store: SqlStore) -> None:
    with pytest.raises(Exception, match=r"(?i)read-?only"):
        async with store.peek() as tx:
            await tx.meta.set("k", "v")
    async with store.begin() as tx:
        assert await tx.meta.get("k") is None


@sqlite_only
async def test_peek_on_sqlite_answers_without_yielding_to_the_loop(
    url: str, store: SqlStore, new_user: Callable[..., NewUser]
) -> None:
    async with store.begin() as tx:
        await tx.users.add(new_user("bob@example.org"))
    turns = 0

    def tick() -> None:
        nonlocal turns
        turns += 1

    asyncio.get_running_loop().call_soon(tick)
    async with store.peek() as tx:
        bob = await tx.users.get("bob@example.org")
        assert await tx.meta.get("absent") is None
    assert bob is not None and bob.address == "bob@example.org"
    assert turns == 0  # no statement suspended: nothing else ran meanwhile


@sqlite_only
async def test_a_read_that_sqlite_answers_busy_runs_again_in_a_worker(
    url: str, store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """BUSY (WAL recovery, a process holding the file) cannot be staged reliably beside
    WAL's shared locks, so the driver answers it once here; the statement is then run
    again off the loop's thread, in the same transaction."""
    async with store.begin() as tx:
        await tx.meta.set("k", "v")
    on_loop_thread: list[bool] = []
    original = Connection.execute

    def busy_once(self: Connection, *args: Any, **kwargs: Any) -> Any:
        on_loop_thread.append(threading.current_thread() is threading.main_thread())
        if len(on_loop_thread) == 1:
            busy = sqlite3.OperationalError("database is locked")
            busy.sqlite_errorcode = sqlite3.SQLITE_BUSY
            raise OperationalError("SELECT", {}, busy)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Connection, "execute", busy_once)
    async with store.peek() as tx:
        assert await tx.meta.get("k") == "v"
    assert on_loop_thread == [True, False]


async def test_begin_batch_commits_durably_for_another_store(url: str, store: SqlStore) -> None:
    async with store.begin_batch() as tx:
        await tx.meta.set("k", "v")
        await tx.audit.append(actor="admin", action="test.batch", target="k")
    other = await open_store(url)
    try:
        async with other.begin(readonly=True) as tx:
            assert await tx.meta.get("k") == "v"
            assert [e.action for e in await tx.audit.list()] == ["test.batch"]
    finally:
        await other.close()


async def test_begin_batch_rolls_everything_back_on_an_exception(
    store: SqlStore, new_user: Callable[..., NewUser]
) -> None:
    async def write_then_fail() -> None:
        async with store.begin_batch() as tx:
            await tx.users.add(new_user("bob@example.org"))
            await tx.meta.set("k", "v")
            raise _Boom

    with pytest.raises(_Boom):
        await write_then_fail()
    async with store.begin(readonly=True) as tx:
        assert await tx.users.list() == []
        assert await tx.meta.get("k") is None


async def test_a_conflict_inside_begin_batch_leaves_the_transaction_usable(
    store: SqlStore, new_user: Callable[..., NewUser]
) -> None:
    async with store.begin_batch() as tx:
        await tx.users.add(new_user("bob@example.org"))
        with pytest.raises(ConflictError):
            await tx.users.add(new_user("bob@example.org"))  # a savepoint rolls back
        await tx.users.add(new_user("carol@example.org"))
    async with store.begin(readonly=True) as tx:
        assert sorted(u.address for u in await tx.users.list()) == [
            "bob@example.org",
            "carol@example.org",
        ]


@sqlite_only
async def test_begin_batch_waits_for_another_writer_instead_of_failing(
    url: str, store: SqlStore
) -> None:
    other = await open_store(url)
    try:
        holding = asyncio.Event()

        async def hold_the_write_lock() -> None:
            async with other.begin() as tx:
                await tx.meta.set("first", "1")
                holding.set()
                await asyncio.sleep(0.3)

        holder = asyncio.ensure_future(hold_the_write_lock())
        await holding.wait()
        async with store.begin_batch() as tx:  # BUSY at once: waits in a worker
            await tx.meta.set("second", "2")
        await holder
        async with store.peek() as tx:
            assert await tx.meta.get("first") == "1"
            assert await tx.meta.get("second") == "2"
    finally:
        await other.close()


@sqlite_only
async def test_begin_batch_that_never_gets_the_lock_is_a_store_error(
    url: str, store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """BEGIN goes to the driver directly; its error still reads as the store's."""
    monkeypatch.setattr("postseal.store.sql.sqlite_inline.SQLITE_BUSY_TIMEOUT_MS", 50)
    other = await open_store(url)
    try:
        async with other.begin() as tx:
            await tx.meta.set("held", "1")
            with pytest.raises(StoreError, match="locked"):
                async with store.begin_batch() as mine:
                    await mine.meta.set("k", "v")
    finally:
        await other.close()
    async with store.peek() as tx:
        assert await tx.meta.get("k") is None
