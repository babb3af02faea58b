"""Contacts: upsert by (address, fingerprint), ordering, removal (both databases)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from postseal.store.ports import ContactRecord, Store

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def _contact(
    address: str, fingerprint: str, *, days: int, caps: tuple[str, ...] | None
) -> ContactRecord:
    return ContactRecord(
        address=address,
        fingerprint=fingerprint,
        der=b"\x30\x03\x02\x01\x01",
        capabilities=caps,
        source="harvested",
        not_after=T0 + timedelta(days=days),
        updated_at=T0,
    )


async def test_put_list_replace_remove(store: Store) -> None:
    async with store.begin() as tx:
        await tx.contacts.put(_contact("bob@partner.example", "aa", days=10, caps=None))
        await tx.contacts.put(_contact("bob@partner.example", "bb", days=400, caps=("aes256-gcm",)))
        await tx.contacts.put(_contact("ann@partner.example", "cc", days=30, caps=()))
    async with store.begin() as tx:
        everyone = await tx.contacts.list()
        bob = await tx.contacts.list(address="bob@partner.example")
    assert [c.address for c in everyone] == [
        "ann@partner.example",
        "bob@partner.example",
        "bob@partner.example",
    ]
    assert [c.fingerprint for c in bob] == ["bb", "aa"]
    assert bob[0].capabilities == ("aes256-gcm",)
    assert bob[1].capabilities is None
    assert everyone[0].capabilities == ()
    async with store.begin() as tx:
        await tx.contacts.put(_contact("bob@partner.example", "aa", days=10, caps=("aes128-cbc",)))
    async with store.begin() as tx:
        again = await tx.contacts.list(address="bob@partner.example")
        assert [c.capabilities for c in again] == [("aes256-gcm",), ("aes128-cbc",)]
        assert await tx.contacts.remove("bob@partner.example") == 2
        assert await tx.contacts.remove("bob@partner.example") == 0
        assert [c.address for c in await tx.contacts.list()] == ["ann@partner.example"]
