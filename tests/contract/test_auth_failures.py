"""Failed logins in the store: counting in a window, clearing, purging (both databases)."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine

from postseal.errors import ThrottledError
from postseal.services.throttle import AuthThrottle, StoreFailureLog
from postseal.store.ports import Store
from postseal.store.sql import open_store
from postseal.store.sql.tables import auth_failures

A, B = "a" * 64, "b" * 64


async def test_count_add_clear_purge(store: Store) -> None:
    async with store.begin() as tx:
        await tx.auth_failures.add([("address", A), ("account", B)], 100.0)
        await tx.auth_failures.add([("address", A)], 200.0)
    async with store.peek() as tx:
        assert await tx.auth_failures.count_since("address", A, 0.0) == 2
        assert await tx.auth_failures.counts_since("address", 150.0) == {A: 1}
        assert await tx.auth_failures.counts_since("account", 0.0) == {B: 1}
        assert await tx.auth_failures.count_since("address", A, 150.0) == 1
        assert await tx.auth_failures.count_since("address", A, 200.0) == 1  # at or after
        assert await tx.auth_failures.count_since("account", B, 0.0) == 1
        assert await tx.auth_failures.count_since("account", A, 0.0) == 0  # kind counts
    async with store.begin() as tx:
        assert await tx.auth_failures.purge_before(150.0) == 2
        assert await tx.auth_failures.clear("address", A) == 1
        assert await tx.auth_failures.clear("address", A) == 0
    async with store.peek() as tx:
        assert await tx.auth_failures.count_since("address", A, 0.0) == 0


async def test_an_unknown_kind_is_refused_by_the_database(store: Store) -> None:
    with pytest.raises(IntegrityError):
        async with store.begin() as tx:
            await tx.auth_failures.add([("device", A)], 1.0)  # type: ignore[list-item]


async def test_two_processes_count_the_same_failures(store: Store, url: str) -> None:
    """Two stores on one database (two SMTP worker processes, or IMAP beside SMTP): a
    guesser's failures at one are counted at the other."""
    clock = iter(range(1000, 2000)).__next__
    other = await open_store(url)
    try:
        first = AuthThrottle(per_address=10, per_account=3, log=StoreFailureLog(store), clock=clock)
        second = AuthThrottle(
            per_address=10, per_account=3, log=StoreFailureLog(other), clock=clock
        )
        await first.failed(address="192.0.2.1", account="Bob@example.org")
        await second.failed(address="192.0.2.2", account="bob@example.org")
        await first.check(address="192.0.2.3", account="bob@example.org")
        await second.failed(address="192.0.2.3", account="BOB@example.org")
        for throttle in (first, second):
            with pytest.raises(ThrottledError, match="too many failed logins"):
                await throttle.check(address="192.0.2.9", account="bob@example.org")
        await first.succeeded(account="bob@example.org")
        await second.check(address="192.0.2.9", account="bob@example.org")
    finally:
        await other.close()


async def test_the_store_holds_hashes_not_what_clients_sent(store: Store, url: str) -> None:
    throttle = AuthThrottle(log=StoreFailureLog(store))
    await throttle.failed(address="198.51.100.7", account="Guess-Me@example.org")
    key = hashlib.sha256(b"guess-me@example.org").hexdigest()
    async with store.peek() as tx:
        assert await tx.auth_failures.count_since("account", key, 0.0) == 1
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:
            rows = repr((await connection.execute(select(auth_failures))).all())
    finally:
        await engine.dispose()
    assert key in rows
    assert "uess-" not in rows and "198.51.100.7" not in rows
