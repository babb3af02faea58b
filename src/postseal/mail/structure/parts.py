"""MIME parts with byte offsets, and sections of them (RFC 2045-2046, RFC 3501 §6.4.5).

See the package docstring for how malformed input is read.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import re
from dataclasses import dataclass

from postseal.mail.canonical import content_type
from postseal.mail.structure.envelope import Envelope, envelope_from_fields

__all__ = [
    "MAX_DEPTH",
    "MAX_FIELD",
    "MAX_PARTS",
    "MessageStructure",
    "Part",
    "envelope",
    "header_fields",
    "header_values",
    "parse",
    "part_content",
    "part_text",
    "resolve",
    "section",
    "select_fields",
]

MAX_DEPTH = 64
MAX_PARTS = 2000
MAX_FIELD = 2000
_MESSAGE = ("message/rfc822", "message/global")
_IDENTITY = ("7bit", "8bit", "binary")
_FIELD = re.compile(rb"[!-9;-~]+[ \t]*:")
_PARAM = re.compile(r';\s*([!#$%&\'*+.^_`|~0-9A-Za-z-]+)\s*=\s*("(?:[^"\\]|\\.)*"?|[^;\s]*)')


@dataclass(frozen=True, slots=True)
class Part:
    """A MIME entity: header ``[start, body_start)``, body ``[body_start, end)``."""

    start: int
    body_start: int
    end: int
    type: str
    subtype: str
    params: tuple[tuple[str, str], ...] = ()
    id: str | None = None
    description: str | None = None
    encoding: str = "7bit"
    disposition: str | None = None
    disposition_params: tuple[tuple[str, str], ...] = ()
    language: tuple[str, ...] = ()
    location: str | None = None
    lines: int = 0
    children: tuple[Part, ...] = ()  # multipart parts, or the one encapsulated message
    envelope: Envelope | None = None  # message/rfc822 only

    @property
    def size(self) -> int:
        return self.end - self.body_start

    @property
    def is_multipart(self) -> bool:
        return self.type == "multipart" and bool(self.children)

    @property
    def is_message(self) -> bool:
        return self.type == "message" and bool(self.children) and not self.is_multipart

    def param(self, name: str) -> str | None:
        return next((v for k, v in self.params if k == name), None)


@dataclass(frozen=True, slots=True)
class MessageStructure:
    size: int
    header: bytes  # the top-level header block, its ending blank line included
    root: Part


# -- parsing -------------------------------------------------------------------------


def parse(raw: bytes) -> MessageStructure:
    """The structure of ``raw``; never raises on message bytes."""
    root = _entity(raw, 0, len(raw), 0, "text/plain", [0])
    return MessageStructure(size=len(raw), header=raw[: root.body_start], root=root)


def header_fields(header: bytes) -> list[tuple[str, str]]:
    """Unfolded (lower-case name, value) pairs of a header block, tolerant of junk."""
    return _read_header(header, 0, len(header))[1]


def header_values(msg: MessageStructure, name: str) -> list[str]:
    """Every value of the top-level field ``name`` (unfolded, still RFC 2047 encoded)."""
    wanted = name.lower()
    return [v for n, v in header_fields(msg.header) if n == wanted]


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def _read_header(raw: bytes, start: int, end: int) -> tuple[int, list[tuple[str, str]]]:
    fields: list[tuple[str, str]] = []
    pos = start + 3 if start == 0 and raw.startswith(b"\xef\xbb\xbf") else start
    while pos < end:
        newline = raw.find(b"\n", pos, end)
        line_end = end if newline < 0 else newline + 1
        line = raw[pos:line_end].rstrip(b"\r\n")
        if not line:
            return line_end, fields
        if line[:1] in (b" ", b"\t") and fields:
            name, value = fields[-1]
            fields[-1] = (name, value + _text(line) if len(value) < 65536 else value)
        elif _FIELD.match(line):
            raw_name, _, raw_value = line.partition(b":")
            fields.append((_text(raw_name.strip()).lower(), _text(raw_value.strip())))
        elif not (pos == start == 0 and line.startswith(b"From ")):  # mbox separator
            return pos, fields
        pos = line_end
    return end, fields


def _params(value: str) -> tuple[tuple[str, str], ...]:
    found: list[tuple[str, str]] = []
    for match in _PARAM.finditer(value):
        raw = match.group(2)
        if raw.startswith('"'):
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1] if raw.endswith('"') else raw[1:])
        found.append((match.group(1).lower(), raw[:MAX_FIELD]))
    return tuple(found)


def _first(fields: list[tuple[str, str]], name: str) -> str | None:
    value = next((v for n, v in fields if n == name), None)
    return None if value is None else value[:MAX_FIELD]


def _entity(raw: bytes, start: int, end: int, depth: int, default: str, budget: list[int]) -> Part:
    body_start, fields = _read_header(raw, start, end)
    budget[0] += 1
    if any(n == "content-type" for n, _ in fields):
        mime_type, _ = content_type(fields)
        type_value = _first(fields, "content-type") or ""
        params = _params(type_value[type_value.find(";") :] if ";" in type_value else "")
    else:
        mime_type, params = default, ()
    main, _, sub = mime_type.partition("/")
    encoding = (_first(fields, "content-transfer-encoding") or "7bit").strip().lower() or "7bit"
    disposition_value = _first(fields, "content-disposition")
    disposition = None
    if disposition_value is not None:
        disposition = disposition_value.split(";", 1)[0].strip().lower() or None
    language = _first(fields, "content-language")
    lines = raw.count(b"\n", body_start, end)
    if end > body_start and raw[end - 1 : end] != b"\n":
        lines += 1
    children: tuple[Part, ...] = ()
    envelope_value = None
    opaque = depth >= MAX_DEPTH or budget[0] >= MAX_PARTS
    if main == "multipart" and opaque:
        main, sub, params = "application", "octet-stream", ()
    elif main == "multipart":
        boundary = next((v for k, v in params if k == "boundary"), "")
        child_default = "message/rfc822" if sub == "digest" else "text/plain"
        children = _multipart(raw, body_start, end, boundary, depth, child_default, budget)
    elif mime_type in _MESSAGE and encoding in _IDENTITY and not opaque:
        children = (_entity(raw, body_start, end, depth + 1, "text/plain", budget),)
        envelope_value = envelope_from_fields(_read_header(raw, body_start, end)[1])
    return Part(
        start=start,
        body_start=body_start,
        end=end,
        type=main,
        subtype=sub,
        params=params,
        id=_first(fields, "content-id"),
        description=_first(fields, "content-description"),
        encoding=encoding[:MAX_FIELD],
        disposition=disposition,
        disposition_params=_params(disposition_value or ""),
        language=tuple(t.strip() for t in (language or "").split(",") if t.strip()),
        location=_first(fields, "content-location"),
        lines=lines,
        children=children,
        envelope=envelope_value,
    )


def _multipart(
    raw: bytes, start: int, end: int, boundary: str, depth: int, default: str, budget: list[int]
) -> tuple[Part, ...]:
    parts: list[Part] = []
    if boundary:
        delimiter = re.escape(b"--" + boundary.encode("utf-8", "surrogateescape"))
        pattern = re.compile(rb"^" + delimiter + rb"(--)?[ \t]*\r?$", re.MULTILINE)
        part_start: int | None = None
        for match in pattern.finditer(raw, start, end):
            if part_start is not None:
                part_end = max(_before_newline(raw, start, match.start()), part_start)
                parts.append(_entity(raw, part_start, part_end, depth + 1, default, budget))
            part_start = None
            if match.group(1) or budget[0] >= MAX_PARTS:
                break
            part_start = _after_newline(raw, match.end(), end)
        if part_start is not None:  # no closing delimiter: the last part runs to the end
            parts.append(_entity(raw, part_start, end, depth + 1, default, budget))
    if not parts:
        lines = raw.count(b"\n", start, end) + (end > start and raw[end - 1 : end] != b"\n")
        parts.append(Part(start, start, end, "text", "plain", lines=lines))
    return tuple(parts)


def _before_newline(raw: bytes, low: int, pos: int) -> int:
    if pos > low and raw[pos - 1 : pos] == b"\n":
        pos -= 1
        if pos > low and raw[pos - 1 : pos] == b"\r":
            pos -= 1
    return pos


def _after_newline(raw: bytes, pos: int, end: int) -> int:
    if raw[pos : pos + 2] == b"\r\n":
        return min(pos + 2, end)
    if raw[pos : pos + 1] == b"\n":
        return min(pos + 1, end)
    return pos


# -- sections (RFC 3501 §6.4.5) ---------------------------------------------------------


def resolve(msg: MessageStructure, path: tuple[int, ...]) -> Part | None:
    """The part a section number names, or None. Part 1 of a non-multipart entity is
    its body; numbers after a message/rfc822 part address the encapsulated message."""
    node = msg.root
    for depth, number in enumerate(path):
        if depth > 0 and node.is_message:
            node = node.children[0]
        if node.is_multipart:
            if not 1 <= number <= len(node.children):
                return None
            node = node.children[number - 1]
        elif number != 1:
            return None
    return node


def section(
    raw: bytes,
    msg: MessageStructure,
    path: tuple[int, ...] = (),
    text: str | None = None,
    fields: tuple[str, ...] = (),
) -> bytes | None:
    """The bytes of ``BODY[path.text (fields)]``: ``text`` is None, ``"HEADER"``,
    ``"HEADER.FIELDS"``, ``"HEADER.FIELDS.NOT"``, ``"TEXT"`` or ``"MIME"``. None when the
    section does not exist (the caller answers with an empty string, as servers do)."""
    node = resolve(msg, path)
    if node is None:
        return None
    if text is None:
        return raw if not path else raw[node.body_start : node.end]
    if text == "MIME":
        return raw[node.start : node.body_start] if path else None
    if path:
        if not node.is_message:
            return None
        node = node.children[0]
    if text == "TEXT":
        return raw[node.body_start : node.end]
    header = raw[node.start : node.body_start]
    if text == "HEADER":
        return header
    return select_fields(header, fields, exclude=text == "HEADER.FIELDS.NOT")


def select_fields(header: bytes, names: tuple[str, ...], *, exclude: bool) -> bytes:
    """The raw field lines (folding kept) whose names are (not) in ``names``, then CRLF."""
    wanted = {n.lower().encode("utf-8", "surrogateescape") for n in names}
    out: list[bytes] = []
    keep = False
    for line in header.splitlines(keepends=True):
        if not line.rstrip(b"\r\n"):
            break
        if line[:1] not in (b" ", b"\t"):
            keep = (line.split(b":", 1)[0].strip().lower() in wanted) != exclude
        if keep:
            out.append(line if line.endswith(b"\n") else line + b"\r\n")
    return b"".join(out) + b"\r\n"


def part_content(raw: bytes, part: Part) -> bytes:
    """The body of a leaf part with its transfer encoding undone (RFC 2045 §6)."""
    body = raw[part.body_start : part.end]
    if part.encoding == "base64":
        cleaned = re.sub(rb"[^A-Za-z0-9+/]", b"", body)
        if len(cleaned) % 4 == 1:
            cleaned = cleaned[:-1]
        try:
            return base64.b64decode(cleaned + b"=" * (-len(cleaned) % 4))
        except (binascii.Error, ValueError):
            return b""
    if part.encoding == "quoted-printable":
        return binascii.a2b_qp(body)
    return body


def part_text(raw: bytes, part: Part) -> str:
    """A text part decoded to str by its charset (UTF-8 when unknown)."""
    charset = (part.param("charset") or "utf-8").strip().lower()
    content = part_content(raw, part)
    try:
        # A hostile charset may name no codec, a bytes-to-bytes codec (hex, zlib) or one
        # without the "replace" handler (idna): any of them falls back to UTF-8.
        if not codecs.lookup(charset)._is_text_encoding:
            raise LookupError(charset)
        return content.decode(charset, "replace")
    except (LookupError, UnicodeError, ValueError):
        return content.decode("utf-8", "replace")


def envelope(msg: MessageStructure) -> Envelope:
    """The ENVELOPE of the message (RFC 3501 §7.4.2)."""
    return envelope_from_fields(header_fields(msg.header))
