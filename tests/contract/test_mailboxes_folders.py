"""Mailboxes as folders: names, INBOX, special use, rename, delete, status, subscriptions,
shared mailboxes and their rights, quotas."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from test_mailboxes import T0, _body, _new_message

from postseal.errors import ConflictError, NotFoundError
from postseal.store.ports import (
    ALL_RIGHTS,
    ANYONE,
    MAX_UID,
    Mailbox,
    MailboxStatus,
    NewMailbox,
    NewUser,
    Quota,
    SpecialUse,
    Transaction,
    Usage,
    UserRecord,
)
from postseal.store.sql import SqlStore

ALL = [(1, MAX_UID)]


async def _users(
    store: SqlStore, new_user: Callable[..., NewUser], *names: str
) -> list[UserRecord]:
    async with store.begin() as tx:
        return [await tx.users.add(new_user(f"{name}@example.org")) for name in names]


async def _box(
    tx: Transaction,
    owner: int | None,
    name: str,
    *,
    special_use: SpecialUse | None = None,
) -> Mailbox:
    box_id = f"01JBOX{owner}{name.replace('/', '-')}"
    return await tx.mailboxes.create(
        NewMailbox(box_id, owner, name, b"wrapped", T0, special_use=special_use)
    )


async def test_inbox_is_case_insensitive_and_cannot_be_deleted_or_renamed(
    store: SqlStore, new_user: Callable[..., NewUser]
) -> None:
    (bob,) = await _users(store, new_user, "bob")
    async with store.begin() as tx:
        inbox = await _box(tx, bob.id, "inbox")
        child = await _box(tx, bob.id, "Inbox/Receipts")
        assert (inbox.name, child.name) == ("INBOX", "INBOX/Receipts")
        assert await tx.mailboxes.find(bob.id, "iNbOx") == inbox
        assert await tx.mailboxes.find(bob.id, "inbox/Receipts") == child
        with pytest.raises(ConflictError, match="already has a mailbox named INBOX"):
            await _box(tx, bob.id, "INBOX")
        with pytest.raises(ConflictError, match="INBOX cannot be deleted"):
            await tx.mailboxes.delete(inbox.id)
        with pytest.raises(ConflictError, match="INBOX cannot be renamed") as caught:
            await tx.mailboxes.rename(inbox.id, "Old")
        assert caught.value.hint is not None
        assert "move" in caught.value.hint
        other = await _box(tx, bob.id, "Other")
        with pytest.raises(ConflictError, match="INBOX cannot be renamed"):
            await tx.mailboxes.rename(other.id, "inbox")
        for bad in ("", "a//b", "/a", "a/", "tab\there"):
            with pytest.raises(ValueError, match="mailbox name"):
                await _box(tx, bob.id, bad)
            assert await tx.mailboxes.find(bob.id, bad) is None
        assert [m.name for m in await tx.mailboxes.list(bob.id)] == [
            "INBOX",
            "INBOX/Receipts",
            "Other",
        ]


async def test_special_use_is_kept_and_can_change(
    store: SqlStore, new_user: Callable[..., NewUser]
) -> None:
    (bob,) = await _users(store, new_user, "bob")
    async with store.begin() as tx:
        sent = await _box(tx, bob.id, "Sent", special_use=SpecialUse.SENT)
        plain = await _box(tx, bob.id, "Projects")
        assert (sent.special_use, plain.special_use) == (SpecialUse.SENT, None)
        trash = await tx.mailboxes.set_special_use(plain.id, SpecialUse.TRASH)
        assert trash.special_use is SpecialUse.TRASH
        assert (await tx.mailboxes.set_special_use(sent.id, None)).special_use is None
        with pytest.raises(NotFoundError):
            await tx.mailboxes.set_special_use("01JNONE", SpecialUse.JUNK)
    async with store.begin() as tx:
        found = await tx.mailboxes.get(plain.id)
        assert found is not None
        assert found.special_use is SpecialUse.TRASH


async def test_rename_moves_children_and_subscriptions_keeping_ids_and_uidvalidity(
    store: SqlStore, new_user: Callable[..., NewUser]
) -> None:
    bob, carol = await _users(store, new_user, "bob", "carol")
    async with store.begin() as tx:
        a = await _box(tx, bob.id, "a")
        ab = await _box(tx, bob.id, "a/b")
        abc = await _box(tx, bob.id, "a/b/c")
        ax = await _box(tx, bob.id, "ax")  # a prefix, not a child
        carols = await _box(tx, carol.id, "b")  # another owner's name does not clash
        await tx.mailboxes.append(ab.id, _new_message("m"))
        for name in ("a", "a/b", "ax", "a/gone"):
            await tx.mailboxes.subscribe(bob.id, name)
        renamed = await tx.mailboxes.rename(a.id, "b")
    assert (renamed.id, renamed.name, renamed.uidvalidity) == (a.id, "b", a.uidvalidity)
    async with store.begin() as tx:
        names = {m.id: m.name for m in await tx.mailboxes.list(bob.id)}
        assert names == {a.id: "b", ab.id: "b/b", abc.id: "b/b/c", ax.id: "ax"}
        moved = await tx.mailboxes.get(ab.id)
        assert moved is not None
        assert (moved.uidvalidity, moved.uidnext) == (ab.uidvalidity, 2)
        assert [m.email_id for m in await tx.mailboxes.messages(ab.id)] == ["01JMSGm"]
        assert await tx.mailboxes.subscriptions(bob.id) == ["ax", "b", "b/b", "b/gone"]
        assert await tx.mailboxes.get(carols.id) == carols
        # Back down a level: "b/b" → "b" would collide with "b" itself.
        with pytest.raises(ConflictError, match="already has a mailbox named b"):
            await tx.mailboxes.rename(ab.id, "b")
        with pytest.raises(ConflictError, match="already has a mailbox named ax"):
            await tx.mailboxes.rename(abc.id, "ax")
        with pytest.raises(ConflictError, match="below it"):
            await tx.mailboxes.rename(a.id, "b/b/x")
        with pytest.raises(NotFoundError):
            await tx.mailboxes.rename("01JNONE", "x")
        # A child may become a top-level name, and its own children follow it.
        top = await tx.mailboxes.rename(ab.id, "top")
        assert top.name == "top"
        child = await tx.mailboxes.get(abc.id)
        assert child is not None
        assert child.name == "top/c"


async def test_rename_through_a_name_its_subtree_holds(
    store: SqlStore, new_user: Callable[..., NewUser]
) -> None:
    (bob,) = await _users(store, new_user, "bob")
    async with store.begin() as tx:
        ab = await _box(tx, bob.id, "a/b")
        abb = await _box(tx, bob.id, "a/b/b")
        # "a/b" → "a" and "a/b/b" → "a/b": a name is freed and retaken in one rename.
        await tx.mailboxes.rename(ab.id, "a")
        assert {m.id: m.name for m in await tx.mailboxes.list(bob.id)} == {
            ab.id: "a",
            abb.id: "a/b",
        }


async def test_delete_removes_messages_and_keeps_children_and_subscriptions(
    store: SqlStore, new_user: Callable[..., NewUser]
) -> None:
    (bob,) = await _users(store, new_user, "bob")
    async with store.begin() as tx:
        parent = await _box(tx, bob.id, "Projects")
        child = await _box(tx, bob.id, "Projects/2026")
        await tx.mailboxes.append(parent.id, _new_message("p", "\\Deleted"))
        await tx.mailboxes.expunge(parent.id)
        await tx.mailboxes.append(parent.id, _new_message("q"))
        await tx.mailboxes.subscribe(bob.id, "Projects")
    async with store.begin() as tx:
        await tx.mailboxes.delete(parent.id)
        with pytest.raises(NotFoundError):
            await tx.mailboxes.delete(parent.id)
    async with store.begin() as tx:
        assert await tx.mailboxes.get(parent.id) is None
        assert await tx.mailboxes.body(parent.id, 2) is None
        assert await tx.mailboxes.highest_modseq(parent.id) is None
        assert await tx.mailboxes.get(child.id) == child
        assert await tx.mailboxes.subscriptions(bob.id) == ["Projects"]
        again = await _box(tx, bob.id, "Projects")
    # A recreated name gets a new UIDVALIDITY, even within the same second.
    assert again.uidvalidity > max(parent.uidvalidity, child.uidvalidity)


async def test_uidvalidity_never_repeats_after_the_highest_mailbox_is_deleted(
    store: SqlStore, new_user: Callable[..., NewUser]
) -> None:
    (bob,) = await _users(store, new_user, "bob")
    async with store.begin() as tx:
        first = await _box(tx, bob.id, "a")
        second = await _box(tx, bob.id, "b")
        await tx.mailboxes.delete(second.id)
        third = await tx.mailboxes.create(NewMailbox("01JB2", bob.id, "b", b"k", T0))
        later = T0 + timedelta(days=1)
        fourth = await tx.mailboxes.create(NewMailbox("01JC", bob.id, "c", b"k", later))
    assert first.uidvalidity < second.uidvalidity < third.uidvalidity
    assert fourth.uidvalidity == int(later.timestamp())


async def test_subscriptions_may_name_mailboxes_that_do_not_exist(
    store: SqlStore, new_user: Callable[..., NewUser]
) -> None:
    bob, carol = await _users(store, new_user, "bob", "carol")
    async with store.begin() as tx:
        await tx.mailboxes.subscribe(bob.id, "Archive/2020")
        await tx.mailboxes.subscribe(bob.id, "Archive/2020")
        await tx.mailboxes.subscribe(bob.id, "inbox")
        await tx.mailboxes.subscribe(carol.id, "Lists")
        assert await tx.mailboxes.subscriptions(bob.id) == ["Archive/2020", "INBOX"]
        assert await tx.mailboxes.unsubscribe(bob.id, "Archive/2020") is True
        assert await tx.mailboxes.unsubscribe(bob.id, "Archive/2020") is False
        assert await tx.mailboxes.subscriptions(bob.id) == ["INBOX"]
        assert await tx.mailboxes.subscriptions(carol.id) == ["Lists"]
        with pytest.raises(NotFoundError, match="no user with id 4242"):
            await tx.mailboxes.subscribe(4242, "x")
        with pytest.raises(ValueError, match="empty hierarchy level"):
            await tx.mailboxes.subscribe(bob.id, "a//b")
    async with store.begin() as tx:
        await tx.users.remove(carol.id)
        assert await tx.mailboxes.subscriptions(carol.id) == []


async def test_shared_mailboxes_and_rights_decide_what_a_user_sees(
    store: SqlStore, new_user: Callable[..., NewUser]
) -> None:
    bob, carol, dave = await _users(store, new_user, "bob", "carol", "dave")
    async with store.begin() as tx:
        bobs = await _box(tx, bob.id, "INBOX")
        carols = await _box(tx, carol.id, "Team")
        public = await _box(tx, None, "Announcements")
        sales = await _box(tx, None, "Sales")
        hidden = await _box(tx, None, "Board")
        with pytest.raises(ConflictError, match="the shared namespace already has a mailbox"):
            await tx.mailboxes.create(NewMailbox("01JDUP", None, "Sales", b"k", T0))
        await tx.mailboxes.set_rights(public.id, ANYONE, "rl")
        await tx.mailboxes.set_rights(sales.id, bob.id, "lrswi")
        await tx.mailboxes.set_rights(sales.id, dave.id, "r")  # may read, not list
        await tx.mailboxes.set_rights(carols.id, bob.id, "tl")
        await tx.mailboxes.set_rights(hidden.id, bob.id, "lr")
        await tx.mailboxes.set_rights(hidden.id, bob.id, "")  # removed again

        visible = [m.id for m in await tx.mailboxes.list_visible(bob.id)]
        assert visible == [bobs.id, public.id, sales.id, carols.id]
        assert [m.id for m in await tx.mailboxes.list_visible(dave.id)] == [public.id]
        assert [m.name for m in await tx.mailboxes.list(None)] == [
            "Announcements",
            "Board",
            "Sales",
        ]
        assert await tx.mailboxes.find(None, "Sales") == sales

        assert await tx.mailboxes.rights_of(bobs.id, bob.id) == ALL_RIGHTS
        assert await tx.mailboxes.rights_of(sales.id, bob.id) == "lrswi"
        assert await tx.mailboxes.rights_of(carols.id, bob.id) == "lt"
        assert await tx.mailboxes.rights_of(public.id, bob.id) == "lr"
        assert await tx.mailboxes.rights_of(hidden.id, bob.id) == ""
        assert await tx.mailboxes.rights_of("01JNONE", bob.id) == ""
        assert await tx.mailboxes.rights(sales.id) == {bob.id: "lrswi", dave.id: "r"}
        assert await tx.mailboxes.rights(public.id) == {ANYONE: "lr"}

        with pytest.raises(ValueError, match="'qz' are not RFC 4314 rights"):
            await tx.mailboxes.set_rights(sales.id, bob.id, "lqz")
        with pytest.raises(NotFoundError, match="no user with id 4242"):
            await tx.mailboxes.set_rights(sales.id, 4242, "l")
        with pytest.raises(NotFoundError, match="no mailbox with id 01JNONE"):
            await tx.mailboxes.set_rights("01JNONE", ANYONE, "l")
        with pytest.raises(NotFoundError):
            await tx.mailboxes.rights("01JNONE")
    async with store.begin() as tx:
        await tx.users.remove(dave.id)
        assert await tx.mailboxes.rights(sales.id) == {bob.id: "lrswi"}
        await tx.mailboxes.delete(sales.id)
        assert await tx.mailboxes.rights_of(sales.id, bob.id) == ""


async def test_status_counts_come_from_one_query(
    store: SqlStore, new_user: Callable[..., NewUser]
) -> None:
    (bob,) = await _users(store, new_user, "bob")
    async with store.begin() as tx:
        inbox = await _box(tx, bob.id, "INBOX")
        empty = await _box(tx, bob.id, "Empty")
        await tx.mailboxes.append(inbox.id, _new_message("aa", "\\Seen"))
        await tx.mailboxes.append(inbox.id, _new_message("bbb", "\\Seen", "\\Deleted"))
        await tx.mailboxes.append(inbox.id, _new_message("c", "\\Deleted", "$Seen"))
        await tx.mailboxes.append(inbox.id, _new_message("d", "\\seen"))
        statuses = await tx.mailboxes.statuses([inbox.id, empty.id, "01JNONE"])
        assert await tx.mailboxes.status(inbox.id) == statuses[inbox.id]
        assert await tx.mailboxes.status("01JNONE") is None
        assert await tx.mailboxes.statuses([]) == {}
    assert statuses[inbox.id] == MailboxStatus(
        mailbox_id=inbox.id,
        messages=4,
        unseen=1,
        deleted=2,
        size=102 + 103 + 101 + 101,
        uidnext=5,
        uidvalidity=inbox.uidvalidity,
        highestmodseq=5,
    )
    assert statuses[empty.id] == MailboxStatus(empty.id, 0, 0, 0, 0, 1, empty.uidvalidity, 1)
    assert set(statuses) == {inbox.id, empty.id}


async def test_quota_and_usage_per_user(store: SqlStore, new_user: Callable[..., NewUser]) -> None:
    bob, carol = await _users(store, new_user, "bob", "carol")
    async with store.begin() as tx:
        assert await tx.mailboxes.quota(bob.id) == Quota()
        assert await tx.mailboxes.usage(bob.id) == Usage(0, 0)
        inbox = await _box(tx, bob.id, "INBOX")
        sent = await _box(tx, bob.id, "Sent")
        shared = await _box(tx, None, "Shared")
        carols = await _box(tx, carol.id, "INBOX")
        await tx.mailboxes.append(inbox.id, _new_message("a"))
        await tx.mailboxes.append(sent.id, _new_message("bb"))
        await tx.mailboxes.append(shared.id, _new_message("ccc"))
        await tx.mailboxes.append(carols.id, _new_message("dddd"))
        assert await tx.mailboxes.usage(bob.id) == Usage(size=101 + 102, messages=2)
        await tx.mailboxes.set_quota(bob.id, Quota(storage=10_000_000))
        await tx.mailboxes.set_quota(bob.id, Quota(storage=5_000_000, messages=1000))
        assert await tx.mailboxes.quota(bob.id) == Quota(5_000_000, 1000)
        assert await tx.mailboxes.quota(carol.id) == Quota()
        with pytest.raises(ValueError, match="quota limit"):
            await tx.mailboxes.set_quota(bob.id, Quota(storage=-1))
        with pytest.raises(NotFoundError, match="no user with id 4242"):
            await tx.mailboxes.set_quota(4242, Quota(messages=1))
        await tx.mailboxes.set_quota(bob.id, Quota())
        assert await tx.mailboxes.quota(bob.id) == Quota()


async def test_a_shared_mailbox_holds_messages_like_any_other(
    store: SqlStore, new_user: Callable[..., NewUser]
) -> None:
    async with store.begin() as tx:
        shared = await _box(tx, None, "Public/Notices")
        stored = await tx.mailboxes.append(shared.id, _new_message("n"))
        assert await tx.mailboxes.body(shared.id, stored.uid) == _body("n")
        await tx.mailboxes.delete(shared.id)  # no INBOX rule in the shared namespace
