"""The base64 Content-Transfer-Encoding of S/MIME bodies (RFC 2045 §6.8).

Every S/MIME message is mostly base64: the CMS object of an encrypted 50 KB message is
≈ 94 KB of it. The standard library encodes 57 bytes per Python-level call (≈ 0.2 ms for
70 KB) and strict decoding after a whitespace-removing regular expression takes over a
millisecond; pybase64's SIMD codec does either in a few microseconds (ADR 0018).

:func:`encode_lines` encodes 256 lines' worth of input at a time and cuts it into
76-character CRLF lines with :mod:`struct` (one call moves the 256 lines) instead of a
slice per line. :func:`decode` skips white
space inside the C decoder and accepts exactly what
``base64.b64decode(compact, validate=True)`` accepts, so the choice of codec changes no
verdict on any input.
"""

from __future__ import annotations

import base64
import struct
from functools import lru_cache

import pybase64

__all__ = ["LINE_LENGTH", "WHITESPACE", "decode", "encode_lines", "encode_lines_into_buffer"]

#: Characters per line of encoded output (RFC 2045 §6.8: at most 76).
LINE_LENGTH = 76
#: What ``\s`` matches in a bytes regular expression: skipped by :func:`decode`.
WHITESPACE = b" \t\r\n\x0b\x0c"

_STEP = LINE_LENGTH + 2  # a line and its CRLF
_BLOCK = 256  # lines per struct call: few calls a message, small cached formats
_CHUNK = _BLOCK * LINE_LENGTH * 3 // 4  # input bytes of _BLOCK lines (57 bytes a line)


@lru_cache(maxsize=_BLOCK)
def _mover(lines: int) -> tuple[struct.Struct, struct.Struct]:
    """(read ``lines`` lines of 76 bytes, write them 78 bytes apart) for encode_lines."""
    return struct.Struct(f"{LINE_LENGTH}s" * lines), struct.Struct(f"{LINE_LENGTH}s2x" * lines)


def encode_lines(data: bytes | memoryview, *, prefix: bytes = b"") -> bytes:
    """``prefix`` + the base64 of ``data`` in 76-character lines, each ending in CRLF
    (RFC 2045 §6.8).

    The lines are byte-identical to ``base64.encodebytes(data)`` with LF turned into
    CRLF; empty ``data`` gives no lines. ``prefix`` (MIME header fields) shares the one
    output buffer, so a message is not copied once more to put its header in front.
    """
    return bytes(encode_lines_into_buffer(data, prefix=prefix))


def encode_lines_into_buffer(data: bytes | memoryview, *, prefix: bytes = b"") -> bytearray:
    """:func:`encode_lines` as a buffer: a caller that owns ``data`` can let it go before
    making the result immutable, so the two largest buffers never coexist."""
    view = memoryview(data)
    full, rest = divmod(4 * ((len(view) + 2) // 3), LINE_LENGTH)
    start = len(prefix)
    end = start + full * _STEP
    out = bytearray(end + (rest + 2 if rest else 0))
    out[:start] = prefix
    dst = start
    # _CHUNK input bytes encode to exactly _BLOCK whole lines: chunk by chunk, the whole
    # encoding never exists as one more large buffer
    for offset in range(0, len(view), _CHUNK):
        encoded = pybase64.b64encode(view[offset : offset + _CHUNK])
        count = len(encoded) // LINE_LENGTH
        if count:
            read, write = _mover(count)
            write.pack_into(out, dst, *read.unpack_from(encoded))
            dst += count * _STEP
        if len(encoded) > count * LINE_LENGTH:  # the last, short line
            out[end:] = encoded[count * LINE_LENGTH :] + b"\r\n"
    # the two pad bytes after each whole line become its CRLF (strided C-level fills)
    out[start + LINE_LENGTH : end : _STEP] = b"\r" * full
    out[start + LINE_LENGTH + 1 : end : _STEP] = b"\n" * full
    return out


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
