"""Fuzz target: the SMTP grammar (EHLO/MAIL/RCPT arguments) and the DATA reader —
``postseal.protocols.smtp.grammar`` and ``postseal.protocols.smtp.data.DataReader``.

Input layout: the first byte holds flags (bit 0: EHLO was used, bit 1: SMTPUTF8), the
rest is both the command argument (decoded as UTF-8 with ``surrogateescape``, as the
edge does) and the DATA stream, read line by line the way the session reads it (lines
longer than the stream buffer arrive as ``feed_overlong`` fragments).

Beyond "value or InputError", the module's own promises are checked: no control
character in a returned value or in an error message (they are echoed in replies and
Received: headers), and a message out of DATA has CRLF line ends only, no NUL, no bare
CR, no line over the limit and no more octets than the size limit.
Run: ``python fuzz/smtp_grammar.py -max_total_time=60 corpus/`` (see fuzz/README.md).
"""

from __future__ import annotations

import re
import sys

import _harness

from postseal.errors import InputError, PostsealError
from postseal.protocols.smtp import grammar
from postseal.protocols.smtp.data import DataReader

MAX_SIZE = 4096
MAX_LINE = 1000
STREAM_LIMIT = 1200  # the asyncio StreamReader limit the session reads lines with
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

SEEDS = (
    b"\x03FROM:<alice@example.org> SIZE=1000 BODY=8BITMIME SMTPUTF8",
    b"\x01FROM:<> RET=HDRS ENVID=QQ+2Bx",
    b"\x01FROM:<@a.example,@b.example:bob@example.org> AUTH=<>",
    b"\x01TO:<bob@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@example.org",
    b"\x00TO:<Postmaster>",
    b'\x03TO:<"quoted local"@example.org>',
    b"\x03TO:<j\xc3\xb6rg@b\xc3\xbccher.example>",
    b"\x01TO:<user@[192.0.2.1]>",
    b"\x00mail.example.org",
    b"\x00[IPv6:2001:db8::1]",
    b"\x00Subject: hi\r\n\r\nline one\r\n..dot stuffed\r\n.\r\n",
    b"\x00a\r\n\n.\n\r\nb\r\n.\r\n",
    b"\x00line\rbare cr\r\n.\r\n",
    b"\x00" + b"x" * 1500 + b"\r\n.\r\n",
)
DICTIONARY = (
    b"FROM:<",
    b"TO:<",
    b">",
    b"@",
    b" SIZE=",
    b" BODY=8BITMIME",
    b" SMTPUTF8",
    b" NOTIFY=NEVER",
    b" ORCPT=rfc822;",
    b" ENVID=",
    b"+0D",
    b"+00",
    b"\r\n.\r\n",
    b"\n.\n",
    b"\r\n..",
    b'"',
    b"\\",
)


def _clean(text: str, what: str) -> None:
    assert not _CONTROL.search(text), f"control character in {what}: {text!r}"


def _check_error(err: InputError) -> None:
    _clean(err.message, "an error message")


def _grammar(arg: str, *, extended: bool, smtputf8: bool) -> None:
    try:
        _clean(grammar.parse_helo(arg), "the HELO name")
    except InputError as err:
        _check_error(err)
    try:
        mail = grammar.parse_mail(arg, extended=extended)
        _clean(mail.address, "the MAIL address")
        if mail.envid is not None:
            _clean(mail.envid, "ENVID")
    except InputError as err:
        _check_error(err)
    try:
        rcpt = grammar.parse_rcpt(arg, extended=extended, smtputf8=smtputf8)
        _clean(rcpt.address, "the RCPT address")
        if rcpt.orcpt is not None:
            _clean(rcpt.orcpt, "ORCPT")
    except InputError as err:
        _check_error(err)


def _data(stream: bytes) -> None:
    reader = DataReader(max_size=MAX_SIZE, max_line_length=MAX_LINE)
    pos = 0
    while pos < len(stream):
        newline = stream.find(b"\n", pos)
        if newline < 0 or newline - pos + 1 > STREAM_LIMIT:
            if newline < 0 and len(stream) - pos <= STREAM_LIMIT:
                return  # the connection closed in the middle of a line: no message
            reader.feed_overlong(stream[pos : pos + STREAM_LIMIT])
            pos += STREAM_LIMIT
            continue
        line = stream[pos : newline + 1]
        pos = newline + 1
        if reader.feed(line):
            break
    else:
        return  # no terminating dot: the transfer never ended
    try:
        message = reader.finish()
    except PostsealError:
        return
    assert len(message) <= MAX_SIZE, f"{len(message)} octets over the {MAX_SIZE} limit"
    assert b"\x00" not in message, "NUL in an accepted message"
    assert message == b"" or message.endswith(b"\r\n"), "message does not end with CRLF"
    for line in message.split(b"\r\n")[:-1]:
        assert b"\r" not in line, f"bare CR in {line!r}"
        assert b"\n" not in line, f"bare LF in {line!r}"
        assert len(line) + 2 <= MAX_LINE, f"a line of {len(line) + 2} octets"


def test_one_input(data: bytes) -> None:
    flags = data[0] if data else 0
    rest = data[1:]
    arg = rest.decode("utf-8", "surrogateescape")
    _grammar(arg, extended=bool(flags & 1), smtputf8=bool(flags & 2))
    _data(rest)


def seeds() -> list[bytes]:
    return list(SEEDS)


if __name__ == "__main__":
    _harness.main(sys.modules[__name__])
