"""The base64 transfer encoding (RFC 2045 §6.8): the SIMD codec and the struct-based line
cutter give exactly the standard library's bytes and verdicts."""

from __future__ import annotations

import base64
import binascii
import os
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from postseal.smime import transfer


def _reference_lines(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


def _reference_decode(text: bytes) -> bytes | None:
    try:
        return base64.b64decode(re.sub(rb"\s+", b"", text), validate=True)
    except (binascii.Error, ValueError):
        return None


def _decode(text: bytes) -> bytes | None:
    try:
        return transfer.decode(text)
    except ValueError:
        return None


# 57 input bytes make one 76-character line; 256 lines move per struct call
_EDGES = [0, 1, 2, 3, 56, 57, 58, 114, 57 * 255, 57 * 256 - 1, 57 * 256, 57 * 256 + 1]


@pytest.mark.parametrize("size", [*_EDGES, 57 * 512 + 20, 70_000])
def test_lines_match_the_standard_library(size: int) -> None:
    data = os.urandom(size)
    assert transfer.encode_lines(data) == _reference_lines(data)
    assert transfer.encode_lines(memoryview(data)) == _reference_lines(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000), st.binary(max_size=40))
def test_lines_with_a_prefix(data: bytes, prefix: bytes) -> None:
    out = transfer.encode_lines(data, prefix=prefix)
    assert out == prefix + _reference_lines(data)
    assert all(len(line) <= 76 for line in out[len(prefix) :].split(b"\r\n"))


_B64_PIECES = st.sampled_from(
    [b"A", b"Qk", b"+/", b"=", b"==", b"\r\n", b"\n", b" ", b"\t", b"\x0b", b"\x0c", b"-", b"*"]
)


@settings(max_examples=1500, deadline=None)
@given(st.lists(_B64_PIECES, max_size=30).map(b"".join))
def test_decoding_agrees_with_the_standard_library(text: bytes) -> None:
    assert _decode(text) == _reference_decode(text)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_decoding_round_trips_the_lines(data: bytes) -> None:
    assert transfer.decode(transfer.encode_lines(data)) == data


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b"AAAA=", b"\0\0\0"),  # excess padding: refused by the SIMD codec, let through
        (b"AAAA==\r\n", b"\0\0\0"),  # by the standard library's strict mode, as before
        (b"AA==", b"\0"),
        (b"AA\r\nAA", b"\0\0\0"),
    ],
)
def test_decoding_edge_cases(text: bytes, expected: bytes) -> None:
    assert transfer.decode(text) == expected


@pytest.mark.parametrize("text", [b"A", b"AAA", b"AA=A", b"A===", b"AA-_", b"AA\x00A", b"AAAAA"])
def test_decoding_refuses(text: bytes) -> None:
    with pytest.raises(binascii.Error):
        transfer.decode(text)


def test_custom_white_space() -> None:
    assert transfer.decode(b"AA AA", whitespace=b" ") == b"\0\0\0"
    with pytest.raises(binascii.Error):
        transfer.decode(b"AA\x0bAA", whitespace=b" \t\r\n")
