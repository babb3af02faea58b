"""Messages in mailboxes: reading (metadata, summaries, bodies), appending, flags,
expunge, copy and move, and change tracking (RFC 3501 §6.4, RFC 4315, RFC 6851,
RFC 7162).

Bodies and summaries are opened in memory only. Nothing derived from a message is ever
written in clear: a summary missing from the store (a message appended before summaries
existed) is computed from the body and stored sealed.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Mapping, Sequence
from datetime import datetime

from postseal.custody import sealing
from postseal.errors import NotFoundError, TooLargeError
from postseal.services import mailbox_sealing as sealed
from postseal.services.mailbox_access import MailboxCore, input_errors, no_mailbox
from postseal.services.mailbox_changes import CHANGES
from postseal.store.ports import (
    FlagUpdate,
    Mailbox,
    MailboxChanges,
    SealedBody,
    StoredMessage,
    UidSet,
    UserRecord,
)
from postseal.store.ports.mailbox_reads import MailboxListing

__all__ = ["POLL_SECONDS", "MessageOps", "uid_ranges"]

POLL_SECONDS = 0.25
"""How often :meth:`MessageOps.wait_for_change` re-reads HIGHESTMODSEQ (IDLE)."""


def uid_ranges(uids: Sequence[int]) -> UidSet:
    """UIDs as the fewest inclusive ranges (``[1, 2, 3, 7]`` → ``[(1, 3), (7, 7)]``)."""
    ranges: list[tuple[int, int]] = []
    for uid in sorted(set(uids)):
        if ranges and ranges[-1][1] == uid - 1:
            ranges[-1] = (ranges[-1][0], uid)
        else:
            ranges.append((uid, uid))
    return ranges


def _summary_of(key: bytes, mailbox_id: str, email_id: str, body: SealedBody) -> bytes:
    return sealed.summarise(sealed.open_body(key, mailbox_id, email_id, body))


def _flag_rights(flags: Sequence[str]) -> str:
    """RFC 4314 §4 (STORE): ``s`` for \\Seen, ``t`` for \\Deleted, ``w`` for the rest."""
    letters = {"s" if f.lower() == "\\seen" else "t" if f.lower() == "\\deleted" else "w"
               for f in flags}  # fmt: skip
    return "".join(sorted(letters))


class MessageOps(MailboxCore):
    async def messages(self, mailbox: Mailbox, uids: UidSet | None = None) -> list[StoredMessage]:
        """The messages among ``uids`` (None: all), by UID, without bodies."""
        return list(await self._store.reads.messages(mailbox.id, uids))

    async def listing(self, mailbox: Mailbox) -> MailboxListing:
        """The mailbox as it is now (UIDNEXT, HIGHESTMODSEQ) and all its messages, in one
        read (IMAP SELECT, RFC 3501 §6.3.1); NotFoundError when it was deleted."""
        found = await self._store.reads.listing(mailbox.id)
        if found is None:
            raise no_mailbox(mailbox.name)
        return found

    async def summaries(
        self,
        mailbox: Mailbox,
        uids: Sequence[int],
        *,
        email_ids: Mapping[int, str] | None = None,
    ) -> dict[int, bytes]:
        """The opened summaries (:func:`postseal.mail.structure.to_summary` bytes) of the
        messages among ``uids`` that exist; missing ones are computed from the body and
        stored sealed (``put_summary``) for next time.

        A caller that knows the messages' ``email_ids`` (IMAP sessions do) saves the
        metadata query: the summaries are read in one query and opened."""
        ranges = uid_ranges(uids)
        if not ranges:
            return {}
        if email_ids is not None:
            found = await self._store.reads.summaries(mailbox.id, ranges)
            key = self._mailbox_key(mailbox)
            out = {
                uid: sealed.open_summary(key, mailbox.id, email_ids[uid], blob)
                for uid, blob in found.items()
                if uid in email_ids
            }
            rest = [uid for uid in uids if uid not in out]
            if rest:
                out.update(await self.summaries(mailbox, rest))
            return out
        async with self._store.begin(readonly=True) as tx:
            stored = await tx.mailboxes.messages(mailbox.id, ranges)
            found = await tx.mailboxes.summaries(mailbox.id, ranges)
        key = self._mailbox_key(mailbox)
        out = {
            m.uid: sealed.open_summary(key, mailbox.id, m.email_id, found[m.uid])
            for m in stored
            if m.uid in found
        }
        for message in (m for m in stored if m.uid not in found):
            async with self._store.begin() as tx:
                body = await tx.mailboxes.body(mailbox.id, message.uid)
                if body is None:  # expunged meanwhile
                    continue
                summary = await sealed.offload(
                    message.size,
                    functools.partial(_summary_of, key, mailbox.id, message.email_id, body),
                )
                sealed_summary = sealed.seal_summary(key, mailbox.id, message.email_id, summary)
                try:
                    await tx.mailboxes.put_summary(mailbox.id, message.uid, sealed_summary)
                except NotFoundError:
                    continue
            out[message.uid] = summary
        return out

    async def body(self, mailbox: Mailbox, uid: int, *, email_id: str | None = None) -> bytes:
        """The message as it was stored, byte for byte (a signed message still verifies).
        NotFoundError when the UID does not exist (any more).

        A caller that knows the message's ``email_id`` (a UID's never changes: IMAP
        sessions have it from their listing) saves the metadata read: one query."""
        if email_id is not None:
            found = await self._store.reads.body(mailbox.id, uid)
            if found is None:
                raise NotFoundError(f"no message with UID {uid} in mailbox {mailbox.name}")
            key = self._mailbox_key(mailbox)
            return await sealed.offload(
                len(found.ciphertext),
                functools.partial(sealed.open_body, key, mailbox.id, email_id, found),
            )
        async with self._store.begin(readonly=True) as tx:
            message = await tx.mailboxes.get_message(mailbox.id, uid)
            sealed_body = None if message is None else await tx.mailboxes.body(mailbox.id, uid)
        if message is None or sealed_body is None:
            raise NotFoundError(f"no message with UID {uid} in mailbox {mailbox.name}")
        key = self._mailbox_key(mailbox)
        return await sealed.offload(
            message.size, lambda: sealed.open_body(key, mailbox.id, message.email_id, sealed_body)
        )

    async def bodies(self, mailbox: Mailbox, uids: Sequence[int]) -> dict[int, bytes]:
        """:meth:`body` of many messages in one transaction (SEARCH BODY/TEXT, bulk
        FETCH); UIDs that do not exist are left out. Callers bound ``uids`` (a few
        hundred at a time) so memory stays bounded."""
        ranges = uid_ranges(uids)
        if not ranges:
            return {}
        async with self._store.begin(readonly=True) as tx:
            stored = await tx.mailboxes.messages(mailbox.id, ranges)
            found = [(m, await tx.mailboxes.body(mailbox.id, m.uid)) for m in stored]
        key = self._mailbox_key(mailbox)
        out = {}
        for message, sealed_body in found:
            if sealed_body is not None:
                out[message.uid] = await sealed.offload(
                    message.size,
                    functools.partial(
                        sealed.open_body, key, mailbox.id, message.email_id, sealed_body
                    ),
                )
        return out

    async def append(
        self,
        user: UserRecord,
        name: str,
        data: bytes,
        *,
        flags: Sequence[str] = (),
        internal_date: datetime | None = None,
    ) -> tuple[int, int]:
        """Seal ``data`` (body and summary) into mailbox ``name`` (RFC 3501 §6.3.11);
        (UIDVALIDITY, UID) for APPENDUID (RFC 4315 §3). NotFoundError when the mailbox
        does not exist (IMAP: ``[TRYCREATE]``), TooLargeError over the message size limit,
        OverQuotaError over the owner's quota, InputError for a malformed flag."""
        if self._max_message_size is not None and len(data) > self._max_message_size:
            raise TooLargeError(
                f"the message has {len(data)} bytes; at most {self._max_message_size} are accepted",
                hint="send large files another way",
            )
        now = self._clock()
        async with self._store.begin(readonly=True) as tx:
            box = await self._resolve(tx, user, name, need="i", missing_hint="create it first")
        key = self._mailbox_key(box)
        email_id = sealing.new_id(now)
        message = await sealed.offload(
            len(data),
            lambda: sealed.seal_message(
                key,
                box.id,
                data,
                email_id=email_id,
                internal_date=internal_date or now,
                flags=flags,
            ),
        )
        async with self._store.begin() as tx:
            await self._check_quota(tx, box, size=len(data))
            with input_errors():
                stored = await tx.mailboxes.append(box.id, message)
        CHANGES.touch(box.id)
        return box.uidvalidity, stored.uid

    async def set_flags(
        self,
        mailbox: Mailbox,
        uids: UidSet,
        *,
        add: Sequence[str] = (),
        remove: Sequence[str] = (),
        replace: Sequence[str] | None = None,
        unchanged_since: int | None = None,
        user: UserRecord | None = None,
    ) -> FlagUpdate:
        """STORE (RFC 3501 §6.4.6) with UNCHANGEDSINCE (RFC 7162 §3.1.3). With ``user``,
        their rights are checked first (``s``, ``t``, ``w``; RFC 4314 §4)."""
        await self._check_rights(
            user, mailbox, lambda: "stw" if replace is not None else _flag_rights([*add, *remove])
        )
        async with self._store.begin() as tx:
            with input_errors():
                update = await tx.mailboxes.set_flags(
                    mailbox.id,
                    uids,
                    add=add,
                    remove=remove,
                    replace=replace,
                    unchanged_since=unchanged_since,
                )
        if update.changed:
            CHANGES.touch(mailbox.id)
        return update

    async def expunge(
        self, mailbox: Mailbox, uids: UidSet | None = None, *, user: UserRecord | None = None
    ) -> list[int]:
        """Remove the ``\\Deleted`` messages (among ``uids``: UID EXPUNGE, RFC 4315 §2.1);
        the UIDs removed, ascending. With ``user``, the ``e`` right is checked."""
        await self._check_rights(user, mailbox, lambda: "e")
        async with self._store.begin() as tx:
            removed = list(await tx.mailboxes.expunge(mailbox.id, uids))
        if removed:
            CHANGES.touch(mailbox.id)
        return removed

    async def copy(
        self, user: UserRecord, mailbox: Mailbox, uids: UidSet, target: str
    ) -> tuple[int, list[tuple[int, int]]]:
        """COPY (RFC 3501 §6.4.7): (target UIDVALIDITY, [(source UID, target UID)]) for
        COPYUID (RFC 4315 §3). Only the message keys are re-wrapped. NotFoundError when
        the target does not exist (IMAP: ``[TRYCREATE]``); OverQuotaError."""
        return await self._transfer(user, mailbox, uids, target, move=False)

    async def move(
        self, user: UserRecord, mailbox: Mailbox, uids: UidSet, target: str
    ) -> tuple[int, list[tuple[int, int]]]:
        """MOVE (RFC 6851 §3.1): copy, then remove from the source whatever the flags,
        in one transaction."""
        return await self._transfer(user, mailbox, uids, target, move=True)

    async def _transfer(
        self, user: UserRecord, source: Mailbox, uids: UidSet, target: str, *, move: bool
    ) -> tuple[int, list[tuple[int, int]]]:
        async with self._store.begin() as tx:
            if source.user_id != user.id:
                self._require(source, await self._rights(tx, user, source), "rte" if move else "r")
            box = await self._resolve(tx, user, target, need="i", missing_hint="create it first")
            if source.user_id != box.user_id:
                sizes = [m.size for m in await tx.mailboxes.messages(source.id, uids)]
                await self._check_quota(tx, box, size=sum(sizes), messages=len(sizes))
            keys = await tx.mailboxes.message_keys(source.id, uids)
            bodies, summaries = sealed.rewrap_keys(self._master, source, box, keys)
            run = tx.mailboxes.move if move else tx.mailboxes.copy
            pairs = await run(source.id, uids, box.id, bodies, summaries=summaries)
        CHANGES.touch(source.id, box.id)
        return box.uidvalidity, list(pairs)

    async def changes_since(self, mailbox: Mailbox, modseq: int) -> MailboxChanges:
        """Messages changed and UIDs expunged after ``modseq`` (RFC 7162 §3.1.4,
        RFC 7162 §3.2.5.2 VANISHED)."""
        return await self._store.reads.changes_since(mailbox.id, modseq)

    def change_version(self, mailbox_id: str) -> int:
        """This process's change counter of the mailbox (:mod:`.mailbox_changes`): it
        moves after every write the process makes; other processes' writes need
        :meth:`highest_modseq`."""
        return CHANGES.version(mailbox_id)

    async def highest_modseq(self, mailbox_id: str) -> int:
        """HIGHESTMODSEQ (RFC 7162 §3.1.1) from the mailbox row alone; NotFoundError when
        the mailbox was deleted."""
        found = await self._store.reads.highest_modseq(mailbox_id)
        if found is None:
            raise no_mailbox(mailbox_id, hint="it was deleted")
        return found

    async def wait_for_change(
        self,
        mailbox_id: str,
        known_modseq: int,
        *,
        timeout: float,  # noqa: ASYNC109 - the API IMAP's IDLE loop calls with its tick
    ) -> bool:
        """Wait until the mailbox's HIGHESTMODSEQ differs from ``known_modseq`` (or the
        mailbox is gone): True then, False after ``timeout`` seconds. IDLE (RFC 2177)
        polls the one-row read every :data:`POLL_SECONDS`, on every database."""
        deadline = time.monotonic() + timeout
        while True:
            current = await self._store.reads.highest_modseq(mailbox_id)
            if current != known_modseq:
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            await asyncio.sleep(min(POLL_SECONDS, left))
