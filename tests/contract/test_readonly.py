"""Read-only transactions: they read beside a writer on SQLite and refuse writes on
PostgreSQL (both databases)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.exc import DBAPIError

from postseal.store.sql import SqlStore, open_store


async def test_readonly_reads_what_was_committed(store: SqlStore) -> None:
    async with store.begin() as tx:
        await tx.meta.set("k", "v")
    async with store.begin(readonly=True) as tx:
        assert await tx.meta.get("k") == "v"


async def test_a_reader_is_not_blocked_by_an_open_writer(url: str, store: SqlStore) -> None:
    async with store.begin() as tx:
        await tx.meta.set("k", "before")
    other = await open_store(url)
    try:
        async with store.begin() as writer:
            await writer.meta.set("k", "during")

            async def read() -> str | None:
                async with other.begin(readonly=True) as reader:
                    return await reader.meta.get("k")

            # The write is not committed yet: the reader sees the old value at once
            # instead of waiting for the writer's lock.
            assert await asyncio.wait_for(read(), timeout=2.0) == "before"
    finally:
        await other.close()


async def test_postgresql_readonly_transaction_refuses_writes(url: str, store: SqlStore) -> None:
    if not url.startswith("postgresql"):
        pytest.skip("SQLite has no read-only transaction mode to enforce; only PostgreSQL refuses")
    with pytest.raises(DBAPIError, match="read-only transaction"):
        async with store.begin(readonly=True) as tx:
            await tx.meta.set("k", "v")
    async with store.begin() as tx:
        assert await tx.meta.get("k") is None
