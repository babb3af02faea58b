"""The trust store, imported CRLs, organisation facts and the audit trail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from postseal.errors import ConflictError, NotFoundError
from postseal.store.ports import ImportedCrlRecord, TrustKind, TrustRecord
from postseal.store.sql import SqlStore

ADDED = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def _trust(fingerprint_byte: str, kind: TrustKind, subject: str) -> TrustRecord:
    return TrustRecord(
        fingerprint=fingerprint_byte * 32,
        kind=kind,
        subject=subject,
        der=b"\x30\x82" + subject.encode(),
        added_at=ADDED,
    )


async def test_trust_add_get_list_remove(store: SqlStore) -> None:
    partner_root = _trust("aa", TrustKind.ROOT, "CN=Partner Root,O=Partner")
    partner_ca = _trust("bb", TrustKind.INTERMEDIATE, "CN=Partner Mail CA,O=Partner")
    bridge = _trust("cc", TrustKind.CROSS, "CN=Bridge,O=Federation")
    async with store.begin() as tx:
        for entry in (partner_root, partner_ca, bridge):
            await tx.trust.add(entry)
        assert await tx.trust.get("aa" * 32) == partner_root
        assert await tx.trust.get("dd" * 32) is None
        assert await tx.trust.list() == [bridge, partner_ca, partner_root]
        assert await tx.trust.list(kind=TrustKind.ROOT) == [partner_root]
        await tx.trust.remove("bb" * 32)
        assert await tx.trust.list() == [bridge, partner_root]


async def test_trust_duplicate_is_a_conflict_and_absent_removal_not_found(
    store: SqlStore,
) -> None:
    root = _trust("aa", TrustKind.ROOT, "CN=Partner Root")
    async with store.begin() as tx:
        await tx.trust.add(root)
        with pytest.raises(ConflictError, match=r"CN=Partner Root .* already in the trust store"):
            await tx.trust.add(root)
        with pytest.raises(NotFoundError, match="no trusted certificate"):
            await tx.trust.remove("ee" * 32)


def _imported(issuer: str, number: int | None, day: int = 1) -> ImportedCrlRecord:
    this_update = datetime(2026, 2, day, tzinfo=UTC)
    return ImportedCrlRecord(
        issuer=issuer,
        number=number,
        this_update=this_update,
        next_update=None if number is None else this_update + timedelta(days=7),
        der=f"crl {issuer} {number}".encode(),
    )


async def test_imported_crls_keep_one_per_issuer(store: SqlStore) -> None:
    async with store.begin() as tx:
        await tx.imported_crls.put(_imported("CN=Partner CA", 7))
        await tx.imported_crls.put(_imported("CN=Another CA", None))
        newer = _imported("CN=Partner CA", 8, day=2)
        await tx.imported_crls.put(newer)
        assert await tx.imported_crls.get("CN=Partner CA") == newer
        assert await tx.imported_crls.get("CN=Nobody") is None
        assert [c.issuer for c in await tx.imported_crls.list()] == [
            "CN=Another CA",
            "CN=Partner CA",
        ]
        assert (await tx.imported_crls.list())[0].number is None


async def test_imported_crl_numbers_of_twenty_octets_round_trip(store: SqlStore) -> None:
    huge = 2**159 - 1  # RFC 5280 §5.2.3 allows up to 20 octets
    async with store.begin() as tx:
        await tx.imported_crls.put(_imported("CN=Big Numbers CA", huge))
    async with store.begin() as tx:
        stored = await tx.imported_crls.get("CN=Big Numbers CA")
        assert stored is not None
        assert stored.number == huge


async def test_meta_get_set_all(store: SqlStore) -> None:
    async with store.begin() as tx:
        assert await tx.meta.get("org") is None
        assert await tx.meta.all() == {}
        await tx.meta.set("org", "Example AG")
        await tx.meta.set("domain", "example.org")
        await tx.meta.set("org", "Example Holding AG")
    async with store.begin() as tx:
        assert await tx.meta.get("org") == "Example Holding AG"
        assert await tx.meta.all() == {"domain": "example.org", "org": "Example Holding AG"}


async def test_audit_is_newest_first_with_a_limit(store: SqlStore) -> None:
    before = datetime.now(UTC)
    async with store.begin() as tx:
        assert await tx.audit.list() == []
        for n in range(5):
            await tx.audit.append(actor="admin", action="user.add", target=f"u{n}@example.org")
        await tx.audit.append(
            actor="cli", action="cert.revoke", target="0A", detail="reason=keyCompromise"
        )
    async with store.begin() as tx:
        entries = await tx.audit.list()
        newest_two = await tx.audit.list(limit=2)
        assert await tx.audit.list(limit=0) == []
        with pytest.raises(ValueError, match="must not be negative"):
            await tx.audit.list(limit=-1)
    assert [e.target for e in entries] == ["0A", *(f"u{n}@example.org" for n in range(4, -1, -1))]
    assert newest_two == entries[:2]
    assert entries[0].detail == "reason=keyCompromise"
    assert entries[1].detail == ""
    assert [e.id for e in entries] == sorted((e.id for e in entries), reverse=True)
    assert all(e.at.tzinfo is UTC and before <= e.at <= datetime.now(UTC) for e in entries)
