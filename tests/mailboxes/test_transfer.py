"""Moving users in and out: mbox and Maildir import, Maildir export, and the round trip;
and nothing appended (bodies, summaries) readable in the database files."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from postseal.errors import InputError
from postseal.services.mailbox_formats import folder_of, mailbox_of, split_mbox
from postseal.services.mailboxes import MailboxService
from postseal.store.ports import Store, UserRecord
from postseal.store.sql import SqlStore
from tests.contract.test_mailboxes import _raw_files
from tests.peers import REPO

from .conftest import add_user, message

MBOX = (
    b"From alice@example.org Mon Mar  2 08:00:00 2026\n"
    b"From: alice@example.org\nSubject: one\nStatus: RO\nX-Status: A\n\n"
    b"first line\n>From the start\n>>From two levels\n\n"
    b"From bob@example.org Tue Mar  3 09:30:00 2026\n"
    b"From: bob@example.org\nSubject: two\n\nno flags\n"
)


def test_mbox_is_split_unescaped_and_normalised() -> None:
    first, second = split_mbox(MBOX)
    assert first.data == (
        b"From: alice@example.org\r\nSubject: one\r\nStatus: RO\r\nX-Status: A\r\n\r\n"
        b"first line\r\nFrom the start\r\n>From two levels\r\n"
    )
    assert first.flags == ("\\Answered", "\\Seen")
    assert first.internal_date is not None and first.internal_date.isoformat().startswith(
        "2026-03-02T08:00:00"
    )
    assert second.data.endswith(b"no flags\r\n") and second.flags == ()
    with pytest.raises(InputError, match="not an mbox"):
        list(split_mbox(b"Subject: not mbox\n\nbody\n"))


def test_maildir_folder_names_round_trip() -> None:
    for name in ("INBOX", "Sent", "Projects/2026", "v1.2 notes/100%"):
        assert mailbox_of(folder_of(name)) == name
    assert folder_of("Projects/2026") == ".Projects.2026"


def _mbox_corpus() -> bytes:
    """``mailbox_01.mbox`` of the shared test data when present, else a generated one."""
    shared = REPO.parent / "shared/testdata/mime/cpython-test_email/mailbox_01.mbox"
    if shared.is_file():
        return shared.read_bytes()
    parts = [
        f"From sender{n}@example.org Mon Mar  2 08:0{n}:00 2026\n".encode()
        + message(f"generated {n}", f"From here\nline {n}")
        .replace(b"\r\n", b"\n")
        .replace(b"\nFrom here", b"\n>From here")
        + b"\n"
        for n in range(5)
    ]
    return b"".join(parts)


async def test_import_export_import_round_trip(
    service: MailboxService, store: Store, bob: UserRecord, tmp_path: Path
) -> None:
    source = tmp_path / "in.mbox"
    source.write_bytes(_mbox_corpus())
    expected = list(split_mbox(source.read_bytes()))
    assert await service.import_mbox(bob, source) == len(expected) > 0
    assert await service.import_mbox(bob, MBOX, "Archive/2026") == 2  # created on the way
    inbox = await service.find(bob, "INBOX")
    stored = await service.messages(inbox)
    assert [await service.body(inbox, m.uid) for m in stored] == [e.data for e in expected]
    archive = await service.find(bob, "Archive/2026")
    (one, _) = await service.messages(archive)
    assert one.flags == ("\\Answered", "\\Seen")
    await service.set_flags(inbox, [(stored[0].uid, stored[0].uid)], add=["\\Flagged", "\\Draft"])

    exported = tmp_path / "maildir"
    assert await service.export_maildir(bob, exported) == len(expected) + 2
    names = sorted(p.name for p in (exported / "cur").iterdir())
    assert names[0].endswith(":2,DF") or any(n.endswith(":2,DF") for n in names)
    assert (exported / ".Archive.2026" / "cur").is_dir() and (exported / "tmp").is_dir()

    dave = await add_user(store, "dave@example.org")
    assert await service.import_maildir(dave, exported) == len(expected) + 2
    for name in ("INBOX", "Archive/2026"):
        ours, theirs = await service.find(bob, name), await service.find(dave, name)
        mine = await service.messages(ours)
        copied = await service.messages(theirs)
        assert [(m.flags, m.internal_date, m.size) for m in copied] == [
            (m.flags, m.internal_date, m.size) for m in mine
        ]
        assert [await service.body(theirs, m.uid) for m in copied] == [
            await service.body(ours, m.uid) for m in mine
        ]
    with pytest.raises(InputError, match="not a Maildir"):
        await service.import_maildir(dave, tmp_path)


async def test_nothing_appended_reaches_the_disk_in_clear(
    url: str, store: SqlStore, service: MailboxService, bob: UserRecord
) -> None:
    marker = f"MARKER-{uuid.uuid4().hex}"
    control = f"CONTROL-{uuid.uuid4().hex}"
    async with store.begin() as tx:
        await tx.meta.set("control", control)
    await service.append(bob, "INBOX", message(f"Merger {marker}", f"secret {marker}"))
    inbox = await service.find(bob, "INBOX")
    await service.copy(bob, inbox, [(1, 1)], "Sent")
    assert marker in (await service.summaries(inbox, [1]))[1].decode()
    files = await _raw_files(url, store)
    assert any(control.encode() in data for data in files.values())
    assert [name for name, data in files.items() if marker.encode() in data] == []
    assert [name for name, data in files.items() if b"Merger" in data] == []
