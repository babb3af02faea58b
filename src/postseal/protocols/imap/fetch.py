"""FETCH item rendering from a message's bytes and metadata (RFC 3501 §6.4.5, §7.4.2;
RFC 3516 BINARY; RFC 7162 MODSEQ).

:func:`render` answers the items of one FETCH for one message as (response key, value)
pairs for :class:`~postseal.protocols.imap.data.FetchData`. ENVELOPE, BODY,
BODYSTRUCTURE, RFC822.SIZE, RFC822.HEADER and top-level ``BODY[HEADER…]`` come from the
stored structure alone; the rest need ``raw`` (``Fetch.needs_body`` tells the session
which). Setting \\Seen is the session's job: it passes the flags as they are after the
fetch and adds a FLAGS item when they changed (RFC 3501 §6.4.5).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from postseal.mail.structure import (
    Address,
    Envelope,
    MessageStructure,
    bodystructure,
    envelope,
    envelope_value,
    parse,
    part_content,
    resolve,
    section,
    select_fields,
)
from postseal.protocols.imap import values
from postseal.protocols.imap.commands import FetchAttribute

__all__ = ["FetchSource", "format_internal_date", "render", "render_envelope"]

_PLAIN = re.compile(r"[\x01-\x09\x0b\x0c\x0e-\x21\x23-\x5b\x5d-\x7f]*\Z")
"""7-bit text a quoted string holds as it is (no CR, LF, NUL, quote or backslash)."""
_NO_STRUCTURE = parse(b"\r\n")  # stands in where no item reads the structure
_MEMO_SIZE = 4096
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True, slots=True)
class FetchSource:
    """One message as FETCH sees it; ``structure`` (from the stored summary) or ``raw``
    must be given, and ``raw`` for items that need the body."""

    uid: int
    flags: tuple[str, ...]
    internal_date: datetime
    size: int
    modseq: int = 0
    structure: MessageStructure | None = None
    raw: bytes | None = None
    envelope: Envelope | None = None  # the top-level ENVELOPE, when known without parsing


def format_internal_date(moment: datetime) -> str:
    """``17-Jul-1996 02:44:25 -0700`` (RFC 3501 §9 ``date-time``; naive means UTC)."""
    offset = moment.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "-" if minutes < 0 else "+"
    zone = f"{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"
    return (
        f"{moment.day:02d}-{_MONTHS[moment.month - 1]}-{moment.year:04d} "
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d} {zone}"
    )


def render(
    items: tuple[FetchAttribute, ...],
    msg: FetchSource,
    *,
    utf8: bool = False,
    memo: dict[object, bytes] | None = None,
) -> tuple[tuple[str, bytes], ...]:
    """The FETCH data of ``msg`` for ``items``, in the order asked; ``memo`` as for
    :func:`render_envelope`, one for all the messages of a FETCH."""
    structure = msg.structure
    if structure is None:
        if msg.raw is None:
            raise ValueError("FetchSource needs a structure or the raw message")
        if not all(_whole(item) for item in items):
            structure = parse(msg.raw)
    out: list[tuple[str, bytes]] = []
    for item in items:
        if structure is None:  # only items that need no MIME structure (see _whole)
            out.append((item.response_key(), _plain_value(item, msg, utf8)))
        else:
            out.append((item.response_key(), _value(item, msg, structure, utf8, memo)))
    return tuple(out)


_PLAIN_ITEMS = frozenset({"FLAGS", "UID", "MODSEQ", "INTERNALDATE", "RFC822.SIZE", "RFC822"})


def _whole(item: FetchAttribute) -> bool:
    """Whether the item is answered without the MIME structure: the view's items and
    the whole message (``BODY[]``, ``BODY.PEEK[]``, ``BINARY[]``, ``RFC822``)."""
    if item.name in _PLAIN_ITEMS:
        return True
    spec = item.section
    return (
        item.name in ("BODY", "BINARY")
        and spec is not None
        and not spec.part
        and not spec.text
        and not spec.fields
    )


def _plain_value(item: FetchAttribute, msg: FetchSource, utf8: bool) -> bytes:
    if item.name in _PLAIN_ITEMS:
        return _value(item, msg, _NO_STRUCTURE, utf8, None)
    data = _raw(msg, item)
    if item.partial is not None:
        offset, length = item.partial
        data = data[offset:] if length is None else data[offset : offset + length]
    return values.string(data)


def render_envelope(
    env: Envelope, *, utf8: bool = False, memo: dict[object, bytes] | None = None
) -> bytes:
    """``values.render(envelope_value(env))``, the same bytes, without the nested
    values in between (a listing renders thousands). ``memo``, shared by the messages
    of one FETCH, keeps the rendering of up to :data:`_MEMO_SIZE` address lists: most
    repeat from message to message (the user's own address, a few correspondents)."""

    def text(value: str | None) -> bytes:
        if value is None:
            return b"NIL"
        if len(value) <= values.MAX_QUOTED and _PLAIN.match(value):
            return b'"%s"' % value.encode("ascii")  # what values.string writes for it
        return values.string(value, utf8=utf8)

    def addresses(items: tuple[Address, ...]) -> bytes:
        if not items:
            return b"NIL"
        found = None if memo is None else memo.get(items)
        if found is None:
            found = (
                b"(("
                + b") (".join(
                    b" ".join((text(a.name), text(a.adl), text(a.mailbox), text(a.host)))
                    for a in items
                )
                + b"))"
            )
            if memo is not None and len(memo) < _MEMO_SIZE:
                memo[items] = found
        return found

    return b"".join(
        (
            b"(",
            b" ".join(
                (
                    text(env.date),
                    text(env.subject),
                    addresses(env.from_),
                    addresses(env.sender),
                    addresses(env.reply_to),
                    addresses(env.to),
                    addresses(env.cc),
                    addresses(env.bcc),
                    text(env.in_reply_to),
                    text(env.message_id),
                )
            ),
            b")",
        )
    )


def _raw(msg: FetchSource, item: FetchAttribute) -> bytes:
    if msg.raw is None:
        raise ValueError(f"FETCH {item.response_key()} needs the message bytes")
    return msg.raw


def _value(
    item: FetchAttribute,
    msg: FetchSource,
    structure: MessageStructure,
    utf8: bool,
    memo: dict[object, bytes] | None,
) -> bytes:
    name = item.name
    if name == "FLAGS":
        return values.flag_list(msg.flags)
    if name == "UID":
        return b"%d" % msg.uid
    if name == "MODSEQ":
        return b"(%d)" % msg.modseq
    if name == "INTERNALDATE":
        return values.string(format_internal_date(msg.internal_date))
    if name == "RFC822.SIZE":
        return b"%d" % msg.size
    if name == "ENVELOPE":
        if msg.envelope is not None:
            return render_envelope(msg.envelope, utf8=utf8, memo=memo)
        return values.render(envelope_value(envelope(structure)), utf8=utf8)
    if name in ("BODY", "BODYSTRUCTURE") and item.section is None:
        return values.render(
            bodystructure(structure, extensible=name == "BODYSTRUCTURE"), utf8=utf8
        )
    if name == "RFC822.HEADER":
        return values.string(structure.header)
    if name == "RFC822":
        return values.string(_raw(msg, item))
    if name == "RFC822.TEXT":
        return values.string(_raw(msg, item)[structure.root.body_start :])
    data = _section_bytes(item, msg, structure)
    if data is None:
        return b"NIL"
    if name == "BINARY.SIZE":
        return b"%d" % len(data)
    if item.partial is not None:
        offset, length = item.partial
        data = data[offset:] if length is None else data[offset : offset + length]
    return values.string(data)


def _section_bytes(
    item: FetchAttribute, msg: FetchSource, structure: MessageStructure
) -> bytes | None:
    spec = item.section
    if spec is None:
        return None
    if item.name == "BODY":
        if not spec.part and spec.text == "HEADER" and msg.raw is None:
            return structure.header
        if not spec.part and spec.text and spec.text.startswith("HEADER.") and msg.raw is None:
            return select_fields(structure.header, spec.fields, exclude=spec.text.endswith(".NOT"))
        return section(_raw(msg, item), structure, spec.part, spec.text, spec.fields)
    raw = _raw(msg, item)
    if not spec.part:
        return raw
    part = resolve(structure, spec.part)
    if part is None or part.children:
        return None if part is None else raw[part.body_start : part.end]
    return part_content(raw, part)
