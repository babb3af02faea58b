"""Two sessions on one mailbox see each other's changes (RFC 3501 §5.2, §7.4.1), and
IDLE (RFC 2177) announces a new message within a second."""

from __future__ import annotations

import asyncio
import time

from postseal.services.mailboxes import MailboxService

from .conftest import Connect, Users, message


async def test_two_sessions_see_store_expunge_append(
    connect: Connect, service: MailboxService, users: Users
) -> None:
    for n in range(3):
        await service.append(users.alice, "INBOX", message(f"shared {n}"))
    first, second = await connect(), await connect()
    await first.command("SELECT INBOX")
    await second.command("SELECT INBOX")
    await second.command("STORE 2 +FLAGS (\\Flagged)")
    noop = await first.command("NOOP")
    assert noop.untagged == [b"* 2 FETCH (FLAGS (\\Flagged) UID 2)\r\n"]
    await second.command("STORE 1 +FLAGS.SILENT (\\Deleted)")
    await second.command("EXPUNGE")
    await second.command(b"APPEND INBOX {20+}\r\nSubject: x\r\n\r\nbody\r\n")
    # FETCH by number must not renumber (RFC 3501 §7.4.1): EXISTS yes, EXPUNGE not yet
    fetch = await first.command("FETCH 1 (FLAGS)")
    assert b"* 4 EXISTS\r\n" in fetch.untagged
    assert not fetch.lines(b"EXPUNGE")
    assert fetch.lines(b"FETCH") == [b"* 1 FETCH (FLAGS ())\r\n"]  # as this session knew it
    later = await first.command("NOOP")
    assert later.untagged == [b"* 1 EXPUNGE\r\n"]
    uids = await first.command("UID SEARCH ALL")
    assert uids.untagged == [b"* SEARCH 2 3 4\r\n"]


async def test_idle_sees_service_append_within_a_second(
    connect: Connect, service: MailboxService, users: Users
) -> None:
    client = await connect()
    await client.command("SELECT INBOX")
    await client.send(b"i1 IDLE\r\n")
    assert (await client.response()).startswith(b"+ ")
    started = time.monotonic()
    await service.append(users.alice, "INBOX", message("delivered"))
    assert await client.response(wait=1.5) == b"* 1 EXISTS\r\n"
    assert time.monotonic() - started < 1.0
    await client.send(b"DONE\r\n")
    assert (await client.until("i1")).status == "OK"


async def test_idle_sees_other_session(connect: Connect) -> None:
    idler, writer = await connect(), await connect()
    await idler.command("SELECT INBOX")
    await writer.command(b"APPEND INBOX {20+}\r\nSubject: a\r\n\r\nbody\r\n")
    await idler.command("NOOP")
    await idler.send(b"i1 IDLE\r\n")
    await idler.response()
    started = time.monotonic()
    await writer.command(b"APPEND INBOX {20+}\r\nSubject: b\r\n\r\nbody\r\n")
    assert await idler.response(wait=1.5) == b"* 2 EXISTS\r\n"
    await writer.command("SELECT INBOX")
    await writer.command("STORE 1 +FLAGS (\\Deleted)")
    await writer.command("EXPUNGE")
    assert (await idler.response(wait=1.5)).startswith(b"* 1 ")
    assert time.monotonic() - started < 3.0
    await idler.send(b"done\r\n")
    reply = await idler.until("i1")
    assert reply.status == "OK"


async def test_idle_without_selection_and_bad_done(connect: Connect) -> None:
    client = await connect()
    await client.send(b"i1 IDLE\r\n")
    await client.response()
    await asyncio.sleep(0.6)
    await client.send(b"NOPE\r\n")
    assert (await client.until("i1")).status == "BAD"
    assert (await client.command("NOOP")).status == "OK"


async def test_deleted_mailbox_ends_other_sessions(connect: Connect) -> None:
    owner, other = await connect(), await connect()
    await owner.command("CREATE Doomed")
    await other.command("SELECT Doomed")
    await owner.command("DELETE Doomed")
    reply = await other.command("NOOP")
    assert reply.untagged[0].startswith(b"* BYE")
