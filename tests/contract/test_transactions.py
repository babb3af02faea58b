"""Transactions: all or nothing, aware UTC datetimes, and two SQLite writers at once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from postseal.errors import ConflictError
from postseal.store.ports import (
    CertificateRecord,
    CrlRecord,
    ImportedCrlRecord,
    NewUser,
    TemplateRecord,
    TrustKind,
    TrustRecord,
)
from postseal.store.sql import SqlStore, open_store


class _Boom(Exception):
    pass


_AT = datetime(2026, 2, 1, tzinfo=UTC)
TEMPLATE = TemplateRecord("smime-user", "", ("1.3.6.1.5.5.7.3.4",), "ecdsa-p256", 365, 30)
CRL = CrlRecord("1551", 1, _AT, _AT + timedelta(days=7), b"crl")
TRUSTED = TrustRecord("ab" * 32, TrustKind.ROOT, "CN=Partner Root", b"root", _AT)
IMPORTED = ImportedCrlRecord("CN=Partner Root", 9, _AT, None, b"partner crl")


async def test_an_exception_rolls_everything_back(
    store: SqlStore,
    new_user: Callable[..., NewUser],
    certificate: Callable[..., CertificateRecord],
) -> None:
    async def write_everything_then_fail() -> None:
        async with store.begin() as tx:
            bob = await tx.users.add(new_user("bob@example.org"))
            await tx.users.set_groups(bob.id, ["legal"])
            await tx.directory.publish(bob.id, b"cert")
            await tx.certificates.add(certificate("0A", user=bob))
            await tx.templates.put(TEMPLATE)
            await tx.crls.add(CRL)
            await tx.trust.add(TRUSTED)
            await tx.imported_crls.put(IMPORTED)
            await tx.meta.set("org", "Example AG")
            await tx.audit.append(actor="admin", action="user.add", target="bob@example.org")
            raise _Boom

    with pytest.raises(_Boom):
        await write_everything_then_fail()
    async with store.begin() as tx:
        assert await tx.users.list() == []
        assert await tx.certificates.list() == []
        assert await tx.templates.list() == []
        assert await tx.crls.latest(CRL.issuer_serial) is None
        assert await tx.trust.list() == []
        assert await tx.imported_crls.list() == []
        assert await tx.meta.all() == {}
        assert await tx.audit.list() == []


async def test_a_conflict_raised_out_of_the_block_rolls_back_earlier_writes(
    store: SqlStore, new_user: Callable[..., NewUser]
) -> None:
    async with store.begin() as tx:
        await tx.users.add(new_user("bob@example.org"))

    async def add_carol_then_bob_again() -> None:
        async with store.begin() as tx:
            await tx.users.add(new_user("carol@example.org"))
            await tx.users.add(new_user("bob@example.org"))

    with pytest.raises(ConflictError):
        await add_carol_then_bob_again()
    async with store.begin() as tx:
        assert [u.address for u in await tx.users.list()] == ["bob@example.org"]


async def test_datetimes_come_back_as_the_same_instant_in_utc(
    store: SqlStore, certificate: Callable[..., CertificateRecord]
) -> None:
    vienna = timezone(timedelta(hours=1))
    not_before = datetime(2026, 1, 1, 0, 30, 15, 999999, tzinfo=vienna)
    not_after = datetime(2027, 12, 31, 23, 59, 59, tzinfo=UTC)
    async with store.begin() as tx:
        await tx.certificates.add(certificate("0A", not_before=not_before, not_after=not_after))
    async with store.begin() as tx:
        stored = await tx.certificates.get("0A")
    assert stored is not None
    assert stored.not_before == not_before
    assert stored.not_before.tzinfo is UTC
    assert stored.not_before.isoformat() == "2025-12-31T23:30:15.999999+00:00"
    assert stored.not_after == not_after
    assert stored.not_after.tzinfo is UTC


async def test_a_naive_datetime_is_refused_and_changes_nothing(
    store: SqlStore, certificate: Callable[..., CertificateRecord]
) -> None:
    naive = datetime(2026, 1, 1, 12, 0)
    async with store.begin() as tx:
        with pytest.raises(ValueError, match="naive datetime 2026-01-01T12:00:00"):
            await tx.certificates.add(certificate("0A", not_before=naive))
        await tx.certificates.add(certificate("0B"))
        with pytest.raises(ValueError, match="naive datetime"):
            await tx.certificates.revoke("0B", at=naive, reason="keyCompromise")
    async with store.begin() as tx:
        assert [c.serial for c in await tx.certificates.list()] == ["0B"]
        stored = await tx.certificates.get("0B")
        assert stored is not None
        assert stored.revoked_at is None


async def _increment(store: SqlStore, *, pause: float) -> None:
    async with store.begin() as tx:
        value = int(await tx.meta.get("counter") or "0")
        await asyncio.sleep(pause)
        await tx.meta.set("counter", str(value + 1))


async def test_two_sqlite_processes_read_then_write_without_deadlock(tmp_path: Path) -> None:
    """Two engines stand for the server and a CLI command. With deferred transactions
    both would hold a read lock and one would fail at once with "database is locked";
    BEGIN IMMEDIATE makes the second wait and then see the first one's write."""
    url = f"sqlite+aiosqlite:///{tmp_path}/store.db"
    server = await open_store(url, migrate=True)
    cli = await open_store(url)
    try:
        await asyncio.gather(
            _increment(server, pause=0.2),
            _increment(cli, pause=0.2),
            _increment(server, pause=0.0),
            _increment(cli, pause=0.0),
        )
        async with server.begin() as tx:
            assert await tx.meta.get("counter") == "4"
    finally:
        await cli.close()
        await server.close()


async def test_a_sqlite_writer_waits_for_the_other_process(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/store.db"
    server = await open_store(url, migrate=True)
    cli = await open_store(url)
    try:
        async with server.begin() as tx:
            await tx.meta.set("owner", "server")
            waiting = asyncio.create_task(_increment(cli, pause=0.0))
            await asyncio.sleep(0.3)
            assert not waiting.done()
        await asyncio.wait_for(waiting, timeout=5)
        async with cli.begin() as tx:
            assert await tx.meta.all() == {"counter": "1", "owner": "server"}
    finally:
        await cli.close()
        await server.close()
