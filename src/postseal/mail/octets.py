"""What a mail text's octets are, found in one pass (RFC 5322 §2.1, §2.1.1, §2.3; ADR 0026).

Signing a message needs to know, before anything is re-encoded, whether its text is
already what every relay keeps: CRLF line ends only, 7-bit, no NUL, no line over 998
octets, no white space at a line's end. :func:`scan` answers all five at once, as flags;
:func:`crlf_lines` cuts base64 text into CRLF-ended lines (RFC 2045 §6.8).

Both run in the C extension ``postseal.mail._octets`` when it was built (``pip install``
compiles it; a machine without a C compiler installs without it) and otherwise here, in
Python. The Python versions are the reference: the property tests hold the C versions
to their answers on arbitrary input. :data:`ACCELERATED` says which one runs.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from functools import lru_cache

__all__ = [
    "ACCELERATED",
    "BARE_LINE_END",
    "EIGHT_BIT",
    "LONG_LINE",
    "MAX_LINE",
    "NUL",
    "TRAILING_SPACE",
    "UNSAFE",
    "crlf_lines",
    "crlf_lines_python",
    "scan",
    "scan_python",
]

#: A CR or an LF that is not part of a CRLF pair.
BARE_LINE_END = 1
#: An octet above 127.
EIGHT_BIT = 2
#: An octet 0.
NUL = 4
#: A line of more than :data:`MAX_LINE` octets before its line end.
LONG_LINE = 8
#: SP or HT just before a CR, or as the last octet (relays strip it: RFC 3156 §3).
TRAILING_SPACE = 16
#: What a 7-bit transport cannot carry unchanged (RFC 5322 §2.1.1, RFC 2045 §2.7).
UNSAFE = EIGHT_BIT | NUL | LONG_LINE

#: Octets in a line, line end excluded (RFC 5322 §2.1.1).
MAX_LINE = 998


def scan_python(data: bytes | bytearray | memoryview, start: int = 0) -> int:
    """The flags that hold for ``data[start:]``, read as a text of its own.

    Each check is a few whole-buffer C-level calls (replace, find, rfind): ≈ 35 µs for
    50 KB in all, where the extension takes ≈ 5 µs.
    """
    if not 0 <= start <= len(data):
        raise ValueError("start lies outside the data")
    text = bytes(data[start:])
    flags = 0
    # Without its CRs, and with a CR put back before each LF, the text comes out as it
    # was exactly when no CR or LF stood alone: two memchr-driven rewrites and a memcmp.
    if text.replace(b"\r", b"").replace(b"\n", b"\r\n") != text:
        flags |= BARE_LINE_END
    if not text.isascii():
        flags |= EIGHT_BIT
    if b"\x00" in text:
        flags |= NUL
    if _long_line(text):
        flags |= LONG_LINE
    if _trailing_space(text):
        flags |= TRAILING_SPACE
    return flags


def _long_line(text: bytes) -> bool:
    # Hop from line end to line end: one C-level rfind per 1000 octets. The last LF of a
    # window of MAX_LINE + 2 octets ends a line that fits, unless it is the window's last
    # octet, no CR stands before it and its line began with the window.
    position, end = 0, len(text)
    while end - position > MAX_LINE:
        cut = text.rfind(b"\n", position, position + MAX_LINE + 2)
        if cut < 0:
            return True
        if (
            cut == position + MAX_LINE + 1
            and text[cut - 1] != 0x0D
            and text.rfind(b"\n", position, cut) < 0
        ):
            return True
        position = cut + 1
    return False


# Stands in for each CR while looking for white space before it: a needle this long lets
# the substring search skip ahead several octets a step where b" \r" moves about 1.5.
# Its octets are 8-bit, so it is used on 7-bit text only, where it cannot occur.
_CR_MARK = bytes(range(0x80, 0x88))


def _trailing_space(text: bytes) -> bool:
    if text.endswith((b" ", b"\t")):
        return True
    if b"\r" not in text:
        return False
    if not text.isascii():
        return b" \r" in text or b"\t\r" in text
    marked = text.replace(b"\r", _CR_MARK)
    if marked.rfind(b" " + _CR_MARK) >= 0:
        return True
    return b"\t" in text and marked.rfind(b"\t" + _CR_MARK) >= 0


def crlf_lines_python(text: bytes, width: int, prefix: bytes) -> bytes:
    """``prefix`` + ``text`` in lines of ``width`` octets (the last may be shorter), each
    followed by CRLF; empty ``text`` gives ``prefix`` alone."""
    if width < 1:
        raise ValueError("width must be at least 1")
    # One struct call cuts up to 256 lines (no slice per line in Python); one join puts
    # the CRLFs in. The prefix rides on the first line.
    whole = len(text) // width
    pieces: list[bytes] = []
    for first in range(0, whole, _BLOCK):
        pieces.extend(_reader(width, min(_BLOCK, whole - first)).unpack_from(text, first * width))
    if len(text) > whole * width:
        pieces.append(text[whole * width :])
    if not pieces:
        return prefix
    pieces[0] = prefix + pieces[0]
    pieces.append(b"")  # the last line's CRLF
    return b"\r\n".join(pieces)


_BLOCK = 256


@lru_cache(maxsize=_BLOCK)
def _reader(width: int, lines: int) -> struct.Struct:
    """Reads ``lines`` lines of ``width`` octets, each as a bytes object of its own."""
    return struct.Struct(f"{width}s" * lines)


scan: Callable[..., int]
crlf_lines: Callable[[bytes, int, bytes], bytes]
try:
    from postseal.mail._octets import crlf_lines, scan  # type: ignore[import-not-found,no-redef]

    ACCELERATED = True
except ImportError:  # built without a C compiler: the reference runs instead
    scan, crlf_lines = scan_python, crlf_lines_python
    ACCELERATED = False
