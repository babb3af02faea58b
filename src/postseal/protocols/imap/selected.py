"""The selected mailbox as one session sees it (RFC 3501 §2.3.1.2, §5.2, §7.4.1).

A session numbers the messages it knows 1..n in UID order; that numbering changes only
when the session itself announces it: ``* n EXISTS`` for arrivals, ``* n EXPUNGE`` for
removals. :class:`SelectedMailbox` keeps that view — UIDs, flags and MODSEQ of each
message — and :meth:`SelectedMailbox.apply` turns what the store says changed since the
view's MODSEQ into the untagged responses that bring the client up to date.

Expunges are held back while a FETCH, STORE or SEARCH by sequence number runs (RFC 3501
§7.4.1: they would renumber the messages the client is addressing); the UIDs stay in the
view, marked gone, until the next command that may announce them.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from postseal.protocols.imap import data, responses, values
from postseal.protocols.imap.responses import Code
from postseal.protocols.imap.sets import SequenceSet
from postseal.store.ports.mailbox_records import (
    MAX_UID,
    Mailbox,
    MailboxChanges,
    StoredMessage,
    UidSet,
)

__all__ = ["SYSTEM_FLAGS", "Meta", "SelectedMailbox", "Untagged"]

SYSTEM_FLAGS = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")

Meta = tuple[str, datetime, int]
"""(EMAILID, INTERNALDATE, RFC822.SIZE): what never changes while a UID lives, kept in
the view so that listings and SEARCH need no metadata query."""

Untagged = (
    data.Exists
    | data.Expunged
    | data.FetchData
    | data.Flags
    | data.Vanished
    | data.Recent
    | responses.Untagged
)


@dataclass(slots=True)
class SelectedMailbox:
    mailbox: Mailbox
    read_only: bool
    uids: list[int] = field(default_factory=list)
    flags: dict[int, tuple[str, ...]] = field(default_factory=dict)
    modseqs: dict[int, int] = field(default_factory=dict)
    modseq: int = 0
    gone: set[int] = field(default_factory=set)  # expunged elsewhere, not yet announced
    keywords: set[str] = field(default_factory=set)
    meta: dict[int, Meta] = field(default_factory=dict)  # fixed for a UID's life
    version: int = -1  # the service's change counter at the last store check
    checked_at: float = 0.0  # time.monotonic() of the last store check

    @classmethod
    def load(
        cls,
        mailbox: Mailbox,
        messages: Iterable[StoredMessage],
        *,
        modseq: int,
        read_only: bool,
    ) -> SelectedMailbox:
        """The view right after SELECT; ``modseq`` is the HIGHESTMODSEQ read *before*
        the messages were listed, so a change racing the listing is seen again, never
        missed."""
        view = cls(mailbox, read_only, modseq=modseq)
        for message in messages:
            view.uids.append(message.uid)
            view.flags[message.uid] = message.flags
            view.modseqs[message.uid] = message.modseq
            view.meta[message.uid] = (message.email_id, message.internal_date, message.size)
            view.keywords.update(f for f in message.flags if not f.startswith("\\"))
        view.uids.sort()
        return view

    def email_id(self, uid: int) -> str | None:
        found = self.meta.get(uid)
        return None if found is None else found[0]

    # -- numbering -------------------------------------------------------------------

    @property
    def exists(self) -> int:
        return len(self.uids)

    def seq_of(self, uid: int) -> int | None:
        index = bisect_left(self.uids, uid)
        if index < len(self.uids) and self.uids[index] == uid:
            return index + 1
        return None

    def resolve(self, numbers: SequenceSet, *, uid: bool) -> list[int]:
        """The UIDs of the messages a set names, ascending; ``*`` is the last message
        (RFC 3501 §9 seq-number). A UID set may name UIDs that are not there: they are
        ignored (RFC 3501 §6.4.8)."""
        if not self.uids:
            return []
        if uid:
            spans = numbers.resolve(self.uids[-1])
            out: list[int] = []
            for low, high in spans:
                start = bisect_left(self.uids, low)
                stop = bisect_left(self.uids, high + 1)
                out.extend(self.uids[start:stop])
            return out
        return [self.uids[n - 1] for n in numbers.iter(len(self.uids))]

    def seq_out_of_range(self, numbers: SequenceSet) -> bool:
        """Whether a message-number set names a number above the last message
        (RFC 3501 §9: such a set is invalid, BAD)."""
        return any(high > len(self.uids) for _, high in numbers.resolve(len(self.uids)))

    @staticmethod
    def uid_ranges(uids: list[int]) -> UidSet:
        return [(low or 1, high or MAX_UID) for low, high in SequenceSet.of(uids).ranges]

    def permanent_flags(self) -> tuple[str, ...]:
        return (*SYSTEM_FLAGS, "\\*")

    def all_flags(self) -> tuple[str, ...]:
        return (*SYSTEM_FLAGS, *sorted(self.keywords))

    def first_unseen(self) -> int | None:
        for index, uid in enumerate(self.uids):
            if "\\Seen" not in self.flags.get(uid, ()):
                return index + 1
        return None

    # -- changes ---------------------------------------------------------------------

    def note_flags(self, uid: int, flags: tuple[str, ...], modseq: int) -> None:
        """Record a change this session made itself (it answers it in its own words)."""
        if uid in self.flags:
            self.flags[uid] = flags
            self.modseqs[uid] = modseq
            self.keywords.update(f for f in flags if not f.startswith("\\"))

    def remove(self, uid: int) -> int | None:
        """Forget an expunged message; its sequence number before removal, if known."""
        seq = self.seq_of(uid)
        if seq is None:
            return None
        del self.uids[seq - 1]
        self.flags.pop(uid, None)
        self.modseqs.pop(uid, None)
        self.meta.pop(uid, None)
        self.gone.discard(uid)
        return seq

    def apply(self, changes: MailboxChanges, *, expunge: bool, condstore: bool) -> list[Untagged]:
        """Untagged responses for ``changes`` (RFC 3501 §7.3.1, §7.4.1, §7.4.2; RFC 7162
        §3.1.4.1: with CONDSTORE enabled a flag change also carries its MODSEQ)."""
        out: list[Untagged] = []
        self.gone.update(u for u in changes.vanished if self.seq_of(u) is not None)
        if expunge:
            out.extend(self.flush_expunges())
        last = self.uids[-1] if self.uids else 0
        new_keywords = False
        arrived = False
        for message in changes.changed:
            uid = message.uid
            if uid > last:
                self.uids.append(uid)
                self.meta[uid] = (message.email_id, message.internal_date, message.size)
                last = uid
                arrived = True
            elif uid not in self.flags or uid in self.gone:
                continue
            elif self.flags[uid] == message.flags:
                self.modseqs[uid] = message.modseq
                continue
            else:
                out.append(self._fetch_flags(uid, message, condstore))
            fresh = {f for f in message.flags if not f.startswith("\\")} - self.keywords
            if fresh:
                self.keywords.update(fresh)
                new_keywords = True
            self.flags[uid] = message.flags
            self.modseqs[uid] = message.modseq
        if new_keywords:
            out.insert(0, data.Flags(self.all_flags()))
            if not self.read_only:
                permanent = Code.permanent_flags(self.permanent_flags())
                out.insert(1, responses.Untagged("OK", "Flags permitted", permanent))
        if arrived:
            out.append(data.Exists(len(self.uids)))
        self.modseq = max(self.modseq, changes.highestmodseq)
        return out

    def flush_expunges(self) -> list[Untagged]:
        out: list[Untagged] = []
        for uid in sorted(self.gone, reverse=True):
            seq = self.remove(uid)
            if seq is not None:
                out.append(data.Expunged(seq))
        self.gone.clear()
        return out

    def _fetch_flags(self, uid: int, message: StoredMessage, condstore: bool) -> data.FetchData:
        seq = self.seq_of(uid) or 0
        items: list[tuple[str, bytes]] = [("FLAGS", values.flag_list(message.flags))]
        items.append(("UID", b"%d" % uid))
        if condstore:
            items.append(("MODSEQ", b"(%d)" % message.modseq))
        return data.FetchData(seq, tuple(items))
