"""Property tests: the parser never raises, rendered values always re-parse."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postseal.protocols.imap import utf7, values
from postseal.protocols.imap.commands import Command, Login
from postseal.protocols.imap.grammar import BadCommand, Incomplete, NeedLiteral, parse_command
from postseal.protocols.imap.lexer import Reader
from postseal.protocols.imap.responses import mailbox_name
from postseal.protocols.imap.sets import SequenceSet

OUTCOMES = (Command, NeedLiteral, Incomplete, BadCommand)
WORDS = [
    b"A1",
    b" ",
    b"\r\n",
    b"UID",
    b"FETCH",
    b"SEARCH",
    b"STORE",
    b"LIST",
    b"SELECT",
    b"APPEND",
    b"LOGIN",
    b"STATUS",
    b"COPY",
    b"1:*",
    b"*",
    b"2,4:7",
    b"(",
    b")",
    b"[",
    b"]",
    b"<0.10>",
    b"BODY",
    b"BODY.PEEK",
    b"HEADER.FIELDS",
    b"TEXT",
    b"MIME",
    b"1.2",
    b"FLAGS",
    b"+FLAGS",
    b"\\Seen",
    b"NOT",
    b"OR",
    b"SINCE",
    b"1-Feb-1994",
    b'"a\\"b"',
    b'"',
    b"{3}\r\nabc",
    b"{5+}\r\n",
    b"NIL",
    b"INBOX",
    b"&Jjo-",
    b"RETURN",
    b"CHARSET",
    b"UTF-8",
    b"\xff",
    b"\x00",
]


def check(buffer: bytes, **kwargs: object) -> object:
    result = parse_command(buffer, **kwargs)  # type: ignore[arg-type]
    assert isinstance(result, OUTCOMES)
    if isinstance(result, BadCommand):
        assert result.message and "\n" not in result.message
    return result


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300), st.booleans())
def test_arbitrary_bytes_never_raise(buffer: bytes, utf8: bool) -> None:
    check(buffer, utf8=utf8)
    check(buffer + b"\r\n", utf8=utf8, max_literal=100)


@settings(max_examples=800, deadline=None)
@given(st.lists(st.sampled_from(WORDS), max_size=30), st.booleans())
def test_token_soup_never_raises(words: list[bytes], utf8: bool) -> None:
    check(b"".join(words) + b"\r\n", utf8=utf8)
    check(b"A1 " + b" ".join(words) + b"\r\n", utf8=utf8, max_literal=4)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_string_renderings_reparse(data: bytes) -> None:
    rendered = values.string(data)
    reader = Reader(rendered + b"\r\n")
    assert reader.string() == data
    reader.end()
    if b"\x00" not in data:
        reader = Reader(values.astring(data) + b"\r\n")
        assert reader.astring() == data
        reader.end()
        nil = Reader(values.nstring(data) + b"\r\n")
        assert nil.nstring() == data


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs",), min_codepoint=0x20), max_size=40))
def test_mailbox_names_round_trip(name: str) -> None:
    expected = "INBOX" if name.upper() == "INBOX" else name
    if "\x7f" in name:
        return
    for utf8 in (False, True):
        reader = Reader(mailbox_name(name, utf8=utf8) + b"\r\n", utf8=utf8)
        assert reader.mailbox() == expected
    assert utf7.decode(utf7.encode(name)) == name


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=30))
def test_login_with_rendered_arguments(password: str) -> None:
    line = b"a LOGIN " + values.astring("fred") + b" " + values.astring(password) + b"\r\n"
    result = parse_command(line)
    if isinstance(result, NeedLiteral):  # literal form: the octets follow the marker line
        result = parse_command(line + b"\r\n")
    assert result == Login("a", "fred", password)


@settings(max_examples=200, deadline=None)
@given(st.sets(st.integers(1, 5000), max_size=50))
def test_sequence_sets_round_trip(numbers: set[int]) -> None:
    if not numbers:
        return
    written = SequenceSet.of(numbers)
    again = SequenceSet.parse(str(written))
    assert set(again.iter(5000)) == numbers
