"""Fuzz target: the POP3 wire format — ``postseal.protocols.pop3.grammar``.

Commands (``parse_command``, ``parse_number``), SASL PLAIN (``decode_plain``) and the
reply builders, whose promises are checked: a reply is one line of at most
``MAX_REPLY`` octets with its CRLF; multi-line data is dot-stuffed, CRLF-terminated and
ends with the lone dot (RFC 1939 §3); ``top`` returns a prefix of the message.
Run: ``python fuzz/pop3_grammar.py -max_total_time=60 corpus/`` (see fuzz/README.md).
"""

from __future__ import annotations

import contextlib
import sys

import _harness

from postseal.errors import PostsealError
from postseal.protocols.pop3 import grammar

SEEDS = (
    b"USER alice\r\n",
    b"PASS correct horse battery staple\r\n",
    b"AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n",
    b"AUTH PLAIN\r\n",
    b"APOP alice c4c9334bac560ecc979e58001b3e22fb\r\n",
    b"STAT\r\n",
    b"LIST 1\r\n",
    b"RETR 2\r\n",
    b"TOP 1 10\r\n",
    b"UIDL\r\n",
    b"DELE 4294967296\r\n",
    b"CAPA\r\n",
    b"STLS\r\n",
    b"QUIT\r\n",
    b"Subject: x\r\n\r\n.line\r\nnext\n.\nlast",
)
DICTIONARY = (b"\r\n", b" ", b"PASS ", b"TOP ", b"AUTH PLAIN ", b"\x00", b"=", b".\r\n", b"\n.")


def _reply(line: bytes) -> None:
    assert line.endswith(b"\r\n"), line
    assert b"\r" not in line[:-2], f"reply is not one line: {line!r}"
    assert b"\n" not in line[:-2], f"reply is not one line: {line!r}"
    assert len(line) <= grammar.MAX_REPLY, f"reply of {len(line)} octets: {line[:60]!r}…"


def test_one_input(data: bytes) -> None:
    with contextlib.suppress(PostsealError):
        command = grammar.parse_command(data)
        for arg in command.args:
            with contextlib.suppress(PostsealError):
                grammar.parse_number(arg)
            with contextlib.suppress(PostsealError):
                grammar.parse_number(arg, zero=True)
            with contextlib.suppress(PostsealError):
                grammar.decode_plain(arg)
    text = data.decode("utf-8", "surrogateescape")
    with contextlib.suppress(PostsealError):
        grammar.decode_plain(text)
    _reply(grammar.ok(text))
    _reply(grammar.err(text))
    _reply(grammar.err(text, code="SYS/TEMP"))
    wire = grammar.multiline(data)
    assert wire.endswith(b".\r\n"), wire[-10:]
    lines = wire.split(b"\r\n")
    assert lines[-2:] == [b".", b""], lines[-3:]
    for line in lines[:-2]:
        assert b"\n" not in line, f"bare LF in multi-line data {line!r}"
        assert line != b".", "an unstuffed dot line ends the data early"
    for count in (0, 1, 3):
        assert data.startswith(grammar.top(data, count))


def seeds() -> list[bytes]:
    return list(SEEDS)


if __name__ == "__main__":
    _harness.main(sys.modules[__name__])
