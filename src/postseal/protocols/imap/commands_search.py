"""SEARCH and UID SEARCH (RFC 3501 §6.4.4, §6.4.8) with ESEARCH result options (RFC 4731)
and CONDSTORE's MODSEQ key (RFC 7162 §3.1.5).

The pure :func:`~postseal.protocols.imap.search.matches` decides; this module loads what
the key needs and no more (:func:`~postseal.protocols.imap.search.needs`): flags, sets,
MODSEQ, dates and sizes from the session's view, header keys from the header section of
the sealed summaries (one query), BODY and TEXT from each message's body, opened one at
a time so a large mailbox is never held in memory at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from postseal.errors import NotFoundError
from postseal.mail.structure import MessageStructure, SummaryError
from postseal.mail.structure.summary import summary_header
from postseal.protocols.imap import Code, SequenceSet, Tagged, data, search
from postseal.protocols.imap.commands import Search
from postseal.protocols.imap.search import Candidate, SearchKey

from .session_handlers import Need, Registry

if TYPE_CHECKING:
    from .session import ImapSession

__all__ = ["HANDLERS"]

HANDLERS = Registry()
_CHARSETS = (None, "UTF-8", "US-ASCII")
_RETURNS = frozenset({"MIN", "MAX", "ALL", "COUNT"})


def _uses_modseq(key: SearchKey) -> bool:
    if isinstance(key, search.ModSeq):
        return True
    if isinstance(key, search.Not):
        return _uses_modseq(key.key)
    if isinstance(key, search.Or):
        return _uses_modseq(key.left) or _uses_modseq(key.right)
    if isinstance(key, search.And):
        return any(_uses_modseq(k) for k in key.keys)
    return False


def _summary_loader(summary: bytes | None) -> MessageStructure | None:
    """The header of a summary (header keys read nothing else; BODY and TEXT keys need
    the message itself and parse it)."""
    if summary is None:
        return None
    try:
        return summary_header(summary)
    except SummaryError:
        return None


@HANDLERS.on(Search, Need.SELECTED)
async def search_messages(session: ImapSession, command: Search) -> Tagged:
    view = session.selected
    assert view is not None
    if command.charset not in _CHARSETS:
        return Tagged(command.tag, "NO", "unsupported charset", Code.bad_charset())
    returns = command.returns
    if returns is not None and not set(returns) <= _RETURNS:
        return Tagged(command.tag, "BAD", "SEARCH RETURN takes MIN, MAX, ALL and COUNT")
    with_modseq = _uses_modseq(command.key)
    if with_modseq:
        session.condstore = True
    service = session.ctx.mailboxes
    need = search.needs(command.key)
    # INTERNALDATE and size never change while a UID lives: the view has them
    stored = {uid: (m[1], m[2]) for uid, m in view.meta.items()}
    if len(stored) < len(view.uids):
        listed = await service.messages(view.mailbox)
        stored.update((m.uid, (m.internal_date, m.size)) for m in listed)
    summaries: dict[int, bytes] = {}
    if need == "summary":
        live = [uid for uid in view.uids if uid not in view.gone]
        email_ids = {uid: m[0] for uid in live if (m := view.meta.get(uid)) is not None}
        summaries = await service.summaries(view.mailbox, live, email_ids=email_ids)
    largest_seq = len(view.uids)
    largest_uid = view.uids[-1] if view.uids else 0
    found: list[tuple[int, int, int]] = []  # (seq, uid, modseq)
    for index, uid in enumerate(view.uids):
        listing = stored.get(uid)
        if listing is None or uid in view.gone:
            continue
        candidate = Candidate(
            seq=index + 1,
            uid=uid,
            flags=frozenset(view.flags.get(uid, ())),
            internal_date=listing[0],
            size=listing[1],
            largest_seq=largest_seq,
            largest_uid=largest_uid,
            modseq=view.modseqs.get(uid, 0),
        )
        structure = _summary_loader(summaries.get(uid))
        if structure is not None:
            candidate.load_summary = lambda s=structure: s
        if need == "raw" or (need == "summary" and structure is None):
            try:
                raw = await service.body(view.mailbox, uid, email_id=view.email_id(uid))
            except NotFoundError:
                continue
            candidate.load_raw = lambda r=raw: r
        if search.matches(command.key, candidate):
            found.append((index + 1, uid, candidate.modseq))
    numbers = [uid if command.uid else seq for seq, uid, _ in found]
    highest = max((m for _, _, m in found), default=None) if with_modseq else None
    if returns is None:
        session.send(data.SearchData(tuple(numbers), modseq=highest))
    else:
        session.send(_esearch(command, numbers, highest))
    return Tagged(command.tag, "OK", "SEARCH completed")


def _esearch(command: Search, numbers: list[int], highest: int | None) -> data.ESearch:
    """RFC 4731 §3.1: ``RETURN ()`` means ALL; absent results are left out."""
    wanted = set(command.returns or ()) or {"ALL"}
    return data.ESearch(
        tag=command.tag,
        uid=command.uid,
        min=min(numbers) if numbers and "MIN" in wanted else None,
        max=max(numbers) if numbers and "MAX" in wanted else None,
        all=SequenceSet.of(numbers) if numbers and "ALL" in wanted else None,
        count=len(numbers) if "COUNT" in wanted else None,
        modseq=highest,
    )
