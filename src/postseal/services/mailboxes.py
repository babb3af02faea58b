"""The mailbox service: protocol-neutral use cases for IMAP, POP3 and the CLI (issue 5).

Sessions ask this service; it checks rights and quotas, seals and opens messages
(:mod:`~postseal.services.mailbox_sealing`) and talks to the store's
:class:`~postseal.store.ports.MailboxRepository`. It knows no sequence numbers and no
selected state: those belong to the sessions.

Search keeps nothing in clear on disk (ADR 0013): a session asks for :meth:`summaries`
(header SEARCH keys) or :meth:`body` (BODY/TEXT keys) and evaluates in memory.

Mailbox moves (``postseal mail import|export``): :meth:`import_mbox`,
:meth:`import_maildir` and :meth:`export_maildir` (formats in
:mod:`~postseal.services.mailbox_formats`).
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from postseal.custody import sealing
from postseal.errors import InputError, NotFoundError
from postseal.services import mailbox_sealing as sealed
from postseal.services.mailbox_access import OverQuotaError, input_errors
from postseal.services.mailbox_changes import CHANGES
from postseal.services.mailbox_folders import DEFAULT_MAILBOXES, FolderOps
from postseal.services.mailbox_formats import (
    ImportedMessage,
    folder_of,
    mailbox_of,
    maildir_filename,
    maildir_flags,
    split_mbox,
    to_crlf,
)
from postseal.services.mailbox_messages import MessageOps, uid_ranges
from postseal.store.ports import INBOX, UserRecord

__all__ = [
    "DEFAULT_MAILBOXES",
    "MailboxService",
    "OverQuotaError",
    "uid_ranges",
]

_IMPORT_BATCH = 100


class MailboxService(FolderOps, MessageOps):
    """``MailboxService(store, master, clock=…, max_message_size=None)``; see
    :class:`~postseal.services.mailbox_folders.FolderOps` and
    :class:`~postseal.services.mailbox_messages.MessageOps` for the operations."""

    async def import_mbox(
        self, user: UserRecord, source: Path | bytes, mailbox: str = INBOX
    ) -> int:
        """Append every message of an mbox file (or its bytes) to ``mailbox`` (created if
        missing); how many. Flags come from ``Status``/``X-Status``, the internal date
        from the ``From `` line."""
        data = source if isinstance(source, bytes) else await asyncio.to_thread(source.read_bytes)
        messages = list(split_mbox(data))  # a malformed file is refused before any change
        return await self._import(user, mailbox, messages)

    async def import_maildir(self, user: UserRecord, directory: Path, mailbox: str = INBOX) -> int:
        """Append the messages of a Maildir: its ``cur`` and ``new`` go to ``mailbox``,
        each Maildir++ folder ``.A.B`` to mailbox ``A/B`` (created if missing). Flags
        from the ``:2,`` info, the internal date from the file's mtime (as Dovecot)."""
        folders = await asyncio.to_thread(_maildir_folders, directory)
        total = 0
        for folder in folders:
            name = mailbox if folder == directory else mailbox_of(folder.name)
            total += await self._import(user, name, _read_maildir(folder))
        return total

    async def export_maildir(self, user: UserRecord, directory: Path) -> int:
        """Write the user's own mailboxes as a Maildir++ tree (INBOX at the top, ``A/B``
        as ``.A.B``) that Dovecot, mutt or offlineimap read; every message byte-exact in
        ``cur/`` with its flags, its mtime the internal date. How many messages."""
        count = 0
        async with self._store.begin() as tx:
            boxes = list(await tx.mailboxes.list(user.id))
        for box in boxes:
            target = directory / folder_of(box.name)
            for sub in ("cur", "new", "tmp"):
                (target / sub).mkdir(parents=True, exist_ok=True, mode=0o700)
            for message in await self.messages(box):
                data = await self.body(box, message.uid)
                name = maildir_filename(
                    f"{message.email_id}_{message.uid}", message.internal_date, message.flags
                )
                when = message.internal_date.timestamp()
                await asyncio.to_thread(_write_file, target / "cur" / name, data, when)
                count += 1
        return count

    async def _import(
        self, user: UserRecord, name: str, messages: Iterable[ImportedMessage]
    ) -> int:
        """Append in batches of :data:`_IMPORT_BATCH` per transaction, each message
        sealed with its summary; quota and size limits apply as for APPEND."""
        async with self._store.begin() as tx:
            box = await self._locate(tx, user, name)
        if box is None:
            box = await self.create(user, name)
        async with self._store.begin() as tx:
            box = await self._resolve(tx, user, box.name, need="i")
        key = self._mailbox_key(box)
        count = 0
        batch: list[ImportedMessage] = []
        for item in messages:
            batch.append(item)
            if len(batch) >= _IMPORT_BATCH:
                count += await self._append_batch(box.id, key, batch)
                batch = []
        if batch:
            count += await self._append_batch(box.id, key, batch)
        return count

    async def _append_batch(self, box_id: str, key: bytes, batch: Sequence[ImportedMessage]) -> int:
        now = self._clock()
        limit = self._max_message_size
        for item in batch:
            if limit is not None and len(item.data) > limit:
                raise InputError(
                    f"a message of {len(item.data)} bytes is over the limit of {limit}",
                    hint="nothing after the previous batch was imported; raise the limit",
                )
        sealed_messages = [
            await sealed.offload(
                len(item.data),
                functools.partial(
                    sealed.seal_message,
                    key,
                    box_id,
                    item.data,
                    email_id=sealing.new_id(now),
                    internal_date=item.internal_date or now,
                    flags=item.flags,
                ),
            )
            for item in batch
        ]
        async with self._store.begin() as tx:
            box = await tx.mailboxes.get(box_id)
            if box is None:
                raise NotFoundError("the mailbox being imported into was deleted")
            await self._check_quota(
                tx, box, size=sum(len(i.data) for i in batch), messages=len(batch)
            )
            with input_errors():
                for message in sealed_messages:
                    await tx.mailboxes.append(box_id, message)
        CHANGES.touch(box_id)
        return len(batch)


def _maildir_folders(directory: Path) -> list[Path]:
    """The Maildir itself, then its Maildir++ folders by name."""
    if not (directory / "cur").is_dir() and not (directory / "new").is_dir():
        raise InputError(
            f"{directory} is not a Maildir: it has no cur/ or new/ directory",
            hint="give the Maildir's top directory, or an mbox file",
        )
    folders = [p for p in directory.iterdir() if p.name.startswith(".") and (p / "cur").is_dir()]
    return [directory, *sorted(folders, key=lambda p: p.name)]


def _read_maildir(directory: Path) -> Iterable[ImportedMessage]:
    """The messages of one Maildir folder, oldest file name first; ``tmp/`` is skipped
    (files being delivered)."""
    files = [p for sub in ("new", "cur") for p in (directory / sub).glob("*") if p.is_file()]
    for path in sorted(files, key=lambda p: p.name):
        flags = maildir_flags(path.name) if path.parent.name == "cur" else ()
        when = datetime.fromtimestamp(int(path.stat().st_mtime), UTC)
        yield ImportedMessage(to_crlf(path.read_bytes()), flags, when)


def _write_file(path: Path, data: bytes, when: float) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.utime(path, (when, when))
