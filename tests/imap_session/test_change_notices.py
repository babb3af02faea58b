"""Change notices between sessions (ADR 0014, "Change notifications"): writes made
through this process's service are announced at the next command; writes the service
never saw (another process) at NOOP at once, and at any command after RECHECK_SECONDS."""

from __future__ import annotations

import asyncio

from postseal.services.mailbox_changes import RECHECK_SECONDS
from postseal.services.mailboxes import MailboxService
from postseal.store.sql import SqlStore

from .conftest import Connect, Users, message


async def _write_behind_the_service(store: SqlStore, service: MailboxService, users: Users) -> None:
    """A flag change as another process makes it: straight to the store, so this
    process's change counter does not move."""
    inbox = await service.find(users.alice, "INBOX")
    async with store.begin() as tx:
        await tx.mailboxes.set_flags(inbox.id, [(1, 1)], add=["\\Flagged"])


async def test_in_process_write_is_announced_at_the_next_command(
    connect: Connect, service: MailboxService, users: Users
) -> None:
    await service.append(users.alice, "INBOX", message("one"))
    client = await connect()
    await client.command("SELECT INBOX")
    await service.append(users.alice, "INBOX", message("two"))
    reply = await client.command("UID FETCH 1 (UID)")
    assert b"* 2 EXISTS\r\n" in reply.untagged


async def test_other_process_write_is_announced_at_noop(
    connect: Connect, store: SqlStore, service: MailboxService, users: Users
) -> None:
    await service.append(users.alice, "INBOX", message("one"))
    client = await connect()
    await client.command("SELECT INBOX")
    await _write_behind_the_service(store, service, users)
    reply = await client.command("NOOP")
    assert reply.untagged == [b"* 1 FETCH (FLAGS (\\Flagged) UID 1)\r\n"]


async def test_other_process_write_is_announced_after_the_recheck_interval(
    connect: Connect, store: SqlStore, service: MailboxService, users: Users
) -> None:
    await service.append(users.alice, "INBOX", message("one"))
    client = await connect()
    await client.command("SELECT INBOX")
    await _write_behind_the_service(store, service, users)
    await asyncio.sleep(RECHECK_SECONDS + 0.1)
    reply = await client.command("UID FETCH 1 (UID)")
    assert b"* 1 FETCH (FLAGS (\\Flagged) UID 1)\r\n" in reply.untagged


async def test_service_writes_move_the_change_counter(
    service: MailboxService, users: Users
) -> None:
    inbox = await service.find(users.alice, "INBOX")
    seen = service.change_version(inbox.id)
    await service.append(users.alice, "INBOX", message("one"))
    assert service.change_version(inbox.id) > seen
    seen = service.change_version(inbox.id)
    await service.set_flags(inbox, [(1, 1)], add=["\\Deleted"])
    assert service.change_version(inbox.id) > seen
    seen = service.change_version(inbox.id)
    await service.expunge(inbox)
    assert service.change_version(inbox.id) > seen
