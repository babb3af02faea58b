"""The quarantine: held messages with their sealed copies, released or deleted once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from postseal.errors import ConflictError, NotFoundError
from postseal.store.ports import QuarantineEntry, SealedBody
from postseal.store.sql import SqlStore

T0 = datetime(2026, 1, 15, 9, 30, 0, 123456, tzinfo=UTC)
BODY = SealedBody(wrapped_key=b"K" * 64, ciphertext=b"\x00sealed\xff")


def _entry(entry_id: str, **changes: object) -> QuarantineEntry:
    values: dict[str, object] = {
        "id": entry_id,
        "mail_from": "mallory@bad.test",
        "recipients": ("bob@example.org", "carol@example.org"),
        "reason": "infected: Eicar-Test-Signature",
        "signature": "Eicar-Test-Signature",
        "size": 68,
        "created_at": T0,
    }
    values.update(changes)
    return QuarantineEntry(**values)  # type: ignore[arg-type]


async def test_an_added_entry_reads_back_with_its_sealed_copy(store: SqlStore) -> None:
    held = _entry("01JQA")
    unscannable = _entry(
        "01JQB", reason="encrypted, cannot scan", signature=None, queue_message_id="01JQUEUED"
    )
    async with store.begin() as tx:
        await tx.quarantine.add(held, BODY)
        await tx.quarantine.add(unscannable, SealedBody(b"k", b"c"))
    async with store.begin() as tx:
        assert await tx.quarantine.get("01JQA") == held
        assert await tx.quarantine.body("01JQA") == BODY
        assert await tx.quarantine.list() == [held, unscannable]
        assert await tx.quarantine.list(limit=1) == [held]
        assert await tx.quarantine.get("01JNONE") is None
        assert await tx.quarantine.body("01JNONE") is None


async def test_bad_entries_are_refused_and_change_nothing(store: SqlStore) -> None:
    async with store.begin() as tx:
        await tx.quarantine.add(_entry("01JQA"), BODY)
        with pytest.raises(ConflictError, match="a quarantine entry with id 01JQA already exists"):
            await tx.quarantine.add(_entry("01JQA", reason="again"), BODY)
        with pytest.raises(ValueError, match="has no recipient"):
            await tx.quarantine.add(_entry("01JQB", recipients=()), BODY)
        with pytest.raises(ValueError, match="malformed recipient"):
            await tx.quarantine.add(_entry("01JQC", recipients=("a@x\r\nb@y",)), BODY)
    async with store.begin() as tx:
        assert [e.id for e in await tx.quarantine.list()] == ["01JQA"]
        stored = await tx.quarantine.get("01JQA")
        assert stored is not None
        assert stored.reason == "infected: Eicar-Test-Signature"


async def test_release_happens_once_and_filters_the_list(store: SqlStore) -> None:
    at = T0 + timedelta(hours=1)
    async with store.begin() as tx:
        await tx.quarantine.add(_entry("01JQA"), BODY)
        await tx.quarantine.add(_entry("01JQB"), BODY)
        released = await tx.quarantine.release("01JQA", at=at)
        assert released == _entry("01JQA", released_at=at)
        with pytest.raises(ConflictError) as caught:
            await tx.quarantine.release("01JQA", at=at + timedelta(hours=1))
        assert caught.value.message == (
            "quarantine entry 01JQA was released already, at 2026-01-15 10:30:00 UTC"
        )
        with pytest.raises(NotFoundError, match="there is no quarantine entry 01JNONE"):
            await tx.quarantine.release("01JNONE", at=at)
    async with store.begin() as tx:
        assert [e.id for e in await tx.quarantine.list(released=True)] == ["01JQA"]
        assert [e.id for e in await tx.quarantine.list(released=False)] == ["01JQB"]
        entry = await tx.quarantine.get("01JQA")
        assert entry is not None
        assert entry.released_at == at


async def test_delete_removes_the_entry_and_its_copy(store: SqlStore) -> None:
    async with store.begin() as tx:
        await tx.quarantine.add(_entry("01JQA"), BODY)
    async with store.begin() as tx:
        await tx.quarantine.delete("01JQA")
        with pytest.raises(NotFoundError) as caught:
            await tx.quarantine.delete("01JQA")
        assert caught.value.hint == "`postseal quarantine list` shows the entries"
        assert await tx.quarantine.get("01JQA") is None
        assert await tx.quarantine.body("01JQA") is None
