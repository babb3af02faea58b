"""Fuzz target: the IMAP command grammar — ``postseal.protocols.imap.grammar``.

``parse_command`` never raises (malformed input is a ``BadCommand`` value), so any
exception is a finding. The buffer is parsed as is, in UTF8=ACCEPT mode and with a
literal limit, and also as an AUTHENTICATE continuation line.
Run: ``python fuzz/imap_grammar.py -max_total_time=60 corpus/`` (see fuzz/README.md).
"""

from __future__ import annotations

import contextlib
import sys

import _harness

from postseal.errors import PostsealError
from postseal.protocols.imap.commands import Command
from postseal.protocols.imap.grammar import (
    BadCommand,
    Incomplete,
    NeedLiteral,
    is_idle_done,
    parse_command,
    parse_sasl_response,
)

SEEDS = (
    b"a1 CAPABILITY\r\n",
    b'a2 LOGIN alice "pass word"\r\n',
    b"a3 LOGIN {5}\r\nalice {6+}\r\nsecret\r\n",
    b"a4 AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n",
    b"a5 ENABLE UTF8=ACCEPT CONDSTORE\r\n",
    b'a6 ID ("name" "client" "version" NIL)\r\n',
    b"a7 SELECT INBOX (CONDSTORE)\r\n",
    b'a8 LIST "" "*" RETURN (SUBSCRIBED CHILDREN)\r\n',
    b"a9 STATUS &ZeVnLIqe- (MESSAGES UIDNEXT UNSEEN)\r\n",
    b'b1 APPEND INBOX (\\Seen) "15-Jan-2026 12:00:00 +0000" {11}\r\nhello world\r\n',
    b"b2 UID FETCH 1:*,5 (FLAGS BODY.PEEK[1.2.HEADER.FIELDS (From To)]<0.100>)\r\n",
    b"b3 FETCH 1 (BODYSTRUCTURE ENVELOPE RFC822.SIZE BINARY[1])\r\n",
    b"b4 UID STORE 1:3 +FLAGS.SILENT (\\Deleted $Junk)\r\n",
    b'b5 SEARCH CHARSET UTF-8 OR (FROM "a" SINCE 1-Jan-2026) NOT (LARGER 100 UID 1:5)\r\n',
    b"b6 UID SEARCH RETURN (MIN MAX COUNT) SUBJECT {3+}\r\nfoo\r\n",
    b"b7 COPY 1:2 Archive\r\n",
    b"b8 UID MOVE 4 Trash\r\n",
    b"b9 IDLE\r\n",
    b'c1 CREATE "a/b" (USE (\\Sent))\r\n',
    b"c2 RENAME old new\r\n",
    b"c3 EXPUNGE\r\n",
    b"c4 UID EXPUNGE 1:10\r\n",
    b"c5 NOOP\r\n",
    b"c6 LOGOUT\r\n",
    b"c7 STARTTLS\r\n",
    b"c8 GETQUOTAROOT INBOX\r\n",
    b"c9 NAMESPACE\r\n",
    b"d1 FETCH 1 BODY[]\r\n",
    b"DONE\r\n",
    b"* BAD\r\n",
)
DICTIONARY = (
    b"{4}\r\n",
    b"{4+}\r\n",
    b"~{4}\r\n",
    b"{99999999999999}\r\n",
    b"\r\n",
    b"NIL",
    b"(",
    b")",
    b"[",
    b"]",
    b"<0.10>",
    b"\\",
    b'"',
    b"1:*",
    b"BODY.PEEK[",
    b"HEADER.FIELDS.NOT",
    b"UID ",
    b"&-",
    b"&AAA-",
)
_RESULTS = (Command, NeedLiteral, Incomplete, BadCommand)


def test_one_input(data: bytes) -> None:
    with contextlib.suppress(PostsealError):
        for utf8, limit in ((False, None), (True, 64)):
            result = parse_command(data, utf8=utf8, max_literal=limit)
            assert isinstance(result, _RESULTS), type(result)
            if isinstance(result, NeedLiteral):
                assert result.size >= 0, result
    with contextlib.suppress(PostsealError):
        parse_sasl_response(data)
        is_idle_done(data)


def seeds() -> list[bytes]:
    return list(SEEDS)


if __name__ == "__main__":
    _harness.main(sys.modules[__name__])
