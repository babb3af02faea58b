"""Editing a message's top-level header fields without touching anything else.

Used before a message is signed (a signed message is never edited: its fields outside the
signature may only be prepended, :mod:`postseal.mail.trace`). Works on bytes with CRLF
line ends; folded fields (RFC 5322 §2.2.3) are treated as one field.
"""

from __future__ import annotations

import re

__all__ = ["field_value", "remove_fields", "replace_field", "split_message"]

_FIELD_START = re.compile(rb"^[!-9;-~]+:", re.MULTILINE)


def split_message(message: bytes) -> tuple[list[bytes], bytes]:
    """(raw fields, each with its folded lines and CRLF; the rest from the blank line on)."""
    end = message.find(b"\r\n\r\n")
    head, rest = (message, b"") if end < 0 else (message[: end + 2], message[end + 2 :])
    fields: list[bytes] = []
    for line in head.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += line
        else:
            fields.append(line)
    return fields, rest


def _name(field: bytes) -> bytes:
    return field.split(b":", 1)[0].strip().lower()


def field_value(message: bytes, name: str) -> str | None:
    """The unfolded value of the first field ``name``, or None."""
    fields, _ = split_message(message)
    for raw in fields:
        if _name(raw) == name.lower().encode():
            value = raw.split(b":", 1)[1]
            return re.sub(rb"\r\n[ \t]+", b" ", value).strip().decode("utf-8", "replace")
    return None


def remove_fields(message: bytes, names: tuple[str, ...] | list[str]) -> bytes:
    wanted = {n.lower().encode() for n in names}
    fields, rest = split_message(message)
    return b"".join(f for f in fields if _name(f) not in wanted) + rest


def replace_field(message: bytes, name: str, value: str) -> bytes:
    """Set the first ``name`` field to ``value`` (added at the end of the header when
    absent); CR and LF in ``value`` are refused."""
    if "\r" in value or "\n" in value:
        raise ValueError("a header value cannot contain CR or LF")
    encoded = value.encode("utf-8")
    fields, rest = split_message(message)
    line = name.encode("ascii") + b": " + encoded + b"\r\n"
    for index, raw in enumerate(fields):
        if _name(raw) == name.lower().encode():
            fields[index] = line
            return b"".join(fields) + rest
    return b"".join(fields) + line + rest
