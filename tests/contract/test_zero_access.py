"""Zero-access settings: one row per user, replaced in place, gone with the user (both
databases)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from postseal.store.ports import NewUser, Store, ZeroAccessRecord

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


async def test_put_get_replace_remove(store: Store, new_user: Callable[..., NewUser]) -> None:
    async with store.begin() as tx:
        bob = await tx.users.add(new_user("bob@example.org"))
        alice = await tx.users.add(new_user("alice@example.org"))
        assert await tx.zero_access.get(bob.id) is None
        await tx.zero_access.put(ZeroAccessRecord(bob.id, b"\x30\x01\x00", "aa", T0, "cli"))
    async with store.begin(readonly=True) as tx:
        found = await tx.zero_access.get(bob.id)
        assert found == ZeroAccessRecord(bob.id, b"\x30\x01\x00", "aa", T0, "cli")
        assert await tx.zero_access.get(alice.id) is None
    async with store.begin() as tx:
        await tx.zero_access.put(ZeroAccessRecord(bob.id, b"\x30\x01\x01", "bb", T0, "admin"))
    async with store.begin() as tx:
        replaced = await tx.zero_access.get(bob.id)
        assert replaced is not None
        assert (replaced.fingerprint, replaced.certificate) == ("bb", b"\x30\x01\x01")
        assert await tx.zero_access.remove(bob.id) is True
        assert await tx.zero_access.remove(bob.id) is False
        assert await tx.zero_access.get(bob.id) is None


async def test_removing_the_user_removes_the_setting(
    store: Store, new_user: Callable[..., NewUser]
) -> None:
    async with store.begin() as tx:
        bob = await tx.users.add(new_user("bob@example.org"))
        await tx.zero_access.put(ZeroAccessRecord(bob.id, b"\x30\x00", "aa", T0, "cli"))
    async with store.begin() as tx:
        await tx.users.remove(bob.id)
    async with store.begin() as tx:
        assert await tx.zero_access.get(bob.id) is None
