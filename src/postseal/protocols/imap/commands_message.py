"""Message commands that change things: STORE (RFC 3501 §6.4.6, RFC 7162 §3.1.3
UNCHANGEDSINCE), COPY (§6.4.7, RFC 4315 COPYUID), MOVE (RFC 6851), EXPUNGE (§6.4.3),
UID EXPUNGE (RFC 4315 §2.1), CLOSE (§6.4.2) and UNSELECT (RFC 3691)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from postseal.protocols.imap import Code, SequenceSet, Tagged, Untagged, data, values
from postseal.protocols.imap.commands import Close, Copy, Expunge, Move, Store, Unselect

from .commands_fetch import out_of_range
from .replies import Stage
from .selected import SelectedMailbox
from .session_handlers import Need, Registry

if TYPE_CHECKING:
    from .session import ImapSession

__all__ = ["HANDLERS"]

HANDLERS = Registry()
_READ_ONLY = "the mailbox is open read-only (EXAMINE); SELECT it to change it"


def _targets(view: SelectedMailbox, numbers: SequenceSet, *, uid: bool) -> list[int]:
    return [u for u in view.resolve(numbers, uid=uid) if u not in view.gone]


@HANDLERS.on(Store, Need.SELECTED)
async def store(session: ImapSession, command: Store) -> Tagged:
    view = session.selected
    assert view is not None
    if not command.uid and view.seq_out_of_range(command.sequence_set):
        return out_of_range(command.tag)
    if view.read_only:
        return Tagged(command.tag, "NO", _READ_ONLY)
    if command.unchanged_since is not None:
        session.condstore = True
    uids = _targets(view, command.sequence_set, uid=command.uid)
    if not uids:
        return Tagged(command.tag, "OK", "STORE completed")
    flags = tuple(f for f in command.flags if f.lower() != "\\recent")
    add = flags if command.mode == "add" else ()
    remove = flags if command.mode == "remove" else ()
    replace = flags if command.mode == "replace" else None
    update = await session.ctx.mailboxes.set_flags(
        view.mailbox,
        view.uid_ranges(uids),
        add=add,
        remove=remove,
        replace=replace,
        unchanged_since=command.unchanged_since,
        user=session.user,
    )
    known = len(view.keywords)
    for change in update.changed:
        view.note_flags(change.uid, change.flags, change.modseq)
    if len(view.keywords) > known:  # RFC 3501 §7.2.6: a new keyword changes FLAGS
        session.send(data.Flags(view.all_flags()))
        session.send(
            Untagged("OK", "Flags permitted", Code.permanent_flags(view.permanent_flags()))
        )
    failed = set(update.failed_modified)
    changed = {change.uid for change in update.changed}
    for uid in uids:
        seq = view.seq_of(uid)
        if seq is None or uid in failed:
            continue
        items: list[tuple[str, bytes]] = []
        if command.silent:
            # RFC 7162 §3.1.3: .SILENT still reports the new MODSEQ under UNCHANGEDSINCE
            if command.unchanged_since is None or uid not in changed:
                continue
        else:
            items.append(("FLAGS", values.flag_list(view.flags.get(uid, ()))))
        if command.uid:
            items.append(("UID", b"%d" % uid))
        if session.condstore:
            items.append(("MODSEQ", b"(%d)" % view.modseqs.get(uid, 0)))
        session.send(data.FetchData(seq, tuple(items)))
    if failed:
        numbers = sorted(failed) if command.uid else sorted(view.seq_of(u) or 0 for u in failed)
        code = Code.modified(SequenceSet.of(numbers))
        return Tagged(command.tag, "OK", "Conditional STORE failed for some messages", code)
    return Tagged(command.tag, "OK", "STORE completed")


@HANDLERS.on(Copy, Need.SELECTED, Stage.DELIVER)
async def copy(session: ImapSession, command: Copy) -> Tagged:
    view = session.selected
    assert view is not None
    assert session.user is not None
    if not command.uid and view.seq_out_of_range(command.sequence_set):
        return out_of_range(command.tag)
    uids = _targets(view, command.sequence_set, uid=command.uid)
    if not uids:
        return Tagged(command.tag, "OK", "No messages to copy")
    uidvalidity, pairs = await session.ctx.mailboxes.copy(
        session.user, view.mailbox, view.uid_ranges(uids), command.mailbox
    )
    return Tagged(command.tag, "OK", "COPY completed", _copy_uid(uidvalidity, pairs))


def _copy_uid(uidvalidity: int, pairs: list[tuple[int, int]]) -> Code | None:
    """RFC 4315 §3: the two sets list source and target UIDs in corresponding order."""
    if not pairs:
        return None
    pairs = sorted(pairs)
    sources = [source for source, _ in pairs]
    targets = [target for _, target in pairs]
    if targets == sorted(targets):
        source, target = str(SequenceSet.of(sources)), str(SequenceSet.of(targets))
    else:
        source, target = ",".join(map(str, sources)), ",".join(map(str, targets))
    return Code("COPYUID", f"{uidvalidity} {source} {target}".encode("ascii"))


@HANDLERS.on(Move, Need.SELECTED, Stage.DELIVER)
async def move(session: ImapSession, command: Move) -> Tagged:
    """RFC 6851 §3.3: COPYUID in an untagged OK, then an EXPUNGE for each message moved,
    then the tagged OK."""
    view = session.selected
    assert view is not None
    assert session.user is not None
    if not command.uid and view.seq_out_of_range(command.sequence_set):
        return out_of_range(command.tag)
    if view.read_only:
        return Tagged(command.tag, "NO", _READ_ONLY)
    uids = _targets(view, command.sequence_set, uid=command.uid)
    if not uids:
        return Tagged(command.tag, "OK", "No messages to move")
    uidvalidity, pairs = await session.ctx.mailboxes.move(
        session.user, view.mailbox, view.uid_ranges(uids), command.mailbox
    )
    code = _copy_uid(uidvalidity, pairs)
    if code is not None:
        session.send(Untagged("OK", "Moved", code))
    _announce_expunged(session, view, [source for source, _ in pairs])
    return Tagged(command.tag, "OK", "MOVE completed")


def _announce_expunged(session: ImapSession, view: SelectedMailbox, uids: list[int]) -> None:
    for uid in sorted(uids, reverse=True):
        seq = view.remove(uid)
        if seq is not None:
            session.send(data.Expunged(seq))


@HANDLERS.on(Expunge, Need.SELECTED)
async def expunge(session: ImapSession, command: Expunge) -> Tagged:
    view = session.selected
    assert view is not None
    if view.read_only:
        return Tagged(command.tag, "NO", _READ_ONLY)
    ranges = None
    if command.uid_set is not None:
        uids = _targets(view, command.uid_set, uid=True)
        if not uids:
            return Tagged(command.tag, "OK", "EXPUNGE completed")
        ranges = view.uid_ranges(uids)
    removed = await session.ctx.mailboxes.expunge(view.mailbox, ranges, user=session.user)
    _announce_expunged(session, view, removed)
    return Tagged(command.tag, "OK", "EXPUNGE completed")


@HANDLERS.on(Close, Need.SELECTED)
async def close(session: ImapSession, command: Close) -> Tagged:
    """RFC 3501 §6.4.2: expunge silently (not in EXAMINE), then leave the mailbox."""
    view = session.selected
    assert view is not None
    session.selected = None
    if not view.read_only:
        await session.ctx.mailboxes.expunge(view.mailbox, user=session.user)
    return Tagged(command.tag, "OK", "CLOSE completed")


@HANDLERS.on(Unselect, Need.SELECTED)
async def unselect(session: ImapSession, command: Unselect) -> Tagged:
    session.selected = None
    return Tagged(command.tag, "OK", "UNSELECT completed")
