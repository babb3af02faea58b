"""IMAP data values on the wire: atoms, strings, literals, NIL, numbers and lists
(RFC 3501 §4, RFC 9051 §4, RFC 3516 literal8).

:func:`string` picks the form a value needs: a quoted string when it is short 7-bit text
(8-bit UTF-8 too once UTF8=ACCEPT is enabled, RFC 6855 §3), otherwise a literal; a
literal8 (``~{n}``) when it holds NUL. :func:`astring` writes an atom when the value is
one (and not ``NIL``). Every rendering re-parses to the same value (a property test holds
it to that).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["Value", "astring", "flag_list", "nstring", "render", "string"]

_ATOM = re.compile(rb"[^\x00-\x20\x7f-\xff(){%*\"\\\]]+\Z")
_QUOTABLE = re.compile(rb"[\x01-\x09\x0b\x0c\x0e-\x7f]*\Z")
_QUOTABLE_UTF8 = re.compile(rb"[^\x00\r\n]*\Z")
MAX_QUOTED = 1024

# Nested values as RFC 3501 §7.4.2 writes BODYSTRUCTURE and ENVELOPE: str is a string,
# bytes is raw data (already rendered), int a number, None NIL, tuple a list.
Value = str | bytes | int | None | tuple["Value", ...]


def _data(value: str | bytes) -> bytes:
    return value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value


def string(value: str | bytes, *, utf8: bool = False) -> bytes:
    data = _data(value)
    if b"\x00" in data:
        return b"~{%d}\r\n" % len(data) + data
    quotable = _QUOTABLE_UTF8 if utf8 else _QUOTABLE
    if len(data) <= MAX_QUOTED and quotable.match(data):
        if utf8:
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                return b"{%d}\r\n" % len(data) + data
        return b'"' + data.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
    return b"{%d}\r\n" % len(data) + data


def nstring(value: str | bytes | None, *, utf8: bool = False) -> bytes:
    return b"NIL" if value is None else string(value, utf8=utf8)


def astring(value: str | bytes, *, utf8: bool = False) -> bytes:
    data = _data(value)
    if _ATOM.match(data) and data.upper() != b"NIL":
        return data
    return string(data, utf8=utf8)


def flag_list(flags: Iterable[str]) -> bytes:
    return b"(" + b" ".join(f.encode("utf-8", "surrogateescape") for f in flags) + b")"


def render(value: Value, *, utf8: bool = False) -> bytes:
    """A nested value (BODYSTRUCTURE, ENVELOPE) as IMAP data; bytes pass through."""
    if value is None:
        return b"NIL"
    if isinstance(value, bool):
        raise TypeError("booleans are not IMAP values")
    if isinstance(value, int):
        return str(value).encode("ascii")
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return string(value, utf8=utf8)
    return b"(" + b" ".join(render(item, utf8=utf8) for item in value) + b")"
