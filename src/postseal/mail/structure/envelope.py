"""ENVELOPE values and RFC 5322 address lists (RFC 3501 §7.4.2, RFC 5322 §3.4, RFC 2047).

Strings keep the header's own bytes (UTF-8 with ``surrogateescape``); encoded-words stay
encoded, as ENVELOPE requires. :func:`decode_header_value` decodes them for display and
SEARCH. Nothing here raises on header text.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

__all__ = [
    "Address",
    "Envelope",
    "decode_header_value",
    "envelope_from_fields",
    "envelope_value",
    "parse_addresses",
]

MAX_FIELD = 2000
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
_BETWEEN_WORDS = re.compile(r"(\?=)\s+(?==\?)")

# A BODYSTRUCTURE / ENVELOPE value: strings, numbers, NIL and lists (RFC 3501 §7.4.2).
BodyValue = str | int | None | tuple["BodyValue", ...]


@dataclass(frozen=True, slots=True)
class Address:
    """One ENVELOPE address (RFC 3501 §7.4.2): a group start has only ``mailbox`` (the
    group name), a group end has nothing."""

    name: str | None
    adl: str | None
    mailbox: str | None
    host: str | None


@dataclass(frozen=True, slots=True)
class Envelope:
    date: str | None
    subject: str | None
    from_: tuple[Address, ...]
    sender: tuple[Address, ...]
    reply_to: tuple[Address, ...]
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    bcc: tuple[Address, ...]
    in_reply_to: str | None
    message_id: str | None


def _first(fields: list[tuple[str, str]], name: str) -> str | None:
    value = next((v for n, v in fields if n == name), None)
    return None if value is None else value[:MAX_FIELD]


def envelope_from_fields(fields: list[tuple[str, str]]) -> Envelope:
    def one(name: str) -> str | None:
        return _first(fields, name)

    def addresses(name: str) -> tuple[Address, ...]:
        value = one(name)
        return () if value is None else parse_addresses(value)

    sender_from = addresses("from")
    return Envelope(
        date=one("date"),
        subject=one("subject"),
        from_=sender_from,
        sender=addresses("sender") or sender_from,
        reply_to=addresses("reply-to") or sender_from,
        to=addresses("to"),
        cc=addresses("cc"),
        bcc=addresses("bcc"),
        in_reply_to=one("in-reply-to"),
        message_id=one("message-id"),
    )


def _tokens(value: str) -> list[tuple[str, str]]:
    """RFC 5322 §3.2 lexical tokens: ("a", atom), ("q", quoted text), or (special, special).
    Comments are dropped; unbalanced quotes and comments end at the end of the value."""
    out: list[tuple[str, str]] = []
    i, n = 0, len(value)
    while i < n:
        char = value[i]
        if char.isspace():
            i += 1
        elif char == "(":
            depth, i = 1, i + 1
            while i < n and depth:
                depth += {"(": 1, ")": -1}.get(value[i], 0)
                i += 2 if value[i] == "\\" else 1
        elif char == '"':
            j, text = i + 1, []
            while j < n and value[j] != '"':
                if value[j] == "\\" and j + 1 < n:
                    j += 1
                text.append(value[j])
                j += 1
            out.append(("q", "".join(text)))
            i = j + 1
        elif char in "<>@,;:.":
            out.append((char, char))
            i += 1
        else:
            if char == "[":
                close = value.find("]", i)
                j = n if close < 0 else close + 1
            else:
                j = i
                while j < n and not value[j].isspace() and value[j] not in '()"<>@,;:.[':
                    j += 1
                j = max(j, i + 1)
            out.append(("a", value[i:j]))
            i = j
    return out


def parse_addresses(value: str) -> tuple[Address, ...]:
    """An address-list (RFC 5322 §3.4) as ENVELOPE addresses, groups included."""
    out: list[Address] = []
    current: list[tuple[str, str]] = []
    in_group = in_angle = False
    for token in _tokens(value)[:10000]:
        kind = token[0]
        if kind == "<":
            in_angle = True
        elif kind == ">":
            in_angle = False
        if kind == ":" and not in_angle and not in_group:
            out.append(Address(None, None, _phrase(current) or "", None))
            in_group, current = True, []
        elif kind in ",;" and not in_angle:
            if current:
                out.extend(_mailbox(current))
            current = []
            if kind == ";" and in_group:
                out.append(Address(None, None, None, None))
                in_group = False
        else:
            current.append(token)
    if current:
        out.extend(_mailbox(current))
    if in_group:
        out.append(Address(None, None, None, None))
    return tuple(out)


def _phrase(tokens: list[tuple[str, str]]) -> str | None:
    words: list[str] = []
    for kind, text in tokens:
        if kind == "." and words:
            words[-1] += "."
        elif kind in ("a", "q"):
            words.append(text)
    return " ".join(words) or None


def _mailbox(tokens: list[tuple[str, str]]) -> list[Address]:
    name = None
    spec = tokens
    if any(kind == "<" for kind, _ in tokens):
        at = next(i for i, (kind, _) in enumerate(tokens) if kind == "<")
        name = _phrase(tokens[:at])
        spec = [t for t in tokens[at + 1 :] if t[0] not in "<>"]
    adl = None
    if any(kind == ":" for kind, _ in spec):
        colon = max(i for i, (kind, _) in enumerate(spec) if kind == ":")
        adl = "".join(text for _, text in spec[:colon]) or None
        spec = spec[colon + 1 :]
    at_sign = max((i for i, (kind, _) in enumerate(spec) if kind == "@"), default=-1)
    local = spec if at_sign < 0 else spec[:at_sign]
    host = None if at_sign < 0 else "".join(text for _, text in spec[at_sign + 1 :]) or None
    mailbox = "".join(f'"{text}"' if kind == "q" else text for kind, text in local) or None
    if mailbox is None and host is None:
        return [] if name is None else [Address(name, None, None, None)]
    return [Address(name, adl, mailbox, host)]


def decode_header_value(value: str) -> str:
    """RFC 2047 encoded-words decoded (unknown charsets as UTF-8, errors replaced);
    raw 8-bit text read as UTF-8 (RFC 6532)."""
    value = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    value = _BETWEEN_WORDS.sub(r"\1", value)

    def word(match: re.Match[str]) -> str:
        charset = match.group(1).split("*", 1)[0].lower()
        data = match.group(3).encode("ascii", "replace")
        if match.group(2) in "bB":
            data = re.sub(rb"[^A-Za-z0-9+/]", b"", data)
            try:
                data = base64.b64decode(data + b"=" * (-len(data) % 4))
            except (binascii.Error, ValueError):
                return match.group(0)
        else:
            data = binascii.a2b_qp(data.replace(b"_", b" "))
        try:
            return data.decode(charset, "replace")
        except LookupError:
            return data.decode("utf-8", "replace")

    return _ENCODED_WORD.sub(word, value)


def envelope_value(env: Envelope) -> BodyValue:
    """The ENVELOPE as nested values (empty address lists are NIL)."""

    def addresses(items: tuple[Address, ...]) -> BodyValue:
        return tuple((a.name, a.adl, a.mailbox, a.host) for a in items) or None

    return (
        env.date,
        env.subject,
        addresses(env.from_),
        addresses(env.sender),
        addresses(env.reply_to),
        addresses(env.to),
        addresses(env.cc),
        addresses(env.bcc),
        env.in_reply_to,
        env.message_id,
    )
