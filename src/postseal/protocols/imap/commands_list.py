"""LIST and LSUB (RFC 3501 §6.3.8-9) with LIST-EXTENDED (RFC 5258), CHILDREN (RFC 3348),
SPECIAL-USE (RFC 6154) and LIST-STATUS (RFC 5819).

The hierarchy separator is ``/``. ``*`` matches anything, ``%`` anything but ``/``
(RFC 3501 §6.3.8). A level that holds mailboxes but is none itself (``a`` of ``a/b``)
is listed as ``\\Noselect`` when a pattern matches it. Every reply carries
``\\HasChildren`` or ``\\HasNoChildren`` and the special-use attribute, as Dovecot does;
clients (Thunderbird, Apple Mail) read them from a plain LIST.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING

from postseal.protocols.imap import Tagged, data
from postseal.protocols.imap.commands import List, Lsub
from postseal.store.ports.mailbox_records import INBOX, Mailbox

from .commands_mailbox import status_items
from .replies import Stage
from .session_handlers import Need, Registry

if TYPE_CHECKING:
    from .session import ImapSession

__all__ = ["HANDLERS", "pattern_matches"]

HANDLERS = Registry()
DELIMITER = "/"


@lru_cache(maxsize=256)
def _pattern(pattern: str) -> re.Pattern[str]:
    parts = []
    for char in pattern:
        if char == "*":
            parts.append(".*")
        elif char == "%":
            parts.append("[^/]*")
        else:
            parts.append(re.escape(char))
    return re.compile("".join(parts) + r"\Z", re.DOTALL)


def pattern_matches(pattern: str, name: str) -> bool:
    """Whether ``name`` matches the LIST ``pattern``; INBOX in any case is INBOX."""
    if name == INBOX:
        folded = pattern[:5].upper() + pattern[5:] if pattern[:5].upper() == INBOX else pattern
        return bool(_pattern(folded).match(name))
    return bool(_pattern(pattern).match(name))


def _full_pattern(reference: str, pattern: str) -> str:
    """RFC 3501 §6.3.8: the pattern is interpreted relative to the reference."""
    if not reference or pattern.startswith(DELIMITER):
        return pattern
    if reference.endswith(DELIMITER):
        return reference + pattern
    return reference + DELIMITER + pattern


def _parents(name: str) -> list[str]:
    levels = name.split(DELIMITER)
    return [DELIMITER.join(levels[:n]) for n in range(1, len(levels))]


@HANDLERS.on(List, Need.AUTHENTICATED, Stage.SELECT)
async def list_mailboxes(session: ImapSession, command: List) -> Tagged:
    assert session.user is not None
    service = session.ctx.mailboxes
    if command.patterns == ("",):
        # RFC 3501 §6.3.8: the empty pattern asks for the delimiter and the root.
        session.send(data.ListData(("\\Noselect",), DELIMITER, ""))
        return Tagged(command.tag, "OK", "LIST completed")
    boxes = {box.name: box for box in await service.list_mailboxes(session.user)}
    subscribed: set[str] = set()
    if "SUBSCRIBED" in command.selection or "SUBSCRIBED" in command.returns:
        subscribed = set(await service.subscriptions(session.user))
    names = set(boxes)
    for name in list(boxes):
        names.update(_parents(name))
    if "SUBSCRIBED" in command.selection:
        names.update(subscribed)
    with_children = {parent for name in names for parent in _parents(name)}
    patterns = [_full_pattern(command.reference, p) for p in command.patterns]
    for name in sorted(names, key=lambda n: (n != INBOX, n)):
        if not any(pattern_matches(p, name) for p in patterns):
            continue
        box = boxes.get(name)
        if "SUBSCRIBED" in command.selection and name not in subscribed:
            continue
        if "SPECIAL-USE" in command.selection and (box is None or box.special_use is None):
            continue
        attributes = _attributes(box, name, with_children, subscribed)
        session.send(data.ListData(attributes, DELIMITER, name))
        if command.status_items is not None and box is not None:
            current = await service.status(box)
            session.send(data.StatusData(name, status_items(current, command.status_items)))
    return Tagged(command.tag, "OK", "LIST completed")


def _attributes(
    box: Mailbox | None, name: str, with_children: set[str], subscribed: set[str]
) -> tuple[str, ...]:
    out: list[str] = []
    if box is None:
        out.append("\\Noselect" if name in with_children else "\\NonExistent")
    out.append("\\HasChildren" if name in with_children else "\\HasNoChildren")
    if name in subscribed:
        out.append("\\Subscribed")
    if box is not None and box.special_use is not None:
        out.append("\\" + box.special_use.value.capitalize())
    return tuple(out)


@HANDLERS.on(Lsub, Need.AUTHENTICATED, Stage.SELECT)
async def lsub(session: ImapSession, command: Lsub) -> Tagged:
    """RFC 3501 §6.3.9: subscribed names matching the pattern; one that is no mailbox
    (any more) is shown ``\\Noselect``."""
    assert session.user is not None
    service = session.ctx.mailboxes
    pattern = _full_pattern(command.reference, command.pattern)
    existing = {box.name for box in await service.list_mailboxes(session.user)}
    for name in await service.subscriptions(session.user):
        if pattern_matches(pattern, name):
            attributes = () if name in existing else ("\\Noselect",)
            session.send(data.ListData(attributes, DELIMITER, name, kind="LSUB"))
    return Tagged(command.tag, "OK", "LSUB completed")
