"""Real IMAP peers: mbsync (isync) syncing an account to a Maildir over IMAPS and
STARTTLS with the test CA, and a differential run of one command script against
postseal and Dovecot (Debian ``isync``, ``dovecot-imapd``; INTEROP.md)."""

from __future__ import annotations

import asyncio
import re
import shutil
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from postseal.services.mailboxes import MailboxService
from tests.imap_session import dovecot
from tests.imap_session.client import RawImap
from tests.imap_session.conftest import (  # noqa: F401 - fixtures
    StartListener,
    Users,
    authenticate,
    message,
    server_tls,
    service,
    start_listener,
    store,
    throttle,
    users,
)
from tests.smtp.conftest import SmtpPki, pki  # noqa: F401 - fixtures

pytestmark = pytest.mark.interop


def _messages() -> list[tuple[bytes, tuple[str, ...], datetime]]:
    out = []
    for n in range(6):
        body = "a needle in here" if n % 3 == 0 else "only hay"
        flags: tuple[str, ...] = ("\\Seen",) if n % 2 else ()
        when = datetime(2026, 3, 2, 8, n, 0, tzinfo=UTC)
        raw = message(f"topic {n}", body).replace(
            b"From: Carol <carol@example.net>", b'From: "Carol, Q." <carol@example.net>'
        )
        out.append((raw, flags, when))
    return out


async def _fill(service: MailboxService, users: Users) -> list[bytes]:  # noqa: F811
    stored = []
    for raw, flags, when in _messages():
        await service.append(users.alice, "INBOX", raw, flags=flags, internal_date=when)
        stored.append(raw)
    return stored


@pytest.mark.skipif(shutil.which("mbsync") is None, reason="needs mbsync (Debian isync)")
@pytest.mark.parametrize("kind", ["imaps", "imap"])
async def test_mbsync_syncs_byte_identical(
    kind: str,
    start_listener: StartListener,  # noqa: F811
    service: MailboxService,  # noqa: F811
    users: Users,  # noqa: F811
    pki: SmtpPki,  # noqa: F811
    tmp_path: Path,
) -> None:
    stored = await _fill(service, users)
    await service.append(users.alice, "Sent", message("sent one"))
    listener = await start_listener(kind)
    local = tmp_path / "Mail"
    local.mkdir()
    config = tmp_path / "mbsyncrc"
    config.write_text(
        f"""IMAPAccount postseal
Host localhost
Port {listener.port}
User alice@example.org
Pass alice-pw
SSLType {"IMAPS" if kind == "imaps" else "STARTTLS"}
CertificateFile {pki.ca_path}
AuthMechs PLAIN LOGIN

IMAPStore remote
Account postseal

MaildirStore local
Path {local}/
Inbox {local}/INBOX
SubFolders Verbatim

Channel sync
Far :remote:
Near :local:
Patterns *
Create Near
Sync Pull
SyncState *
"""
    )
    process = await asyncio.create_subprocess_exec(
        "mbsync", "-c", str(config), "-a",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, (out + err).decode()
    synced = sorted(_undo_mbsync(p) for p in (local / "INBOX").glob("*/*") if p.is_file())
    assert synced == sorted(stored)
    assert [_undo_mbsync(p) for p in (local / "Sent").glob("*/*")] == [message("sent one")]
    seen = [p for p in (local / "INBOX" / "cur").iterdir() if p.name.endswith(",S")]
    assert len(seen) == 3


def _undo_mbsync(path: Path) -> bytes:
    """mbsync stores LF line ends in a Maildir and inserts an ``X-TUID`` header to find
    the message again (isync manual, "RECOMMENDATIONS"); undoing exactly those two
    changes must give the stored octets back. Our messages are all CRLF, so the line-end
    mapping is invertible."""
    data = re.sub(rb"^X-TUID: [^\n]*\n", b"", path.read_bytes(), count=1, flags=re.MULTILINE)
    assert b"\r" not in data
    return data.replace(b"\n", b"\r\n")


_SCRIPT = [
    "SELECT INBOX",
    "FETCH 1:* (FLAGS RFC822.SIZE ENVELOPE)",
    "UID FETCH 2:4 (FLAGS RFC822.SIZE)",
    'SEARCH SUBJECT "topic"',
    "SEARCH UNSEEN",
    "SEARCH BODY needle",
    "SEARCH OR SEEN LARGER 100000",
    "STORE 1 +FLAGS (\\Flagged)",
    "STORE 2 -FLAGS (\\Seen)",
    "STORE 3 FLAGS.SILENT ($Label1)",
    "FETCH 2:3 (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])",
    "COPY 1:2 Trash",
    "STATUS Trash (MESSAGES UNSEEN)",
    "STORE 3 +FLAGS.SILENT (\\Deleted)",
    "EXPUNGE",
    "FETCH 1:* (FLAGS)",
    "CREATE Projects",
    'LIST "" "*"',
    "FETCH 99 FLAGS",
    "SELECT Nowhere",
    "COPY 1 Nowhere",
    "FROB",
    "LOGOUT",
]
# RECENT: postseal keeps no \\Recent (RFC 9051 §2.3.2 dropped it); Dovecot re-announces it
_IGNORED = {"CAPABILITY", "OK", "OK[HIGHESTMODSEQ]", "OK[CLOSED]", "RECENT", "BYE"}


def _kind(line: bytes) -> str:
    words = line.split(b" ", 3)
    if words[1].isdigit():
        return words[2].decode().rstrip("\r\n")
    kind = words[1].decode().rstrip("\r\n")
    code = re.match(rb"\* \w+ \[([A-Z-]+)", line)
    return kind + (f"[{code.group(1).decode()}]" if code and kind == "OK" else "")


def _facts(line: bytes) -> list[bytes]:
    """The values compared exactly: FLAGS (without \\Recent), RFC822.SIZE, ENVELOPE,
    SEARCH results, EXISTS/EXPUNGE numbers, STATUS items."""
    out = []
    flags = re.search(rb"FLAGS \(([^)]*)\)", line)
    if flags and b"FETCH" in line:
        out.append(b" ".join(sorted(f for f in flags.group(1).split() if f != b"\\Recent")))
    for pattern in (rb"RFC822\.SIZE \d+", rb"ENVELOPE \(.*\)\)(?= |\))"):
        found = re.search(pattern, line)
        if found:
            out.append(found.group(0))
    if re.match(rb"\* (SEARCH|\d+ EXISTS|\d+ EXPUNGE|STATUS)", line):
        out.append(line.rstrip())
    return out


async def _run_script(client: RawImap) -> list[tuple[str, Counter[str], list[bytes]]]:
    await client.login()
    results = []
    for line in _SCRIPT:
        reply = await client.command(line)
        kinds = Counter(k for k in map(_kind, reply.untagged) if k not in _IGNORED)
        facts = [fact for untagged in reply.untagged for fact in _facts(untagged)]
        results.append((reply.status, kinds, facts))
    return results


@pytest.mark.skipif(not dovecot.available(), reason="needs dovecot-imapd and root")
async def test_same_script_as_dovecot(
    start_listener: StartListener,  # noqa: F811
    service: MailboxService,  # noqa: F811
    users: Users,  # noqa: F811
    pki: SmtpPki,  # noqa: F811
    tmp_path: Path,
) -> None:
    await _fill(service, users)
    listener = await start_listener("imaps")
    ours = await RawImap.connect(listener.port, tls=pki.client_context())
    mine = await _run_script(ours)
    await ours.close()
    with dovecot.running("alice@example.org", "alice-pw") as peer:
        dovecot.write_maildir(peer.maildir, _messages())
        theirs_client = await RawImap.connect(peer.port)
        theirs = await _run_script(theirs_client)
        await theirs_client.close()
    for command, (status, kinds, facts), (peer_status, peer_kinds, peer_facts) in zip(
        _SCRIPT, mine, theirs, strict=True
    ):
        assert (command, status) == (command, peer_status)
        assert (command, kinds) == (command, peer_kinds)
        assert (command, facts) == (command, peer_facts)
