"""The pure POP3 grammar: command parsing, replies, multi-line data, TOP, SASL PLAIN."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postseal.errors import InputError
from postseal.protocols.pop3.grammar import (
    Command,
    decode_plain,
    err,
    multiline,
    ok,
    parse_command,
    parse_number,
    top,
)


def test_commands_parse_case_insensitively() -> None:
    assert parse_command(b"retr 1\r\n") == Command("RETR", ("1",))
    assert parse_command(b"PASS with spaces  inside\r\n") == Command(
        "PASS", ("with spaces  inside",)
    )
    assert parse_command(b"TOP 2 0") == Command("TOP", ("2", "0"))
    assert parse_command(b"AUTH PLAIN " + b"A" * 300) == Command("AUTH", ("PLAIN", "A" * 300))


@pytest.mark.parametrize(
    "line",
    [b"", b"XYZZY\r\n", b"RETR\r\n", b"RETR 1 2\r\n", b"LIST  1\r\n", b"STAT 1\r\n",
     b"USER " + b"x" * 41 + b"\r\n", b"R\x00TR 1\r\n", b"USER \xff\r\n", b"PASS\r\n"],
)  # fmt: skip
def test_malformed_commands_are_input_errors(line: bytes) -> None:
    with pytest.raises(InputError):
        parse_command(line)


def test_numbers() -> None:
    assert parse_number("7") == 7
    assert parse_number("0", zero=True) == 0
    for bad in ("0", "-1", "1a", "99999999999"):
        with pytest.raises(InputError):
            parse_number(bad)


def test_replies_are_one_bounded_line() -> None:
    assert ok("2 320") == b"+OK 2 320\r\n"
    assert err("bad\r\nSTAT", code="AUTH") == b"-ERR [AUTH] bad STAT\r\n"
    assert len(err("x" * 2000)) <= 512


def test_multiline_stuffs_dots_and_terminates() -> None:
    assert multiline(b"a\r\n.b\r\n..\r\nc") == b"a\r\n..b\r\n...\r\nc\r\n.\r\n"
    assert multiline(b".\nx\n") == b"..\r\nx\r\n.\r\n"
    assert multiline(b"") == b".\r\n"


def test_top_keeps_the_header_and_n_body_lines() -> None:
    message = b"Subject: s\r\nX: y\r\n\r\none\r\ntwo\r\nthree\r\n"
    assert top(message, 0) == b"Subject: s\r\nX: y\r\n\r\n"
    assert top(message, 2) == b"Subject: s\r\nX: y\r\n\r\none\r\ntwo\r\n"
    assert top(message, 10) == message
    assert top(b"Subject: no body", 3) == b"Subject: no body"


def test_sasl_plain() -> None:
    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    assert decode_plain(b64(b"\0bob@example.org\0pw d")) == ("bob@example.org", "pw d")
    assert decode_plain(b64(b"bob\0bob\0pw")) == ("bob", "pw")
    for bad in (b64(b"carol\0bob\0pw"), b64(b"\0bob"), "%%%", b64(b"\0\0pw")):
        with pytest.raises(InputError):
            decode_plain(bad)


@given(st.binary(max_size=300))
def test_any_line_parses_or_is_an_input_error(line: bytes) -> None:
    try:
        command = parse_command(line)
    except InputError:
        return
    assert command.verb.isupper()


@given(st.binary(max_size=500))
def test_multiline_round_trips_through_a_client_reading(data: bytes) -> None:
    """What poplib does (split lines, undo dot-stuffing) gives back the CRLF form."""
    wire = multiline(data)
    assert wire.endswith(b".\r\n")
    lines = wire[:-3].split(b"\r\n")[:-1] if wire != b".\r\n" else []
    undone = [line[1:] if line.startswith(b"..") else line for line in lines]
    assert all(not line.startswith(b".") or line.startswith(b"..") for line in lines)
    normal = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    expected = normal if not normal or normal.endswith(b"\r\n") else normal + b"\r\n"
    assert b"".join(line + b"\r\n" for line in undone) == expected
