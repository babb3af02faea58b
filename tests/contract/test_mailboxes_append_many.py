"""``append_many`` (the queue runner's group commit, ADR 0016) gives what as many
``append`` calls give — UIDs, MODSEQs, flags, bodies, summaries — and an error changes
nothing; ``mark_delivered_many`` marks or refuses each recipient on its own."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from test_mailboxes import BOB, T0, _bob, _body, _new_box, _new_message

from postseal.errors import ConflictError, NotFoundError
from postseal.store.ports import MAX_UID, NewUser, QueuedMessage, SealedBody
from postseal.store.sql import SqlStore


async def test_append_many_numbers_and_stores_like_single_appends(
    store: SqlStore, new_user: Callable[..., NewUser]
) -> None:
    bob = await _bob(store, new_user)
    async with store.begin() as tx:
        one = await tx.mailboxes.create(_new_box(bob, "One", "01JBOXONE"))
        many = await tx.mailboxes.create(_new_box(bob, "Many", "01JBOXMANY"))
    messages = [
        _new_message("a", "\\seen"),
        replace(_new_message("b"), summary=SealedBody(b"S" * 60, b"summary b")),
        _new_message("c", "$Work", "\\flagged"),
    ]
    async with store.begin() as tx:
        await tx.mailboxes.append(one.id, _new_message("first"))
        await tx.mailboxes.append(many.id, _new_message("first"))
        singles = [await tx.mailboxes.append(one.id, m) for m in messages]
        batch = await tx.mailboxes.append_many(many.id, messages)
        assert await tx.mailboxes.append_many(many.id, []) == []
    assert [(m.uid, m.modseq, m.flags) for m in batch] == [
        (m.uid, m.modseq, m.flags) for m in singles
    ]
    async with store.begin() as tx:
        assert [m.uid for m in await tx.mailboxes.list_messages(many.id)] == [1, 2, 3, 4]
        assert await tx.mailboxes.body(many.id, 3) == _body("b")
        assert dict(await tx.mailboxes.summaries(many.id, [(1, MAX_UID)])) == {
            3: SealedBody(b"S" * 60, b"summary b")
        }
        status = await tx.mailboxes.status(many.id)
        assert status is not None and (status.uidnext, status.messages) == (5, 4)
        assert await tx.mailboxes.highest_modseq(many.id) == await tx.mailboxes.highest_modseq(
            one.id
        )


async def test_append_many_refusals_change_nothing(
    store: SqlStore, new_user: Callable[..., NewUser]
) -> None:
    bob = await _bob(store, new_user)
    async with store.begin() as tx:
        box = await tx.mailboxes.create(_new_box(bob))
    naive = replace(_new_message("n"), internal_date=datetime(2026, 1, 1))
    async with store.begin() as tx:
        with pytest.raises(ValueError, match="naive datetime"):
            await tx.mailboxes.append_many(box.id, [_new_message("ok"), naive])
        with pytest.raises(ValueError, match="white space"):
            await tx.mailboxes.append_many(box.id, [_new_message("ok", "bad flag")])
        with pytest.raises(NotFoundError):
            await tx.mailboxes.append_many("01JNOSUCHBOX", [_new_message("ok")])
        assert await tx.mailboxes.list_messages(box.id) == []
        status = await tx.mailboxes.status(box.id)
        assert status is not None and status.uidnext == 1


async def test_mark_delivered_many_marks_or_refuses_each_recipient(
    store: SqlStore, queued_message: Callable[..., QueuedMessage]
) -> None:
    async with store.begin() as tx:
        for n in range(4):
            await tx.queue.enqueue(queued_message(f"01JMD{n}"), _body(str(n)), [BOB])
        await tx.queue.claim_due(T0, owner="a", lease_seconds=60, limit=3)  # 01JMD0..2
    done = T0 + timedelta(seconds=5)
    async with store.begin() as tx:
        refused = await tx.queue.mark_delivered_many(
            [
                ("01JMD0", BOB.address),
                ("01JMD3", BOB.address),  # never claimed: leased to no runner
                ("01JMD1", BOB.address),
                ("01JNONE", BOB.address),
            ],
            owner="a",
            at=done,
        )
        with pytest.raises(ValueError, match="twice"):
            await tx.queue.mark_delivered_many(
                [("01JMD2", BOB.address), ("01JMD2", BOB.address)], owner="a", at=done
            )
    assert refused[0] is None and refused[2] is None
    assert isinstance(refused[1], ConflictError) and "leased to no runner" in str(refused[1])
    assert isinstance(refused[3], NotFoundError)
    async with store.begin() as tx:
        states = {
            e.message.id: (e.recipients[0].status.value, e.recipients[0].finished_at)
            for e in await tx.queue.list()
        }
        again = await tx.queue.mark_delivered_many([("01JMD0", BOB.address)], owner="a", at=done)
    assert states == {
        "01JMD0": ("delivered", done),
        "01JMD1": ("delivered", done),
        "01JMD2": ("pending", None),
        "01JMD3": ("pending", None),
    }
    assert isinstance(again[0], ConflictError) and "delivered already" in str(again[0])
