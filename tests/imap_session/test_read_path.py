"""What a session reads goes through the store's read path (ADR 0017): selecting one's
own mailbox, fetching single messages and polling take no store transaction, and what
other sessions change is still announced."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest

from postseal.services.mailboxes import MailboxService
from postseal.store.sql import SqlStore

from .conftest import Connect, Users, message


@pytest.fixture
def transactions(store: SqlStore, monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """``readonly`` of every store transaction opened from now on."""
    opened: list[bool] = []
    begin = store.begin

    def counting(*, readonly: bool = False) -> AbstractAsyncContextManager[Any]:
        opened.append(readonly)
        return begin(readonly=readonly)

    monkeypatch.setattr(store, "begin", counting)
    return opened


async def test_select_fetch_and_noop_take_no_transaction(
    connect: Connect, service: MailboxService, users: Users, transactions: list[bool]
) -> None:
    for subject in ("one", "two", "three"):
        await service.append(users.alice, "INBOX", message(subject))
    client = await connect()
    transactions.clear()
    reply = await client.command("SELECT INBOX")
    assert b"* 3 EXISTS\r\n" in reply.untagged
    assert reply.has("[UIDNEXT 4]") and reply.has("[HIGHESTMODSEQ 4]")
    for uid in (1, 3):
        reply = await client.command(f"UID FETCH {uid} BODY.PEEK[]")
        assert reply.status == "OK" and reply.has("Subject: one" if uid == 1 else "Subject: three")
    assert (await client.command("UID FETCH 1:* (FLAGS ENVELOPE)")).has('"two"')
    assert (await client.command("NOOP")).status == "OK"
    assert (await client.command("EXAMINE inbox")).status == "OK"
    assert transactions == []


async def test_another_sessions_expunge_and_flags_are_announced(
    connect: Connect, service: MailboxService, users: Users
) -> None:
    for subject in ("one", "two", "three"):
        await service.append(users.alice, "INBOX", message(subject))
    watcher, actor = await connect(), await connect()
    await watcher.command("SELECT INBOX")
    await actor.command("SELECT INBOX")
    await actor.command("UID STORE 2 +FLAGS (\\Deleted)")
    await actor.command("UID STORE 3 +FLAGS (\\Flagged)")
    await actor.command("EXPUNGE")
    reply = await watcher.command("NOOP")
    assert b"* 2 EXPUNGE\r\n" in reply.untagged
    assert reply.has("FLAGS (\\Flagged) UID 3")
    assert (await watcher.command("UID FETCH 2 BODY.PEEK[]")).untagged == []
