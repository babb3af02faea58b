"""BODYSTRUCTURE values and the stored structure summary (RFC 3501 §7.4.2)."""

from __future__ import annotations

import json
from typing import Any

from postseal.mail.structure.envelope import Address, BodyValue, Envelope, envelope_value
from postseal.mail.structure.parts import MessageStructure, Part

__all__ = ["MAX_SUMMARY_HEADER", "SummaryError", "bodystructure", "from_summary", "to_summary"]

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


def to_summary(msg: MessageStructure) -> bytes:
    """A compact JSON summary (bounded by MAX_PARTS, MAX_FIELD, MAX_SUMMARY_HEADER)."""
    header = msg.header[:MAX_SUMMARY_HEADER]
    doc = {"v": 1, "size": msg.size, "header": header.decode("latin-1"), "root": _dump(msg.root)}
    return json.dumps(doc, separators=(",", ":")).encode("ascii")


def from_summary(data: bytes) -> MessageStructure:
    """The structure :func:`to_summary` stored; SummaryError if it is not one."""
    try:
        doc = json.loads(data)
        if doc.get("v") != 1:
            raise SummaryError("unknown message summary version")
        header = doc["header"].encode("latin-1")
        return MessageStructure(size=int(doc["size"]), header=header, root=_load(doc["root"]))
    except (ValueError, KeyError, TypeError, AttributeError, IndexError) as err:
        raise SummaryError(f"corrupt message summary: {err}") from err


def _dump(part: Part) -> list[Any]:
    env = part.envelope
    env_doc = None
    if env is not None:
        env_doc = [
            env.date,
            env.subject,
            *([list(map(list, a)) for a in _address_lists(env)]),
            env.in_reply_to,
            env.message_id,
        ]
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
    env = None
    if env_doc is not None:
        lists = [tuple(Address(*a) for a in items) for items in env_doc[2:8]]
        env = Envelope(
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
