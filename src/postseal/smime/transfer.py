"""The base64 Content-Transfer-Encoding of S/MIME bodies (RFC 2045 §6.8).

Every S/MIME message is mostly base64: the CMS object of an encrypted 50 KB message is
≈ 94 KB of it. The standard library encodes 57 bytes per Python-level call (≈ 0.2 ms for
70 KB) and strict decoding after a whitespace-removing regular expression takes over a
millisecond; pybase64's SIMD codec does either in a few microseconds (ADR 0018).

:func:`encode_lines` encodes the whole input in one call and has
:func:`postseal.mail.octets.crlf_lines` cut it into 76-character CRLF lines (one copy,
in C when the extension is built; ADR 0026). :func:`decode` skips white
space inside the C decoder and accepts exactly what
``base64.b64decode(compact, validate=True)`` accepts, so the choice of codec changes no
verdict on any input.
"""

from __future__ import annotations

import base64

import pybase64

from postseal.mail import octets

__all__ = ["LINE_LENGTH", "WHITESPACE", "decode", "encode_lines"]

#: Characters per line of encoded output (RFC 2045 §6.8: at most 76).
LINE_LENGTH = 76
#: What ``\s`` matches in a bytes regular expression: skipped by :func:`decode`.
WHITESPACE = b" \t\r\n\x0b\x0c"


def encode_lines(data: bytes | memoryview, *, prefix: bytes = b"") -> bytes:
    """``prefix`` + the base64 of ``data`` in 76-character lines, each ending in CRLF
    (RFC 2045 §6.8).

    The lines are byte-identical to ``base64.encodebytes(data)`` with LF turned into
    CRLF; empty ``data`` gives no lines. ``prefix`` (MIME header fields) is part of the
    one output object, so a message is not copied once more to put its header in front.
    """
    return octets.crlf_lines(pybase64.b64encode(data), LINE_LENGTH, prefix)


def decode(text: bytes, *, whitespace: bytes = WHITESPACE) -> bytes:
    """Strict base64 with the ``whitespace`` characters ignored wherever they are.

    Anything else outside the alphabet, misplaced padding or a truncated final quantum
    raises :class:`binascii.Error` (a ``ValueError``). The SIMD decoder refuses excess
    padding after a complete quantum ("AAAA="), which the standard library's strict mode
    has always let through: such input takes the standard library's path, so both agree.
    """
    try:
        return pybase64.b64decode(text, ignorechars=whitespace, validate=True)
    except ValueError:
        compact = text.translate(None, whitespace)
        return base64.b64decode(compact, validate=True)
