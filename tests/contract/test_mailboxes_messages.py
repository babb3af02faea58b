"""Messages in mailboxes: UID sets, flags and MODSEQ (CONDSTORE), expunge with
tombstones, COPY and MOVE, summaries, change notification."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import asyncpg
import pytest
from sqlalchemy.engine import make_url
from test_mailboxes import T0, _bob, _body, _new_message

from postseal.errors import NotFoundError
from postseal.store.ports import (
    MAX_UID,
    FlagChange,
    Mailbox,
    MessageKeys,
    NewMailbox,
    NewStoredMessage,
    NewUser,
    SealedBody,
)
from postseal.store.sql import SqlStore, open_store

ALL = [(1, MAX_UID)]


def _rewrap(keys: list[MessageKeys], target: str) -> dict[int, bytes]:
    """What the service does with ``sealing.rewrap``, in a form a test can check."""
    return {k.uid: k.body + b">" + target.encode() for k in keys}


async def _boxes(
    store: SqlStore, new_user: Callable[..., NewUser], *names: str, messages: int = 0
) -> list[Mailbox]:
    bob = await _bob(store, new_user)
    async with store.begin() as tx:
        boxes = [
            await tx.mailboxes.create(NewMailbox(f"01JBOX{n}", bob.id, n, b"k", T0)) for n in names
        ]
        for n in range(messages):
            await tx.mailboxes.append(boxes[0].id, _new_message(f"m{n}"))
    return boxes


async def test_uid_sets_select_by_ranges_in_any_order(
    store: SqlStore, new_user: Callable[..., NewUser]
) -> None:
    (box,) = await _boxes(store, new_user, "INBOX", messages=40)
    async with store.begin() as tx:
        many = [(n, n) for n in range(1, 41, 2)]  # more ranges than one condition holds
        assert [m.uid for m in await tx.mailboxes.messages(box.id, many)] == list(range(1, 41, 2))
        picked = await tx.mailboxes.messages(box.id, [(7, 5), (38, MAX_UID), (6, 6), (100, 200)])
        assert [m.uid for m in picked] == [5, 6, 7, 38, 39, 40]
        assert len(await tx.mailboxes.messages(box.id)) == 40
        assert await tx.mailboxes.messages(box.id, []) == []
        assert await tx.mailboxes.messages("01JNONE") == []
        with pytest.raises(ValueError, match="positive integer"):
            await tx.mailboxes.messages(box.id, [(0, 3)])


async def test_set_flags_adds_removes_replaces_with_one_new_modseq_per_change(
    store: SqlStore, new_user: Callable[..., NewUser]
) -> None:
    (box,) = await _boxes(store, new_user, "INBOX", messages=3)  # modseqs 2, 3, 4
    async with store.begin() as tx:
        added = await tx.mailboxes.set_flags(box.id, ALL, add=["\\seen", "$Work"])
        assert added.changed == tuple(FlagChange(u, ("$Work", "\\Seen"), 5) for u in (1, 2, 3))
        assert added.failed_modified == ()
        removed = await tx.mailboxes.set_flags(box.id, [(2, 3)], remove=["$Work"])
        assert [(c.uid, c.flags, c.modseq) for c in removed.changed] == [
            (2, ("\\Seen",), 6),
            (3, ("\\Seen",), 6),
        ]
        nothing = await tx.mailboxes.set_flags(box.id, [(2, 3)], remove=["$Work"])
        assert nothing.changed == ()
        assert await tx.mailboxes.highest_modseq(box.id) == 6  # a no-op takes no MODSEQ
        replaced = await tx.mailboxes.set_flags(box.id, [(1, 1), (99, 99)], replace=["\\Flagged"])
        assert replaced.changed == (FlagChange(1, ("\\Flagged",), 7),)
        with pytest.raises(ValueError, match="either flags to replace"):
            await tx.mailboxes.set_flags(box.id, ALL, add=["a"], replace=[])
        with pytest.raises(ValueError, match="white space"):
            await tx.mailboxes.set_flags(box.id, ALL, add=["two words"])
        with pytest.raises(NotFoundError):
            await tx.mailboxes.set_flags("01JNONE", ALL, add=["a"])
        stored = await tx.mailboxes.messages(box.id)
        assert [(m.flags, m.modseq) for m in stored] == [
            (("\\Flagged",), 7),
            (("\\Seen",), 6),
            (("\\Seen",), 6),
        ]


async def test_unchanged_since_reports_messages_changed_meanwhile(
    store: SqlStore, new_user: Callable[..., NewUser]
) -> None:
    (box,) = await _boxes(store, new_user, "INBOX", messages=3)  # modseqs 2, 3, 4
    async with store.begin() as tx:
        await tx.mailboxes.set_flags(box.id, [(2, 2)], add=["\\Answered"])  # uid 2 → 5
        result = await tx.mailboxes.set_flags(box.id, ALL, add=["\\Seen"], unchanged_since=4)
        assert [c.uid for c in result.changed] == [1, 3]
        assert result.failed_modified == (2,)
        zero = await tx.mailboxes.set_flags(box.id, ALL, add=["$X"], unchanged_since=0)
        assert (zero.changed, zero.failed_modified) == ((), (1, 2, 3))


async def test_expunge_removes_only_deleted_messages_and_leaves_tombstones(
    store: SqlStore, new_user: Callable[..., NewUser]
) -> None:
    (box,) = await _boxes(store, new_user, "INBOX", messages=6)  # highest 7
    async with store.begin() as tx:
        await tx.mailboxes.set_flags(box.id, [(2, 2), (4, 5)], add=["\\Deleted"])  # 8
        assert await tx.mailboxes.expunge(box.id, [(1, 4)]) == [2, 4]  # UID EXPUNGE: 9
        assert await tx.mailboxes.expunge(box.id) == [5]  # 10
        assert await tx.mailboxes.expunge(box.id) == []
        assert await tx.mailboxes.highest_modseq(box.id) == 10
        assert [m.uid for m in await tx.mailboxes.messages(box.id)] == [1, 3, 6]
        await tx.mailboxes.set_flags(box.id, [(6, 6)], add=["\\Seen"])  # 11
        await tx.mailboxes.append(box.id, _new_message("new"))  # uid 7, 12

        since = await tx.mailboxes.changes_since(box.id, 8)
        assert since.highestmodseq == 12
        assert [(m.uid, m.modseq) for m in since.changed] == [(6, 11), (7, 12)]
        assert since.vanished == (2, 4, 5)
        assert (await tx.mailboxes.changes_since(box.id, 9)).vanished == (5,)
        limited = await tx.mailboxes.changes_since(box.id, 0, [(3, 4)])
        assert ([m.uid for m in limited.changed], limited.vanished) == ([3], (4,))
        assert (await tx.mailboxes.changes_since(box.id, 12)).changed == ()
        with pytest.raises(NotFoundError):
            await tx.mailboxes.expunge("01JNONE")
        with pytest.raises(NotFoundError):
            await tx.mailboxes.changes_since("01JNONE", 1)


async def test_copy_keeps_order_flags_dates_and_email_ids_with_new_uids(
    store: SqlStore, new_user: Callable[..., NewUser]
) -> None:
    src, dst = await _boxes(store, new_user, "INBOX", "Archive")
    async with store.begin() as tx:
        await tx.mailboxes.append(dst.id, _new_message("old"))  # dst uid 1
        for tag, flags in (("a", ("\\Seen",)), ("b", ()), ("c", ("$Work", "\\Flagged"))):
            summary = SealedBody(b"S" * 60, b"summary " + tag.encode())
            message = NewStoredMessage(
                f"01JMSG{tag}", T0, 100, _body(tag), flags, "hash-" + tag, summary
            )
            await tx.mailboxes.append(src.id, message)
        keys = list(await tx.mailboxes.message_keys(src.id, [(2, 3)]))
        assert [(k.uid, k.email_id, k.summary) for k in keys] == [
            (2, "01JMSGb", b"S" * 60),
            (3, "01JMSGc", b"S" * 60),
        ]
        rewrapped = _rewrap(keys, dst.id)
        pairs = await tx.mailboxes.copy(
            src.id, [(3, 2)], dst.id, rewrapped, summaries={3: b"T" * 60}
        )
        assert pairs == [(2, 2), (3, 3)]
        with pytest.raises(ValueError, match="no re-wrapped key for UID 1"):
            await tx.mailboxes.copy(src.id, ALL, dst.id, rewrapped)
        assert await tx.mailboxes.copy(src.id, [(50, 60)], dst.id, {}) == []
        with pytest.raises(NotFoundError):
            await tx.mailboxes.copy(src.id, ALL, "01JNONE", rewrapped)

    async with store.begin() as tx:
        originals = {m.uid: m for m in await tx.mailboxes.messages(src.id)}
        copies = await tx.mailboxes.messages(dst.id, [(2, 3)])
        for (old, _), copied in zip(pairs, copies, strict=True):
            source = originals[old]
            assert (copied.email_id, copied.flags, copied.internal_date, copied.size) == (
                source.email_id,
                source.flags,
                source.internal_date,
                source.size,
            )
            assert copied.message_id_hash == source.message_id_hash
            assert copied.modseq == 3  # one new MODSEQ of the target for the whole copy
            body = await tx.mailboxes.body(dst.id, copied.uid)
            assert body == SealedBody(rewrapped[old], _body(source.email_id[6:]).ciphertext)
        assert len(originals) == 3  # the source is intact
        assert await tx.mailboxes.summaries(dst.id, ALL) == {3: SealedBody(b"T" * 60, b"summary c")}
        status = await tx.mailboxes.status(dst.id)
        assert status is not None
        assert (status.messages, status.uidnext) == (3, 4)


async def test_move_copies_and_expunges_in_one_transaction(
    store: SqlStore, new_user: Callable[..., NewUser]
) -> None:
    src, dst = await _boxes(store, new_user, "INBOX", "Trash", messages=4)  # src highest 5
    async with store.begin() as tx:
        keys = list(await tx.mailboxes.message_keys(src.id, [(2, 3)]))
        pairs = await tx.mailboxes.move(src.id, [(2, 3)], dst.id, _rewrap(keys, dst.id))
        assert pairs == [(2, 1), (3, 2)]
        assert [m.uid for m in await tx.mailboxes.messages(src.id)] == [1, 4]
        assert (await tx.mailboxes.changes_since(src.id, 5)).vanished == (2, 3)
        assert [m.email_id for m in await tx.mailboxes.messages(dst.id)] == [
            "01JMSGm1",
            "01JMSGm2",
        ]

    class _Boom(Exception):
        pass

    async def move_then_fail() -> None:
        async with store.begin() as tx:
            keys = list(await tx.mailboxes.message_keys(src.id, ALL))
            await tx.mailboxes.move(src.id, ALL, dst.id, _rewrap(keys, dst.id))
            raise _Boom

    with pytest.raises(_Boom):
        await move_then_fail()
    async with store.begin() as tx:
        assert [m.uid for m in await tx.mailboxes.messages(src.id)] == [1, 4]
        assert len(await tx.mailboxes.messages(dst.id)) == 2


async def test_summaries_are_stored_replaced_and_read_in_one_query(
    store: SqlStore, new_user: Callable[..., NewUser]
) -> None:
    (box,) = await _boxes(store, new_user, "INBOX", messages=3)
    async with store.begin() as tx:
        assert await tx.mailboxes.summaries(box.id, ALL) == {}
        await tx.mailboxes.put_summary(box.id, 1, SealedBody(b"k1", b"s1"))
        await tx.mailboxes.put_summary(box.id, 3, SealedBody(b"k3", b"s3"))
        await tx.mailboxes.put_summary(box.id, 3, SealedBody(b"k3'", b"s3'"))
        assert await tx.mailboxes.highest_modseq(box.id) == 4  # a summary is no change
        with pytest.raises(NotFoundError, match="no message with UID 9"):
            await tx.mailboxes.put_summary(box.id, 9, SealedBody(b"k", b"s"))
        assert await tx.mailboxes.summaries(box.id, [(2, 3)]) == {3: SealedBody(b"k3'", b"s3'")}
        await tx.mailboxes.set_flags(box.id, [(3, 3)], add=["\\Deleted"])
        await tx.mailboxes.expunge(box.id)
        assert await tx.mailboxes.summaries(box.id, ALL) == {1: SealedBody(b"k1", b"s1")}


async def _add_flags(on: SqlStore, box_id: str, tag: str, count: int) -> list[int]:
    modseqs = []
    for n in range(count):
        async with on.begin() as tx:
            result = await tx.mailboxes.set_flags(box_id, [(1, 2)], add=[f"${tag}{n}"])
            modseqs.append(result.changed[0].modseq)
        await asyncio.sleep(0)
    return modseqs


async def test_concurrent_set_flags_from_two_stores_lose_no_update(
    url: str, store: SqlStore, new_user: Callable[..., NewUser]
) -> None:
    (box,) = await _boxes(store, new_user, "INBOX", messages=2)  # highest 3
    other = await open_store(url)
    try:
        results = await asyncio.gather(
            _add_flags(store, box.id, "a", 8),
            _add_flags(other, box.id, "b", 8),
            _add_flags(store, box.id, "c", 8),
            _add_flags(other, box.id, "d", 8),
        )
    finally:
        await other.close()
    modseqs = [m for r in results for m in r]
    assert sorted(modseqs) == list(range(4, 36))  # distinct, gap-free
    async with store.begin() as tx:
        for message in await tx.mailboxes.messages(box.id):
            assert len(message.flags) == 32
            assert message.modseq == 35
        assert await tx.mailboxes.highest_modseq(box.id) == 35


async def test_ten_thousand_messages_are_listed_in_one_query(
    store: SqlStore, new_user: Callable[..., NewUser]
) -> None:
    from sqlalchemy import event

    (box,) = await _boxes(store, new_user, "INBOX", messages=10)
    async with store.begin() as tx:  # doubling by COPY into the same mailbox: 10 · 2^10
        while (count := len(await tx.mailboxes.messages(box.id))) < 10_000:
            keys = dict.fromkeys(range(1, count + 1), b"k")
            await tx.mailboxes.copy(box.id, ALL, box.id, keys)
    statements: list[str] = []

    def count_statement(*args: object) -> None:
        statements.append(str(args[2]))

    engine = store._engine.sync_engine  # counting statements needs the engine
    event.listen(engine, "before_cursor_execute", count_statement)
    try:
        async with store.begin() as tx:
            start = asyncio.get_running_loop().time()
            listed = await tx.mailboxes.messages(box.id, ALL)
            elapsed = asyncio.get_running_loop().time() - start
    finally:
        event.remove(engine, "before_cursor_execute", count_statement)
    assert len(listed) == 10_240
    assert [m.uid for m in listed] == list(range(1, 10_241))
    assert len([s for s in statements if "mailbox_messages" in s]) == 1
    if store.dialect == "sqlite":
        assert elapsed < 1.0


@pytest.mark.postgres
async def test_postgresql_notifies_listeners_of_every_change_at_commit(
    pg_database: str, new_user: Callable[..., NewUser]
) -> None:
    store = await open_store(pg_database, migrate=True)
    parsed = make_url(pg_database)
    listener = await asyncpg.connect(
        host=parsed.host, port=parsed.port, user=parsed.username, database=parsed.database
    )
    heard: asyncio.Queue[str] = asyncio.Queue()
    await listener.add_listener("postseal_mailbox", lambda *args: heard.put_nowait(args[3]))
    try:
        (box,) = await _boxes(store, new_user, "INBOX", messages=1)
        assert await asyncio.wait_for(heard.get(), 5) == box.id
        async with store.begin() as tx:
            await tx.mailboxes.set_flags(box.id, ALL, add=["\\Deleted"])
            await asyncio.sleep(0.2)
            assert heard.empty()  # nothing before the commit
            await tx.mailboxes.expunge(box.id)
        assert await asyncio.wait_for(heard.get(), 5) == box.id
        await asyncio.sleep(0.2)
        assert heard.empty()  # one notification per transaction and mailbox
    finally:
        await listener.close()
        await store.close()
