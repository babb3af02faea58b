"""The octet scans of mail text (postseal.mail.octets, ADR 0026): the C extension and the
Python reference give the same answers, and both the answers of a plain definition."""

from __future__ import annotations

import base64
import re
import shutil

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from postseal.mail import octets

_PIECES = st.sampled_from(
    [
        b"a",
        b" ",
        b"\t",
        b"\r",
        b"\n",
        b"\r\n",
        b" \r\n",
        b"\x00",
        b"\x80",
        b"\xff",
        bytes(range(0x80, 0x88)),  # the Python reference's stand-in for CR
        b"x" * 997,
        b"x" * 998,
        b"x" * 999,
    ]
)
_TEXTS = st.lists(_PIECES, max_size=14).map(b"".join)


def _defined(text: bytes) -> int:
    """The flags, straight from their definitions: slow and obviously right."""
    flags = 0
    for i, octet in enumerate(text):
        after, before = text[i + 1 : i + 2], text[i - 1 : i] if i else b""
        if (octet == 0x0D and after != b"\n") or (octet == 0x0A and before != b"\r"):
            flags |= octets.BARE_LINE_END
        if octet > 0x7F:
            flags |= octets.EIGHT_BIT
        if octet == 0:
            flags |= octets.NUL
        if octet in b" \t" and (after == b"\r" or not after):
            flags |= octets.TRAILING_SPACE
    if any(len(line) > octets.MAX_LINE for line in re.split(rb"\r?\n", text)):
        flags |= octets.LONG_LINE
    return flags


@settings(max_examples=3000, deadline=None)
@given(_TEXTS)
def test_scan_gives_the_defined_flags(text: bytes) -> None:
    expected = _defined(text)
    assert octets.scan_python(text) == expected
    assert octets.scan(text) == expected


@settings(max_examples=1000, deadline=None)
@given(_TEXTS, _TEXTS)
def test_scan_from_start_reads_the_rest_as_a_text_of_its_own(head: bytes, text: bytes) -> None:
    data = head + text
    expected = _defined(text)
    for kind in (bytes, bytearray, memoryview):
        assert octets.scan(kind(data), len(head)) == expected
        assert octets.scan_python(kind(data), len(head)) == expected


@pytest.mark.parametrize(
    ("line", "long"),
    [
        (b"x" * 998 + b"\r\n", False),
        (b"x" * 999 + b"\r\n", True),
        (b"x" * 998, False),  # the last line, without a line end
        (b"x" * 999, True),
        (b"x" * 998 + b"\n", False),
        (b"x" * 998 + b"\r", True),  # a bare CR is part of the line
    ],
)
def test_998_octets_fit_on_a_line_and_999_do_not(line: bytes, long: bool) -> None:
    for scan in (octets.scan, octets.scan_python):
        assert bool(scan(b"a\r\n" + line) & octets.LONG_LINE) is long


def test_a_message_of_clean_crlf_text_has_no_flag() -> None:
    text = b"Subject: x\r\n\r\n" + b"The quick brown fox.\r\n" * 4000
    assert octets.scan(text) == octets.scan_python(text) == 0


def test_start_outside_the_data_is_refused() -> None:
    for scan in (octets.scan, octets.scan_python):
        with pytest.raises(ValueError, match="outside"):
            scan(b"abc", 4)
        with pytest.raises(ValueError, match="outside"):
            scan(b"abc", -1)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=3000), st.binary(max_size=40), st.integers(1, 100))
def test_crlf_lines_cuts_text_into_crlf_lines(text: bytes, prefix: bytes, width: int) -> None:
    lines = [text[i : i + width] + b"\r\n" for i in range(0, len(text), width)]
    expected = prefix + b"".join(lines)
    assert octets.crlf_lines_python(text, width, prefix) == expected
    assert octets.crlf_lines(text, width, prefix) == expected


def test_crlf_lines_of_base64_are_the_standard_librarys_lines() -> None:
    data = bytes(range(256)) * 300
    expected = base64.encodebytes(data).replace(b"\n", b"\r\n")
    assert octets.crlf_lines(base64.b64encode(data), 76, b"") == expected


def test_crlf_lines_refuses_a_width_below_one() -> None:
    for cut in (octets.crlf_lines, octets.crlf_lines_python):
        with pytest.raises(ValueError, match="width"):
            cut(b"abc", 0, b"")


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler: the reference runs")
def test_the_extension_is_built_where_a_compiler_is() -> None:
    # pip builds it as an optional extension: a failed build would otherwise go unseen
    assert octets.ACCELERATED
