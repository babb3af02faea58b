"""BODYSTRUCTURE values and the stored structure summary (RFC 3501 §7.4.2)."""

from __future__ import annotations

import json
import struct
from typing import Any

from postseal.mail.structure.envelope import Address, BodyValue, Envelope, envelope_value
from postseal.mail.structure.parts import MessageStructure, Part, envelope

__all__ = [
    "MAX_SUMMARY_HEADER",
    "SummaryError",
    "bodystructure",
    "from_summary",
    "summary_envelope",
    "summary_header",
    "to_summary",
]

MAX_SUMMARY_HEADER = 256 * 1024


class SummaryError(ValueError):
    """A stored summary is not one :func:`to_summary` wrote (corrupt or another version)."""


# -- BODYSTRUCTURE (RFC 3501 §7.4.2) ----------------------------------------------------


def bodystructure(msg: MessageStructure, *, extensible: bool = True) -> BodyValue:
    """BODYSTRUCTURE (``extensible``) or BODY as nested values for the IMAP renderer."""
    return _body(msg.root, extensible)


def _pairs(params: tuple[tuple[str, str], ...]) -> BodyValue:
    return tuple(item for pair in params for item in pair) or None


def _body(part: Part, ext: bool) -> BodyValue:
    if part.is_multipart:
        children = tuple(_body(child, ext) for child in part.children)
        extra: tuple[BodyValue, ...] = ()
        if ext:
            params = tuple(p for p in part.params)
            extra = (_pairs(params), *_extension(part))
        return (*children, part.subtype, *extra)
    params = part.params
    if part.type == "text" and not any(k == "charset" for k, _ in params):
        params = (("charset", "us-ascii"), *params)
    fields: tuple[BodyValue, ...] = (
        part.type,
        part.subtype,
        _pairs(params),
        part.id,
        part.description,
        part.encoding.upper(),
        part.size,
    )
    if part.is_message and part.envelope is not None:
        fields += (envelope_value(part.envelope), _body(part.children[0], ext), part.lines)
    elif part.type == "text":
        fields += (part.lines,)
    if ext:
        fields += (None, *_extension(part))
    return fields


def _extension(part: Part) -> tuple[BodyValue, ...]:
    disposition = None
    if part.disposition is not None:
        disposition = (part.disposition, _pairs(part.disposition_params))
    language: BodyValue = None
    if len(part.language) == 1:
        language = part.language[0]
    elif part.language:
        language = part.language
    return (disposition, language, part.location)


# -- summary ----------------------------------------------------------------------------


# Version 2 is a compact frame: a fixed head (magic, message size, section lengths),
# the header bytes as they are, the top-level ENVELOPE (JSON, parsed once at delivery)
# and the part tree (JSON). A listing reads the envelope section only, header SEARCH
# keys the header slice only: neither re-parses the header nor builds the part tree.
# Version 1 (one JSON document, stored before) is still read.
_MAGIC = b"PSS2"
_HEAD = struct.Struct("!4sQIII")
_ERRORS = (ValueError, KeyError, TypeError, AttributeError, IndexError, struct.error)


def to_summary(msg: MessageStructure) -> bytes:
    """A compact summary (bounded by MAX_PARTS, MAX_FIELD, MAX_SUMMARY_HEADER)."""
    header = msg.header[:MAX_SUMMARY_HEADER]
    env = json.dumps(_dump_envelope(envelope(msg)), separators=(",", ":")).encode("ascii")
    root = json.dumps(_dump(msg.root), separators=(",", ":")).encode("ascii")
    head = _HEAD.pack(_MAGIC, msg.size, len(header), len(env), len(root))
    return b"".join((head, header, env, root))


def _sections(data: bytes) -> tuple[int, bytes, bytes, bytes] | None:
    """(size, header, envelope JSON, part tree JSON) of a version 2 summary; None for
    version 1; SummaryError for anything else."""
    if data[:1] == b"{":
        return None
    magic, size, header_len, env_len, root_len = _HEAD.unpack_from(data)
    if magic != _MAGIC or _HEAD.size + header_len + env_len + root_len != len(data):
        raise SummaryError("unknown message summary version")
    at = _HEAD.size
    header = data[at : at + header_len]
    env = data[at + header_len : at + header_len + env_len]
    return size, header, env, data[at + header_len + env_len :]


def _version1(data: bytes) -> tuple[int, bytes, Any]:
    doc = json.loads(data)
    if not isinstance(doc, dict) or doc.get("v") != 1:
        raise SummaryError("unknown message summary version")
    return int(doc["size"]), doc["header"].encode("latin-1"), doc["root"]


def from_summary(data: bytes) -> MessageStructure:
    """The structure :func:`to_summary` stored; SummaryError if it is not one."""
    try:
        found = _sections(data)
        if found is None:
            size, header, root = _version1(data)
        else:
            size, header, _, root_json = found
            root = json.loads(root_json)
        return MessageStructure(size=int(size), header=bytes(header), root=_load(root))
    except _ERRORS as err:
        raise SummaryError(f"corrupt message summary: {err}") from err


def summary_envelope(data: bytes) -> Envelope:
    """The top-level ENVELOPE of a stored summary, without building its part tree (for
    a version 1 summary, parsed from its header); SummaryError if it is not one."""
    try:
        found = _sections(data)
        if found is None:
            size, header, _ = _version1(data)
            return envelope(MessageStructure(size=size, header=header, root=_BARE))
        loaded = _load_envelope(json.loads(found[2]))
    except _ERRORS as err:
        raise SummaryError(f"corrupt message summary: {err}") from err
    if loaded is None:
        raise SummaryError("corrupt message summary: no envelope")
    return loaded


def summary_header(data: bytes) -> MessageStructure:
    """The summary with its header only (``root`` is a bare text part): what header
    SEARCH keys read, without building the part tree; SummaryError if it is not one."""
    try:
        found = _sections(data)
        if found is None:
            size, header, _ = _version1(data)
        else:
            size, header = found[0], found[1]
        return MessageStructure(size=int(size), header=bytes(header), root=_BARE)
    except _ERRORS as err:
        raise SummaryError(f"corrupt message summary: {err}") from err


def _dump_envelope(env: Envelope | None) -> list[Any] | None:
    if env is None:
        return None
    return [
        env.date,
        env.subject,
        *([list(map(list, a)) for a in _address_lists(env)]),
        env.in_reply_to,
        env.message_id,
    ]


def _load_envelope(env_doc: list[Any] | None) -> Envelope | None:
    if env_doc is None:
        return None
    lists = [tuple(Address(*a) for a in items) for items in env_doc[2:8]]
    return Envelope(
        date=env_doc[0],
        subject=env_doc[1],
        from_=lists[0],
        sender=lists[1],
        reply_to=lists[2],
        to=lists[3],
        cc=lists[4],
        bcc=lists[5],
        in_reply_to=env_doc[8],
        message_id=env_doc[9],
    )


def _dump(part: Part) -> list[Any]:
    env_doc = _dump_envelope(part.envelope)
    return [
        [part.start, part.body_start, part.end, part.lines],
        [part.type, part.subtype, part.encoding, part.id, part.description, part.location],
        [list(p) for p in part.params],
        [part.disposition, [list(p) for p in part.disposition_params], list(part.language)],
        [_dump(child) for child in part.children],
        env_doc,
    ]


def _address_lists(env: Envelope) -> list[list[tuple[str | None, ...]]]:
    lists = (env.from_, env.sender, env.reply_to, env.to, env.cc, env.bcc)
    return [[(a.name, a.adl, a.mailbox, a.host) for a in items] for items in lists]


def _load(doc: list[Any]) -> Part:
    (start, body_start, end, lines), kind, params, disp, children, env_doc = doc
    env = _load_envelope(env_doc)
    return Part(
        start=int(start),
        body_start=int(body_start),
        end=int(end),
        lines=int(lines),
        type=kind[0],
        subtype=kind[1],
        encoding=kind[2],
        id=kind[3],
        description=kind[4],
        location=kind[5],
        params=tuple((str(k), str(v)) for k, v in params),
        disposition=disp[0],
        disposition_params=tuple((str(k), str(v)) for k, v in disp[1]),
        language=tuple(str(t) for t in disp[2]),
        children=tuple(_load(child) for child in children),
        envelope=env,
    )


_BARE = _load(
    [[0, 0, 0, 0], ["text", "plain", "7bit", None, None, None], [], [None, [], []], [], None]
)
