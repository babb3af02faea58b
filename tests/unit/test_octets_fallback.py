"""Without the C extension (no compiler at install), canonicalisation, the base64 lines
and the sign-then-encrypt split give byte for byte what they give with it (ADR 0026)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from hypothesis import given, settings
from hypothesis import strategies as st

from postseal.errors import InputError
from postseal.mail import octets
from postseal.mail.canonical import canonicalize
from postseal.smime import transfer
from postseal.smime.sign_encrypt import split_for_signing


@contextmanager
def _python_reference() -> Iterator[None]:
    saved = octets.scan, octets.crlf_lines
    octets.scan, octets.crlf_lines = octets.scan_python, octets.crlf_lines_python
    try:
        yield
    finally:
        octets.scan, octets.crlf_lines = saved


def _outcome(action: Callable[[bytes], object], data: bytes) -> object:
    try:
        return action(data)
    except InputError as exc:
        return ("InputError", exc.message)


_HEADERS = st.sampled_from(
    [
        b"Subject: x\r\n",
        b"Content-Type: text/plain\r\n",
        b"Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n",
        b"Content-Type: application/octet-stream\r\n",
        b"Content-Type: multipart/mixed; boundary=b\r\n",
        b"X-Bad: a\rb\r\n",
    ]
)
_BODY = st.sampled_from(
    [b"a", b" ", b"\t", b"\r", b"\n", b"\r\n", b"\x00", b"\xc3\xa4", b"x" * 999, b"--b\r\n"]
)


@settings(max_examples=600, deadline=None)
@given(st.lists(_HEADERS, max_size=3).map(b"".join), st.lists(_BODY, max_size=12).map(b"".join))
def test_the_python_reference_gives_the_same_results(header: bytes, body: bytes) -> None:
    message = header + b"\r\n" + body
    for action in (canonicalize, split_for_signing, transfer.encode_lines):
        expected = _outcome(action, message)
        with _python_reference():
            assert _outcome(action, message) == expected
