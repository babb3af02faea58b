"""FETCH and UID FETCH (RFC 3501 §6.4.5, §6.4.8), with CONDSTORE's MODSEQ and
CHANGEDSINCE (RFC 7162 §3.1.4).

What is loaded depends on the items: flags, UID, MODSEQ, INTERNALDATE and RFC822.SIZE
come from the session's view; ENVELOPE, BODYSTRUCTURE and header sections from the
sealed summaries (one query, no body opened; ENVELOPE alone reads only the summary's
envelope section); only items that need the message's octets open its body, one
message at a time, one query each. A non-PEEK body item sets
``\\Seen`` first, in one store call for the whole set, and the response then carries
the new FLAGS (RFC 3501 §6.4.5).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from postseal.errors import NotFoundError
from postseal.mail.structure import (
    Envelope,
    MessageStructure,
    SummaryError,
    from_summary,
    parse,
)
from postseal.mail.structure.summary import summary_envelope
from postseal.protocols.imap import FetchSource, Tagged, data, render_fetch, values
from postseal.protocols.imap.commands import Fetch, FetchAttribute

from .selected import SelectedMailbox
from .session_handlers import Need, Registry

if TYPE_CHECKING:
    from .session import ImapSession

__all__ = ["HANDLERS", "out_of_range"]

HANDLERS = Registry()
_EMPTY = parse(b"\r\n")
_LISTING_ITEMS = frozenset({"INTERNALDATE", "RFC822.SIZE"})
_SUMMARY_ITEMS = frozenset({"ENVELOPE", "BODYSTRUCTURE", "RFC822.HEADER"})
_HEADER_CAP = 256 * 1024  # summaries keep at most this much of the header (ADR 0012)
_FLUSH_EVERY = 256
_EPOCH = datetime.fromtimestamp(0, UTC)  # a placeholder: never rendered (see _LISTING_ITEMS)


def out_of_range(tag: str) -> Tagged:
    return Tagged(tag, "BAD", "invalid message number: no such message in this mailbox")


def _needs_structure(item: FetchAttribute) -> bool:
    return item.name in _SUMMARY_ITEMS or (item.name == "BODY" and not item.needs_body)


@HANDLERS.on(Fetch, Need.SELECTED)
async def fetch(session: ImapSession, command: Fetch) -> Tagged:
    view = session.selected
    assert view is not None
    if not command.uid and view.seq_out_of_range(command.sequence_set):
        return out_of_range(command.tag)
    if command.changed_since is not None or any(i.name == "MODSEQ" for i in command.items):
        session.condstore = True
    uids = view.resolve(command.sequence_set, uid=command.uid)
    uids = [u for u in uids if u not in view.gone]
    if command.changed_since is not None:
        uids = [u for u in uids if view.modseqs.get(u, 0) > command.changed_since]
    if not uids:
        return Tagged(command.tag, "OK", "FETCH completed")
    seen_now = await _set_seen(session, view, command, uids)
    await _answer(session, view, command.items, uids, seen_now)
    return Tagged(command.tag, "OK", "FETCH completed")


async def _set_seen(
    session: ImapSession, view: SelectedMailbox, command: Fetch, uids: list[int]
) -> set[int]:
    if view.read_only or not command.sets_seen:
        return set()
    unseen = [u for u in uids if "\\Seen" not in view.flags.get(u, ())]
    if not unseen:
        return set()
    update = await session.ctx.mailboxes.set_flags(
        view.mailbox, view.uid_ranges(unseen), add=("\\Seen",), user=session.user
    )
    for change in update.changed:
        view.note_flags(change.uid, change.flags, change.modseq)
    return {change.uid for change in update.changed}


async def _answer(
    session: ImapSession,
    view: SelectedMailbox,
    items: tuple[FetchAttribute, ...],
    uids: list[int],
    seen_now: set[int],
) -> None:
    service = session.ctx.mailboxes
    names = {item.name for item in items}
    stored = _listing(view, uids, needed=bool(names & _LISTING_ITEMS))
    if len(stored) < len(uids) and names & _LISTING_ITEMS:
        unknown = [u for u in uids if u not in stored]  # not in the view's metadata
        listed = await service.messages(view.mailbox, view.uid_ranges(unknown))
        stored.update((m.uid, (m.internal_date, m.size)) for m in listed)
    needs_body = any(item.needs_body for item in items)
    needs_structure = not needs_body and any(_needs_structure(item) for item in items)
    envelope_only = needs_structure and all(
        item.name == "ENVELOPE" or not _needs_structure(item) for item in items
    )
    summaries: dict[int, bytes] = {}
    memo: dict[object, bytes] = {}  # renderings shared by this command's messages
    if needs_structure:
        wanted = [u for u in uids if u in stored]
        email_ids = {u: m[0] for u in wanted if (m := view.meta.get(u)) is not None}
        summaries = await service.summaries(view.mailbox, wanted, email_ids=email_ids)
    for count, uid in enumerate(uids, 1):
        listing = stored.get(uid)
        if listing is None:
            continue  # expunged by another session since the view was updated
        structure: MessageStructure | None = _EMPTY
        found: Envelope | None = None
        raw: bytes | None = None
        use_body = needs_body
        if needs_structure:
            summary = summaries.get(uid)
            found = _envelope(summary) if envelope_only else None
            if found is None:
                structure = _structure(summary)
                # no usable summary: the body answers
                use_body = structure is None or _header_cut(structure, items)
        if use_body:
            try:
                raw = await service.body(view.mailbox, uid, email_id=view.email_id(uid))
            except NotFoundError:
                continue
            structure = None
        source = FetchSource(
            uid=uid,
            flags=view.flags.get(uid, ()),
            internal_date=listing[0],
            size=listing[1],
            modseq=view.modseqs.get(uid, 0),
            structure=structure,
            raw=raw,
            envelope=found,
        )
        _send(session, view, items, source, seen_now, memo)
        if count % _FLUSH_EVERY == 0:
            await session.flush()


def _listing(
    view: SelectedMailbox, uids: list[int], *, needed: bool
) -> dict[int, tuple[datetime, int]]:
    """INTERNALDATE and RFC822.SIZE from the view (they never change while a UID
    lives); placeholders when no item shows them."""
    if not needed:
        return dict.fromkeys(uids, (_EPOCH, 0))
    return {u: (m[1], m[2]) for u in uids if (m := view.meta.get(u)) is not None}


def _envelope(summary: bytes | None) -> Envelope | None:
    if summary is None:
        return None
    try:
        return summary_envelope(summary)
    except SummaryError:
        return None


def _structure(summary: bytes | None) -> MessageStructure | None:
    if summary is None:
        return None
    try:
        return from_summary(summary)
    except SummaryError:
        return None


def _header_cut(structure: MessageStructure, items: tuple[FetchAttribute, ...]) -> bool:
    """Whether a header section is asked for and the summary holds a truncated header."""
    if len(structure.header) < _HEADER_CAP:
        return False
    return any(item.name in ("BODY", "RFC822.HEADER") for item in items)


def _send(
    session: ImapSession,
    view: SelectedMailbox,
    items: tuple[FetchAttribute, ...],
    source: FetchSource,
    seen_now: set[int],
    memo: dict[object, bytes],
) -> None:
    seq = view.seq_of(source.uid)
    if seq is None:
        return
    rendered = render_fetch(items, source, utf8=session.utf8, memo=memo)
    if source.uid in seen_now and not any(item.name == "FLAGS" for item in items):
        rendered = (*rendered, ("FLAGS", values.flag_list(source.flags)))
    session.send(data.FetchData(seq, rendered))
