"""MailboxService folders: defaults, listing, namespaces and rights, create, delete,
rename (INBOX included), subscriptions, status and usage."""

from __future__ import annotations

import pytest

from postseal.errors import ConflictError, InputError, NotFoundError, PolicyError
from postseal.services.mailboxes import MailboxService
from postseal.store.ports import ANYONE, SpecialUse, Store, UserRecord

from .conftest import message


async def test_defaults_are_created_once_with_their_special_use(
    service: MailboxService, bob: UserRecord
) -> None:
    await service.ensure_defaults(bob)  # a second login changes nothing
    boxes = await service.list_mailboxes(bob)
    assert [(b.name, b.special_use) for b in boxes] == [
        ("Drafts", SpecialUse.DRAFTS),
        ("INBOX", None),
        ("Junk", SpecialUse.JUNK),
        ("Sent", SpecialUse.SENT),
        ("Trash", SpecialUse.TRASH),
    ]
    assert await service.subscriptions(bob) == ["Drafts", "INBOX", "Junk", "Sent", "Trash"]


async def test_a_renamed_special_mailbox_is_not_recreated(
    service: MailboxService, bob: UserRecord
) -> None:
    await service.rename(bob, "Sent", "Sent Items")
    await service.ensure_defaults(bob)
    names = {b.name: b.special_use for b in await service.list_mailboxes(bob)}
    assert "Sent" not in names
    assert names["Sent Items"] is SpecialUse.SENT


async def test_find_create_delete(service: MailboxService, bob: UserRecord) -> None:
    created = await service.create(bob, "Projects/2026/", special_use=SpecialUse.ARCHIVE)
    assert created.name == "Projects/2026"  # RFC 3501 §6.3.3: trailing separator dropped
    assert (await service.find(bob, "Projects/2026")).id == created.id
    assert (await service.find(bob, "inbox")).name == "INBOX"
    with pytest.raises(ConflictError):
        await service.create(bob, "Projects/2026")
    with pytest.raises(InputError):
        await service.create(bob, "Shared/mine")
    with pytest.raises(InputError):
        await service.create(bob, "a//b")
    await service.delete(bob, "Projects/2026")
    with pytest.raises(NotFoundError, match="no mailbox Projects/2026"):
        await service.find(bob, "Projects/2026")
    with pytest.raises(ConflictError):
        await service.delete(bob, "INBOX")


async def test_rename_keeps_uidvalidity_and_messages(
    service: MailboxService, bob: UserRecord
) -> None:
    await service.create(bob, "Old")
    validity, uid = await service.append(bob, "Old", message("kept"))
    await service.rename(bob, "Old", "New")
    box = await service.find(bob, "New")
    assert box.uidvalidity == validity
    assert await service.body(box, uid) == message("kept")


async def test_rename_inbox_moves_its_messages_and_leaves_it_empty(
    service: MailboxService, bob: UserRecord
) -> None:
    """RFC 3501 §6.3.5: INBOX stays, empty; its messages are in the new mailbox."""
    for n in range(3):
        await service.append(bob, "INBOX", message(f"m{n}"), flags=["\\Seen"] if n else [])
    await service.rename(bob, "INBOX", "Old Mail")
    inbox = await service.find(bob, "INBOX")
    assert (await service.status(inbox)).messages == 0
    old = await service.find(bob, "Old Mail")
    moved = await service.messages(old)
    assert [m.flags for m in moved] == [(), ("\\Seen",), ("\\Seen",)]
    assert [await service.body(old, m.uid) for m in moved] == [message(f"m{n}") for n in range(3)]
    assert sorted((await service.summaries(old, [m.uid for m in moved])).keys()) == [1, 2, 3]
    with pytest.raises(ConflictError):
        await service.rename(bob, "INBOX", "Old Mail")


async def test_subscriptions(service: MailboxService, bob: UserRecord) -> None:
    await service.subscribe(bob, "Not/There")
    assert "Not/There" in await service.subscriptions(bob)
    assert await service.unsubscribe(bob, "Not/There") is True
    assert await service.unsubscribe(bob, "Not/There") is False


async def test_status_and_usage(service: MailboxService, store: Store, bob: UserRecord) -> None:
    inbox = await service.find(bob, "INBOX")
    await service.append(bob, "INBOX", message("a"), flags=["\\Seen"])
    await service.append(bob, "INBOX", message("bb"))
    status = await service.status(inbox)
    assert (status.messages, status.unseen, status.size) == (
        2,
        1,
        len(message("a")) + len(message("bb")),
    )
    assert await service.usage(bob) == (status.size, 2, None)


async def test_shared_and_other_users_mailboxes_follow_rights(
    service: MailboxService, store: Store, bob: UserRecord, carol: UserRecord
) -> None:
    sales = await service.create_shared("Sales")
    await service.create(carol, "Team")
    assert [b.name for b in await service.list_mailboxes(bob)][-1] != "Shared/Sales"
    with pytest.raises(NotFoundError, match="no mailbox Shared/Sales"):
        await service.find(bob, "Shared/Sales")
    team = await service.find(carol, "Team")
    async with store.begin() as tx:
        await tx.mailboxes.set_rights(sales.id, ANYONE, "lr")
        await tx.mailboxes.set_rights(team.id, bob.id, "lrsi")
    names = [b.name for b in await service.list_mailboxes(bob)]
    assert names[-2:] == ["Shared/Sales", "Other Users/carol@example.org/Team"] or names[-2:] == [
        "Other Users/carol@example.org/Team",
        "Shared/Sales",
    ]
    assert (await service.find(bob, "Shared/Sales")).id == sales.id
    seen = await service.find(bob, "Other Users/carol@example.org/Team")
    assert await service.rights(bob, seen) == "lrsi"
    await service.append(bob, "Other Users/carol@example.org/Team", message("for carol"))
    with pytest.raises(PolicyError):
        await service.append(bob, "Shared/Sales", message("no i right"))
    with pytest.raises(PolicyError):
        await service.delete(bob, "Shared/Sales")
    with pytest.raises(PolicyError):
        await service.rename(bob, "Other Users/carol@example.org/Team", "Mine")
    (stored,) = await service.messages(seen)
    with pytest.raises(PolicyError):
        await service.set_flags(seen, [(stored.uid, stored.uid)], add=["\\Deleted"], user=bob)
    await service.set_flags(seen, [(stored.uid, stored.uid)], add=["\\Seen"], user=bob)
    with pytest.raises(PolicyError):
        await service.expunge(seen, user=bob)
    assert await service.usage(carol) == (len(message("for carol")), 1, None)


async def test_listing_is_the_mailbox_and_its_messages_as_they_are_now(
    service: MailboxService, bob: UserRecord
) -> None:
    inbox = await service.find(bob, "INBOX")
    for subject in ("one", "two", "three"):
        await service.append(bob, "INBOX", message(subject))
    listing = await service.listing(inbox)  # the record found before the appends
    assert listing.mailbox.uidnext == 4
    assert listing.mailbox.highestmodseq == inbox.highestmodseq + 3
    assert [m.uid for m in listing.messages] == [1, 2, 3]
    gone = await service.create(bob, "Gone")
    await service.delete(bob, "Gone")
    with pytest.raises(NotFoundError, match="no mailbox Gone"):
        await service.listing(gone)


async def test_find_reads_own_names_and_resolves_the_other_namespaces(
    service: MailboxService, store: Store, bob: UserRecord, carol: UserRecord
) -> None:
    shared = await service.create_shared("News")
    async with store.begin() as tx:
        await tx.mailboxes.set_rights(shared.id, ANYONE, "lr")
        carols = await tx.mailboxes.find(carol.id, "INBOX")
        assert carols is not None
        await tx.mailboxes.set_rights(carols.id, bob.id, "lr")
    assert (await service.find(bob, "iNbOx")).user_id == bob.id
    assert (await service.find(bob, "Shared/News")).name == "Shared/News"
    other = await service.find(bob, "Other Users/carol@example.org/INBOX")
    assert (other.id, other.name) == (carols.id, "Other Users/carol@example.org/INBOX")
    for missing in ("Nope", "Shared/Nope", "Other Users/carol@example.org/Nope", "a//b", ""):
        with pytest.raises(NotFoundError, match="no mailbox"):
            await service.find(bob, missing)
