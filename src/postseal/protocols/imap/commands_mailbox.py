"""Mailbox commands: SELECT, EXAMINE, CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE,
STATUS, APPEND (RFC 3501 §6.3), with RFC 7162 CONDSTORE on SELECT, RFC 6154 §3 USE on
CREATE and RFC 4315 §3 APPENDUID. LIST and LSUB are in :mod:`.commands_list`."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from postseal.errors import ConflictError, PolicyError
from postseal.protocols.imap import Code, SequenceSet, Tagged, Untagged, data
from postseal.protocols.imap.commands import (
    Append,
    Create,
    Delete,
    Examine,
    Rename,
    Select,
    Status,
    Subscribe,
    Unsubscribe,
)
from postseal.store.ports.mailbox_records import INBOX, MailboxStatus, SpecialUse

from .replies import Stage
from .selected import SelectedMailbox
from .session_handlers import Need, Registry

if TYPE_CHECKING:
    from .session import ImapSession

__all__ = ["HANDLERS", "status_items"]

HANDLERS = Registry()


def _clean(name: str) -> str:
    """RFC 3501 §6.3.3: a trailing hierarchy separator only says "this will have
    children"; the mailbox created is the name without it."""
    return name.rstrip("/") or name


@HANDLERS.on(Select, Need.AUTHENTICATED, Stage.SELECT)
async def select(session: ImapSession, command: Select) -> Tagged:
    return await _open(session, command.tag, command.mailbox, command.condstore, read_only=False)


@HANDLERS.on(Examine, Need.AUTHENTICATED, Stage.SELECT)
async def examine(session: ImapSession, command: Examine) -> Tagged:
    return await _open(session, command.tag, command.mailbox, command.condstore, read_only=True)


async def _open(
    session: ImapSession, tag: str, name: str, condstore: bool, *, read_only: bool
) -> Tagged:
    """RFC 3501 §6.3.1: a failed SELECT leaves no mailbox selected. RFC 7162 §3.1.8:
    ``(CONDSTORE)`` enables CONDSTORE; HIGHESTMODSEQ is always reported."""
    if session.selected is not None:
        session.selected = None
        session.send(Untagged("OK", "previous mailbox closed", Code("CLOSED")))
    assert session.user is not None
    service = session.ctx.mailboxes
    mailbox = await service.find(session.user, name)
    if mailbox.user_id != session.user.id:
        # RFC 4314 §4: SELECT needs "r"; without a right to change anything it is read-only
        rights = await service.rights(session.user, mailbox)
        if "r" not in rights:
            raise PolicyError(f"you may not read mailbox {mailbox.name}")
        read_only = read_only or not set("stwe") & set(rights)
    version = service.change_version(mailbox.id)  # before the read: a race is seen again
    listing = await service.listing(mailbox)
    current = listing.mailbox
    view = SelectedMailbox.load(
        mailbox, listing.messages, modseq=current.highestmodseq, read_only=read_only
    )
    view.version, view.checked_at = version, time.monotonic()
    if condstore:
        session.condstore = True
    session.send(data.Flags(view.all_flags()))
    session.send(data.Exists(view.exists))
    session.send(data.Recent(0))
    unseen = view.first_unseen()
    if unseen is not None:
        session.send(
            Untagged("OK", f"Message {unseen} is first unseen", Code.number("UNSEEN", unseen))
        )
    session.send(Untagged("OK", "UIDs valid", Code.number("UIDVALIDITY", mailbox.uidvalidity)))
    session.send(Untagged("OK", "Predicted next UID", Code.number("UIDNEXT", current.uidnext)))
    flags = () if read_only else view.permanent_flags()
    session.send(Untagged("OK", "Flags permitted", Code.permanent_flags(flags)))
    session.send(Untagged("OK", "Highest", Code.number("HIGHESTMODSEQ", current.highestmodseq)))
    session.selected = view
    mode = "READ-ONLY" if read_only else "READ-WRITE"
    verb = "EXAMINE" if read_only else "SELECT"
    return Tagged(tag, "OK", f"{verb} completed", Code(mode))


@HANDLERS.on(Create, Need.AUTHENTICATED, Stage.CREATE)
async def create(session: ImapSession, command: Create) -> Tagged:
    assert session.user is not None
    name = _clean(command.mailbox)
    if name.upper() == INBOX:
        return Tagged(command.tag, "NO", "INBOX always exists", Code("ALREADYEXISTS"))
    special = None
    if command.special_use:
        if len(command.special_use) > 1:
            return Tagged(command.tag, "NO", "give one special use", Code("USEATTR"))
        try:
            special = SpecialUse(command.special_use[0].lstrip("\\").lower())
        except ValueError:
            return Tagged(
                command.tag, "NO", f"unknown special use {command.special_use[0]}", Code("USEATTR")
            )
    await session.ctx.mailboxes.create(session.user, name, special_use=special)
    return Tagged(command.tag, "OK", "CREATE completed")


@HANDLERS.on(Delete, Need.AUTHENTICATED, Stage.SELECT)
async def delete(session: ImapSession, command: Delete) -> Tagged:
    assert session.user is not None
    if command.mailbox == INBOX:
        return Tagged(command.tag, "NO", "INBOX cannot be deleted", Code("CANNOT"))
    view = session.selected
    await session.ctx.mailboxes.delete(session.user, command.mailbox)
    if view is not None and view.mailbox.name == command.mailbox:
        session.selected = None
        session.send(Untagged("OK", "the selected mailbox was deleted", Code("CLOSED")))
    return Tagged(command.tag, "OK", "DELETE completed")


@HANDLERS.on(Rename, Need.AUTHENTICATED, Stage.CREATE)
async def rename(session: ImapSession, command: Rename) -> Tagged:
    assert session.user is not None
    new = _clean(command.new_name)
    if new.upper() == INBOX:
        raise ConflictError("INBOX exists; choose another name")
    await session.ctx.mailboxes.rename(session.user, command.mailbox, new)
    return Tagged(command.tag, "OK", "RENAME completed")


@HANDLERS.on(Subscribe, Need.AUTHENTICATED, Stage.SELECT)
async def subscribe(session: ImapSession, command: Subscribe) -> Tagged:
    assert session.user is not None
    await session.ctx.mailboxes.subscribe(session.user, command.mailbox)
    return Tagged(command.tag, "OK", "SUBSCRIBE completed")


@HANDLERS.on(Unsubscribe, Need.AUTHENTICATED, Stage.SELECT)
async def unsubscribe(session: ImapSession, command: Unsubscribe) -> Tagged:
    assert session.user is not None
    await session.ctx.mailboxes.unsubscribe(session.user, command.mailbox)
    return Tagged(command.tag, "OK", "UNSUBSCRIBE completed")


def status_items(status: MailboxStatus, items: tuple[str, ...]) -> tuple[tuple[str, int], ...]:
    """The STATUS data items asked for (RFC 3501 §6.3.10; RECENT is always 0; SIZE and
    DELETED from RFC 9051 §6.3.11; HIGHESTMODSEQ from RFC 7162 §3.1.6)."""
    values = {
        "MESSAGES": status.messages,
        "RECENT": 0,
        "UIDNEXT": status.uidnext,
        "UIDVALIDITY": status.uidvalidity,
        "UNSEEN": status.unseen,
        "DELETED": status.deleted,
        "SIZE": status.size,
        "HIGHESTMODSEQ": status.highestmodseq,
    }
    return tuple((item, values[item]) for item in items if item in values)


@HANDLERS.on(Status, Need.AUTHENTICATED, Stage.SELECT)
async def status(session: ImapSession, command: Status) -> Tagged:
    assert session.user is not None
    service = session.ctx.mailboxes
    mailbox = await service.find(session.user, command.mailbox)
    current = await service.status(mailbox)
    if "HIGHESTMODSEQ" in command.items:
        session.condstore = True
    session.send(data.StatusData(mailbox.name, status_items(current, command.items)))
    return Tagged(command.tag, "OK", "STATUS completed")


@HANDLERS.on(Append, Need.AUTHENTICATED, Stage.DELIVER)
async def append(session: ImapSession, command: Append) -> Tagged:
    """RFC 3501 §6.3.11 with RFC 4315 §3 ``[APPENDUID uidvalidity uid]``; the message is
    stored as the octets of the literal, byte for byte."""
    assert session.user is not None
    if not command.message:
        return Tagged(command.tag, "NO", "an empty message cannot be appended", Code("CANNOT"))
    flags = tuple(f for f in command.flags if f.lower() != "\\recent")
    uidvalidity, uid = await session.ctx.mailboxes.append(
        session.user, command.mailbox, command.message, flags=flags, internal_date=command.date_time
    )
    code = Code.append_uid(uidvalidity, SequenceSet.of([uid]))
    return Tagged(command.tag, "OK", "APPEND completed", code)
