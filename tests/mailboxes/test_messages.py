"""MailboxService messages: append/body byte-exact, summaries (stored and computed),
flags, expunge, copy and move with re-wrapped keys, quotas, change tracking."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import subprocess
from pathlib import Path

import pytest

from postseal.custody import MasterKey
from postseal.errors import InputError, NotFoundError, TooLargeError
from postseal.mail.structure import envelope, from_summary, parse, to_summary
from postseal.services.mailbox_sealing import mailbox_key, seal_message
from postseal.services.mailboxes import MailboxService, OverQuotaError
from postseal.store.ports import MAX_UID, Quota, Store, UserRecord

from .conftest import T0, message

ALL = [(1, MAX_UID)]


async def test_append_then_body_is_byte_exact(service: MailboxService, bob: UserRecord) -> None:
    odd = b"Subject: odd\r\n\r\nline with trailing space \r\nbare\nlf\r\n\x00\xff\r\n.\r\n"
    validity, uid = await service.append(
        bob, "INBOX", odd, flags=["\\seen", "$Label1"], internal_date=T0
    )
    inbox = await service.find(bob, "INBOX")
    assert validity == inbox.uidvalidity
    assert await service.body(inbox, uid) == odd
    (stored,) = await service.messages(inbox, [(uid, uid)])
    assert (stored.flags, stored.internal_date, stored.size) == (
        ("$Label1", "\\Seen"),
        T0,
        len(odd),
    )
    with pytest.raises(NotFoundError):
        await service.body(inbox, uid + 1)
    assert await service.bodies(inbox, [uid, uid + 1]) == {uid: odd}
    assert await service.bodies(inbox, []) == {}
    with pytest.raises(NotFoundError, match="no mailbox Nope"):
        await service.append(bob, "Nope", odd)
    with pytest.raises(InputError):
        await service.append(bob, "INBOX", odd, flags=["two words"])


async def test_summaries_match_the_body_and_are_computed_when_missing(
    service: MailboxService, store: Store, master: MasterKey, bob: UserRecord
) -> None:
    _, first = await service.append(bob, "INBOX", message("stored summary"))
    inbox = await service.find(bob, "INBOX")
    old = seal_message(
        mailbox_key(master, inbox),
        inbox.id,
        message("no summary"),
        email_id="01JOLDDELIVERY00000000000A",
        internal_date=T0,
    )
    async with store.begin() as tx:  # appended before summaries existed
        stored = await tx.mailboxes.append(inbox.id, dataclasses.replace(old, summary=None))
        assert stored.uid not in await tx.mailboxes.summaries(inbox.id, ALL)
    summaries = await service.summaries(inbox, [first, stored.uid, 999])
    assert sorted(summaries) == [first, stored.uid]
    for uid, subject in ((first, "stored summary"), (stored.uid, "no summary")):
        assert summaries[uid] == to_summary(parse(message(subject)))
        assert envelope(from_summary(summaries[uid])).subject == subject
    async with store.begin() as tx:  # computed once, then stored sealed
        assert stored.uid in await tx.mailboxes.summaries(inbox.id, ALL)
    assert await service.summaries(inbox, []) == {}


async def test_flags_expunge_and_changes(service: MailboxService, bob: UserRecord) -> None:
    inbox = await service.find(bob, "INBOX")
    uids = [(await service.append(bob, "INBOX", message(f"m{n}")))[1] for n in range(3)]
    before = await service.highest_modseq(inbox.id)
    update = await service.set_flags(inbox, [(uids[0], uids[1])], add=["\\Deleted"])
    assert [c.uid for c in update.changed] == uids[:2]
    conditional = await service.set_flags(
        inbox, [(uids[0], uids[0])], remove=["\\Deleted"], unchanged_since=before
    )
    assert conditional.failed_modified == (uids[0],)
    assert await service.expunge(inbox, [(uids[1], uids[1])]) == [uids[1]]
    assert await service.expunge(inbox) == [uids[0]]
    changes = await service.changes_since(inbox, before)
    assert changes.vanished == (uids[0], uids[1])
    assert changes.highestmodseq == await service.highest_modseq(inbox.id)
    with pytest.raises(InputError):
        await service.set_flags(inbox, ALL, add=["a b"])


async def test_copy_and_move_keep_bodies_readable_in_the_target(
    service: MailboxService, bob: UserRecord
) -> None:
    inbox = await service.find(bob, "INBOX")
    uids = [(await service.append(bob, "INBOX", message(f"m{n}")))[1] for n in range(3)]
    validity, pairs = await service.copy(bob, inbox, [(uids[0], uids[1])], "Trash")
    trash = await service.find(bob, "Trash")
    assert validity == trash.uidvalidity
    assert [old for old, _ in pairs] == uids[:2]
    for old, new in pairs:
        assert await service.body(trash, new) == await service.body(inbox, old)
    assert len(await service.summaries(trash, [new for _, new in pairs])) == 2
    _, moved = await service.move(bob, inbox, [(uids[2], uids[2])], "Junk")
    junk = await service.find(bob, "Junk")
    assert await service.body(junk, moved[0][1]) == message("m2")
    assert [m.uid for m in await service.messages(inbox)] == uids[:2]
    with pytest.raises(NotFoundError, match="no mailbox Archive"):
        await service.copy(bob, inbox, ALL, "Archive")


async def test_quota_refuses_append_and_copy(
    service: MailboxService, store: Store, bob: UserRecord, carol: UserRecord
) -> None:
    big = message("big", "x" * 500)
    async with store.begin() as tx:
        await tx.mailboxes.set_quota(bob.id, Quota(storage=len(big) * 2))
        await tx.mailboxes.set_quota(carol.id, Quota(messages=1))
    await service.append(bob, "INBOX", big)
    await service.append(bob, "INBOX", big)
    with pytest.raises(OverQuotaError, match="quota"):
        await service.append(bob, "INBOX", big)
    inbox = await service.find(bob, "INBOX")
    await service.move(bob, inbox, [(1, 1)], "Trash")  # same owner: no growth
    assert await service.usage(bob) == (len(big) * 2, 2, len(big) * 2)
    await service.append(carol, "INBOX", message("one"))
    with pytest.raises(OverQuotaError):
        await service.append(carol, "INBOX", message("two"))
    with pytest.raises(TooLargeError):
        await service.append(bob, "Trash", b"x" * 1_000_001)


async def test_wait_for_change_sees_an_append(service: MailboxService, bob: UserRecord) -> None:
    inbox = await service.find(bob, "INBOX")
    known = await service.highest_modseq(inbox.id)
    assert await service.wait_for_change(inbox.id, known, timeout=0.3) is False
    waiter = asyncio.create_task(service.wait_for_change(inbox.id, known, timeout=5))
    await asyncio.sleep(0.1)
    await service.append(bob, "INBOX", message("new"))
    assert await asyncio.wait_for(waiter, 2) is True
    await service.delete(bob, "Trash")
    trash_gone = await service.list_mailboxes(bob)
    assert "Trash" not in [b.name for b in trash_gone]


def _openssl(*args: object) -> subprocess.CompletedProcess[bytes]:
    tool = shutil.which("openssl")
    if tool is None:
        pytest.skip("openssl not installed (Debian package openssl)")
    return subprocess.run([tool, *map(str, args)], capture_output=True, check=False)


def _signed_message(tmp_path: Path) -> bytes:
    key, cert = tmp_path / "k.pem", tmp_path / "c.pem"
    made = _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", key, "-out", cert, "-subj", "/CN=alice", "-days", "2")  # fmt: skip
    assert made.returncode == 0, made.stderr
    content = tmp_path / "content.mime"
    content.write_bytes(b"Content-Type: text/plain\r\n\r\nSigned text  \r\n\r\n")
    signed = _openssl("cms", "-sign", "-in", content, "-signer", cert, "-inkey", key,
                      "-md", "sha256", "-binary")  # fmt: skip
    assert signed.returncode == 0, signed.stderr
    return b"From: alice@example.org\nSubject: signed\n" + signed.stdout  # mixed line ends


def _verifies(tmp_path: Path, data: bytes) -> bool:
    out = tmp_path / "back.eml"
    out.write_bytes(data)
    verify = _openssl("cms", "-verify", "-noverify", "-binary", "-in", out, "-out", "/dev/null")
    return verify.returncode == 0


async def test_a_signed_message_still_verifies_after_the_round_trip(
    service: MailboxService, bob: UserRecord, tmp_path: Path
) -> None:
    data = await asyncio.to_thread(_signed_message, tmp_path)
    _, uid = await service.append(bob, "INBOX", data)
    back = await service.body(await service.find(bob, "INBOX"), uid)
    assert back == data
    assert await asyncio.to_thread(_verifies, tmp_path, back)
    tampered = back.replace(b"Signed text", b"Signed text!")
    assert not await asyncio.to_thread(_verifies, tmp_path, tampered)
