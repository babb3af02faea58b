"""Fuzz target: the octet scans of mail text — ``postseal.mail.octets`` (C and Python).

Beyond "no crash": the C extension's ``scan`` (from every start offset tried) and
``crlf_lines`` give exactly what the Python reference gives, and ``canonicalize``
returns a value or an ``InputError``; a value holds no 8-bit octet, no NUL and no CR or
LF outside a CRLF pair. Run: ``python fuzz/octets.py -max_total_time=60 corpus/`` (see
fuzz/README.md).
"""

from __future__ import annotations

import contextlib
import sys

import _harness

from postseal.errors import PostsealError
from postseal.mail import octets
from postseal.mail.canonical import canonicalize

SEEDS = (
    b"Subject: x\r\n\r\nclean text\r\n",
    b"Subject: x\r\n\r\ntrailing \r\nbare\nbare\rcr\r\n",
    b"Content-Type: text/plain\r\n\r\n" + b"x" * 998 + b"\r\n" + b"y" * 999 + b"\r\n",
    b"Content-Type: application/octet-stream\r\n\r\n\x00\xff\x80\r\n",
    b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n\t\r\n--b--\r\n",
    b"\r\n\r\n \t\r\r\n\n",
    b"Content-Transfer-Encoding: quoted-printable\r\n\r\n" + b"a=3D=\r\n\x00=0D" * 300 + b"\r\n",
    b"Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    + b"QUJD" * 300
    + b"\r\n",
)
DICTIONARY = (b"\r\n", b"\r", b"\n", b" \r\n", b"\t\r\n", b"\x00", b"\x80", b"x" * 64)


def test_one_input(data: bytes) -> None:
    for start in {0, 1, len(data) // 2, len(data)} - {-1}:
        if start <= len(data):
            assert octets.scan(data, start) == octets.scan_python(data, start), start
    for width in (1, 76):
        assert octets.crlf_lines(data, width, b"p") == octets.crlf_lines_python(data, width, b"p")
    with contextlib.suppress(PostsealError):
        signable = canonicalize(data)
        # what a relay would alter or refuse is never part of what gets signed
        assert not octets.scan(signable) & (octets.BARE_LINE_END | octets.EIGHT_BIT | octets.NUL)


def seeds() -> list[bytes]:
    return list(SEEDS)


if __name__ == "__main__":
    _harness.main(sys.modules[__name__])
