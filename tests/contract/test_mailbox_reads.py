"""The mailbox read path (``Store.reads``, ADR 0017) on both databases: every read gives
what the repository gives, sees every commit made before it, and waits for no writer."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from test_mailboxes import T0, _bob, _new_message

from postseal.errors import NotFoundError
from postseal.store.ports import (
    MAX_UID,
    Mailbox,
    NewMailbox,
    NewStoredMessage,
    NewUser,
    SealedBody,
    SpecialUse,
    UidSet,
)
from postseal.store.sql import SqlStore, open_store

ALL = [(1, MAX_UID)]
MANY = [(n, n) for n in range(1, 41, 2)]  # more ranges than one statement takes
UID_SETS: list[UidSet | None] = [
    None,
    ALL,
    [],
    [(7, 5), (38, MAX_UID), (6, 6), (100, 200)],
    MANY,
    [(3, 3)],
]


async def _mailbox(store: SqlStore, new_user: Callable[..., NewUser]) -> tuple[int, Mailbox]:
    """Bob's INBOX with 40 messages (keywords, a Message-ID hash, summaries on some),
    flag changes and expunged UIDs (tombstones); also a shared mailbox and his Sent."""
    bob = await _bob(store, new_user)
    async with store.begin() as tx:
        inbox = await tx.mailboxes.create(NewMailbox("01JBOXREADS", bob.id, "INBOX", b"w", T0))
        await tx.mailboxes.create(
            NewMailbox("01JBOXSENT", bob.id, "Sent", b"w", T0, special_use=SpecialUse.SENT)
        )
        await tx.mailboxes.create(NewMailbox("01JBOXSHARED", None, "News", b"w", T0))
        for n in range(40):
            message = _new_message(f"m{n}", *(("\\Seen", "$Label1") if n % 3 else ()))
            if n % 5 == 0:
                message = NewStoredMessage(
                    message.email_id, message.internal_date, message.size, message.body,
                    message.flags, message_id_hash=f"hash{n}",
                )  # fmt: skip
            await tx.mailboxes.append(inbox.id, message)
        for uid in range(1, 41, 4):
            await tx.mailboxes.put_summary(inbox.id, uid, SealedBody(b"sk%d" % uid, b"s%d" % uid))
        await tx.mailboxes.set_flags(inbox.id, [(10, 12), (30, 30)], add=["\\Deleted"])
        await tx.mailboxes.expunge(inbox.id)
        await tx.mailboxes.set_flags(inbox.id, [(20, 25)], add=["\\Flagged"])
    return bob.id, inbox


async def test_every_read_gives_what_the_repository_gives(
    store: SqlStore, new_user: Callable[..., NewUser]
) -> None:
    bob, inbox = await _mailbox(store, new_user)
    reads = store.reads
    async with store.begin(readonly=True) as tx:
        repo = tx.mailboxes
        for owner, name in ((bob, "INBOX"), (bob, "inbox"), (bob, "Sent"), (None, "News")):
            assert await reads.find(owner, name) == await repo.find(owner, name)
        for owner, name in ((bob, "News"), (None, "INBOX"), (bob, "a//b"), (bob, "")):
            assert await reads.find(owner, name) is None
        highest = await repo.highest_modseq(inbox.id)
        assert await reads.highest_modseq(inbox.id) == highest
        assert await reads.highest_modseq("01JNONE") is None
        listing = await reads.listing(inbox.id)
        assert listing is not None
        assert listing.mailbox == await repo.get(inbox.id)
        assert listing.messages == tuple(await repo.messages(inbox.id))
        assert len(listing.messages) == 36
        assert await reads.listing("01JNONE") is None
        for uids in UID_SETS:
            assert list(await reads.messages(inbox.id, uids)) == list(
                await repo.messages(inbox.id, uids)
            )
            if uids is not None:
                assert await reads.summaries(inbox.id, uids) == await repo.summaries(inbox.id, uids)
        assert await reads.messages("01JNONE") == []
        for uid in (1, 2, 11, 40, 41):
            assert await reads.body(inbox.id, uid) == await repo.body(inbox.id, uid)
        for modseq in (0, 1, 20, highest - 1, highest):
            assert await reads.changes_since(inbox.id, modseq) == await repo.changes_since(
                inbox.id, modseq
            )
    with pytest.raises(ValueError, match="positive integer"):
        await reads.messages(inbox.id, [(0, 3)])
    with pytest.raises(ValueError, match="positive integer"):
        await reads.summaries(inbox.id, [(2, -1)])
    with pytest.raises(NotFoundError, match="no mailbox"):
        await reads.changes_since("01JNONE", 0)


async def test_a_body_larger_than_a_point_read_comes_whole(
    store: SqlStore, new_user: Callable[..., NewUser]
) -> None:
    bob = await _bob(store, new_user)
    large = SealedBody(b"K" * 64, bytes(range(256)) * 1024)  # 256 KiB: a worker thread reads it
    async with store.begin() as tx:
        box = await tx.mailboxes.create(NewMailbox("01JBOXBIG", bob.id, "INBOX", b"w", T0))
        await tx.mailboxes.append(
            box.id, NewStoredMessage("01JMSGBIG", T0, len(large.ciphertext), large)
        )
    assert await store.reads.body(box.id, 1) == large


async def test_reads_see_every_commit_made_before_them(
    url: str, store: SqlStore, new_user: Callable[..., NewUser]
) -> None:
    _, inbox = await _mailbox(store, new_user)
    before = await store.reads.listing(inbox.id)
    assert before is not None
    async with store.begin() as tx:
        await tx.mailboxes.append(inbox.id, _new_message("late"))
    assert await store.reads.highest_modseq(inbox.id) == before.mailbox.highestmodseq + 1
    other = await open_store(url)  # another process
    try:
        async with other.begin() as tx:
            await tx.mailboxes.set_flags(inbox.id, [(1, 1)], add=["\\Answered"])
            await tx.mailboxes.set_flags(inbox.id, [(2, 2)], add=["\\Deleted"])
            await tx.mailboxes.expunge(inbox.id)
    finally:
        await other.close()
    after = await store.reads.listing(inbox.id)
    assert after is not None
    assert after.mailbox.highestmodseq == before.mailbox.highestmodseq + 4
    assert after.mailbox.uidnext == before.mailbox.uidnext + 1
    assert [m.uid for m in after.messages][-1] == 41
    assert "\\Answered" in after.messages[0].flags
    assert await store.reads.body(inbox.id, 2) is None
    changes = await store.reads.changes_since(inbox.id, before.mailbox.highestmodseq)
    assert [m.uid for m in changes.changed] == [1, 41]
    assert changes.vanished == (2,)


async def test_reads_do_not_wait_for_an_open_writer(
    store: SqlStore, new_user: Callable[..., NewUser]
) -> None:
    _, inbox = await _mailbox(store, new_user)
    highest = await store.reads.highest_modseq(inbox.id)
    async with store.begin() as writer:  # holds SQLite's write lock until the block ends
        await writer.mailboxes.append(inbox.id, _new_message("pending"))
        reads = store.reads
        found = await asyncio.wait_for(
            asyncio.gather(
                reads.highest_modseq(inbox.id),
                reads.listing(inbox.id),
                reads.body(inbox.id, 1),
                reads.changes_since(inbox.id, 0),
            ),
            timeout=2.0,
        )
        assert found[0] == highest  # the uncommitted append is not seen
        assert found[1] is not None and found[1].mailbox.highestmodseq == highest
        assert found[2] is not None
    assert await reads.highest_modseq(inbox.id) == (highest or 0) + 1


async def test_concurrent_reads_each_get_their_own_answer(
    store: SqlStore, new_user: Callable[..., NewUser]
) -> None:
    _, inbox = await _mailbox(store, new_user)
    reads = store.reads
    async with store.begin(readonly=True) as tx:
        bodies = {uid: await tx.mailboxes.body(inbox.id, uid) for uid in range(1, 41)}
        listed = tuple(await tx.mailboxes.messages(inbox.id))
    bodies_read, listings, singles = await asyncio.gather(
        asyncio.gather(*(reads.body(inbox.id, uid) for uid in range(1, 41))),
        asyncio.gather(*(reads.listing(inbox.id) for _ in range(8))),
        asyncio.gather(*(reads.messages(inbox.id, [(uid, uid)]) for uid in range(1, 41))),
    )
    assert bodies_read == [bodies[uid] for uid in range(1, 41)]
    assert all(found is not None and found.messages == listed for found in listings)
    assert [list(found) for found in singles] == [
        [m for m in listed if m.uid == uid] for uid in range(1, 41)
    ]
