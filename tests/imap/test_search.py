"""SEARCH evaluation (RFC 3501 §6.4.4): a table of keys against a small mailbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from postseal.mail import structure
from postseal.mail.structure.summary import summary_header
from postseal.protocols.imap import commands as c
from postseal.protocols.imap import search
from postseal.protocols.imap.grammar import parse_command
from postseal.protocols.imap.search import Candidate, matches, needs

PLUS_ONE = timezone(timedelta(hours=1))
MESSAGES = [
    (
        b"From: Alice Smith <alice@example.org>\r\nTo: bob@example.net\r\n"
        b"Subject: =?iso-8859-1?q?Caf=E9?= tonight\r\nDate: Mon, 5 Feb 2024 23:30:00 -0800\r\n"
        b"X-Spam: no\r\n\r\nSee you at the usual place.\r\n",
        frozenset({"\\Seen", "\\Answered"}),
        datetime(2024, 2, 6, 8, 30, tzinfo=PLUS_ONE),
    ),
    (
        b"From: bob@example.net\r\nTo: alice@example.org\r\nCc: carol@example.com\r\n"
        b"Subject: report\r\nDate: Tue, 6 Feb 2024 10:00:00 +0000\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
        b"Quarterly r=C3=A9sum=C3=A9 attached.\r\n",
        frozenset({"\\Flagged", "$Important", "\\Recent"}),
        datetime(2024, 2, 6, 10, 0, tzinfo=UTC),
    ),
    (
        b"From: carol@example.com\r\nSubject: big\r\nContent-Type: text/plain\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nU2VjcmV0IHBsYW5z\r\n",
        frozenset({"\\Deleted", "\\Recent", "\\Seen"}),
        datetime(2024, 2, 7, 0, 0, tzinfo=UTC),
    ),
]


def mailbox() -> list[Candidate]:
    out = []
    for index, (raw, flags, when) in enumerate(MESSAGES, start=1):
        summary = structure.to_summary(structure.parse(raw))
        out.append(
            Candidate(
                seq=index, uid=index * 10, flags=flags, internal_date=when, size=len(raw),
                largest_seq=len(MESSAGES), largest_uid=30, modseq=100 * index,
                load_summary=lambda s=summary: structure.from_summary(s),
                load_raw=lambda r=raw: r,
            )
        )  # fmt: skip
    return out


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        ("ALL", [1, 2, 3]),
        ("SEEN", [1, 3]),
        ("UNSEEN", [2]),
        ("ANSWERED", [1]),
        ("UNANSWERED", [2, 3]),
        ("DELETED", [3]),
        ("UNDELETED", [1, 2]),
        ("FLAGGED", [2]),
        ("UNFLAGGED", [1, 3]),
        ("DRAFT", []),
        ("UNDRAFT", [1, 2, 3]),
        ("RECENT", [2, 3]),
        ("NEW", [2]),
        ("OLD", [1]),
        ("KEYWORD $important", [2]),
        ("UNKEYWORD $Important", [1, 3]),
        ("FROM smith", [1]),
        ("FROM ALICE", [1]),
        ("TO alice", [2]),
        ("CC carol", [2]),
        ("BCC carol", []),
        ('SUBJECT "café"', [1]),
        ('SUBJECT "CAFÉ TONIGHT"', [1]),
        ("HEADER X-Spam no", [1]),
        ('HEADER X-Spam ""', [1]),
        ('HEADER Content-Type ""', [2, 3]),
        ("BODY usual", [1]),
        ('BODY "résumé"', [2]),
        ("BODY secret", [3]),
        ("TEXT secret", [3]),
        ("TEXT carol", [2, 3]),
        ("BODY carol", []),
        ("LARGER 230", [2]),
        ("SMALLER 183", [3]),
        ("SMALLER 184", [1, 3]),
        # INTERNALDATE days in the message's own zone: message 1 is 6 Feb at +0100
        ("ON 6-Feb-2024", [1, 2]),
        ("BEFORE 7-Feb-2024", [1, 2]),
        ("SINCE 7-Feb-2024", [3]),
        # Date: days as written: message 1 is still 5 Feb at -0800; message 3 has no Date
        ("SENTON 5-Feb-2024", [1]),
        ("SENTBEFORE 6-Feb-2024", [1]),
        ("SENTSINCE 6-Feb-2024", [2]),
        ("1:2", [1, 2]),
        ("*", [3]),
        ("UID 20:*", [2, 3]),
        ("UID 25", []),
        ("MODSEQ 200", [2, 3]),
        ("NOT SEEN", [2]),
        ("OR ANSWERED DELETED", [1, 3]),
        ("(SEEN FROM carol)", [3]),
        ("SEEN NOT (DELETED)", [1]),
        ("OR (FROM alice TO bob) LARGER 100000", [1]),
    ],
)
def test_search_table(criteria: str, expected: list[int]) -> None:
    command = parse_command(b"A SEARCH CHARSET UTF-8 " + criteria.encode() + b"\r\n")
    assert isinstance(command, c.Search), command
    assert [m.seq for m in mailbox() if matches(command.key, m)] == expected


def test_non_ascii_search_strings_as_literals() -> None:
    text = "résumé".encode()
    command = parse_command(b"A SEARCH CHARSET UTF-8 BODY {%d}\r\n" % len(text) + text + b"\r\n")
    assert isinstance(command, c.Search)
    assert [m.seq for m in mailbox() if matches(command.key, m)] == [2]


def test_flag_searches_load_nothing() -> None:
    def refuse() -> bytes:
        raise AssertionError("loaded the body")

    command = parse_command(b"A SEARCH OR SEEN UID 1:* LARGER 5 SINCE 1-Jan-2024\r\n")
    assert isinstance(command, c.Search)
    assert needs(command.key) == "metadata"
    message = mailbox()[0]
    message.load_raw = refuse
    message.load_summary = None
    assert matches(command.key, message)


def test_needs() -> None:
    def key(text: bytes) -> object:
        command = parse_command(b"A SEARCH " + text + b"\r\n")
        assert isinstance(command, c.Search)
        return command.key

    assert needs(key(b"SUBJECT x")) == "summary"  # type: ignore[arg-type]
    assert needs(key(b"NOT SENTON 1-Jan-2024")) == "summary"  # type: ignore[arg-type]
    assert needs(key(b"OR SEEN TEXT x")) == "raw"  # type: ignore[arg-type]


def _header_candidate(header: bytes) -> Candidate:
    summary = structure.to_summary(structure.parse(header + b"\r\nbody\r\n"))
    return Candidate(
        seq=1, uid=1, flags=frozenset(), internal_date=datetime(2024, 2, 6, tzinfo=UTC),
        size=len(header), largest_seq=1, largest_uid=1,
        load_summary=lambda: summary_header(summary),
    )  # fmt: skip


def _decoded_match(header: bytes, name: str, needle: str) -> bool:
    """The header key's meaning, evaluated the long way (every field decoded)."""
    return any(
        needle.casefold() in structure.decode_header_value(value).casefold()
        for field, value in structure.header_fields(header)
        if field == name
    )


@pytest.mark.parametrize(
    ("header", "needle", "found"),
    [
        (b"Subject: Needle in a haystack", "NEEDLE", True),
        (b"Subject: in a\r\n haystack", "a haystack", True),  # across a fold
        (b"Subject: in a\r\n\thaystack", "a\thaystack", True),
        (b"Subject: =?utf-8?q?N=C3=A9edle?=", "NÉEDLE", True),  # an encoded word
        (b"Subject: =?utf-8?b?bmVlZGxl?=", "needle", True),
        (b"Subject: \xc5\xbftraw", "straw", True),  # U+017F folds to "s"
        (b"Subject: STRASSE", "straße", True),  # "ß" folds to "ss"
        (b"Subject: hay", "needle", False),
        (b"Subject: hay\r\nX-Needle: no", "needle", False),  # in another field only
        (b"Subject: caf\xc3\xa9", "CAFÉ", True),
    ],
)
def test_header_keys_match_the_decoded_field(header: bytes, needle: str, found: bool) -> None:
    assert _decoded_match(header, "subject", needle) is found
    assert matches(search.Header("subject", needle), _header_candidate(header)) is found


_HEADER_TEXT = st.sampled_from(
    ["needle", "NEEDLE", "ne", "edle", "a haystack", " ", "\r\n ", "\r\n\t", "=?utf-8?q?",
     "?=", "=C3=A9", "caf\u00e9", "\u017ftraw", "STRASSE", "x", "-", ":"]
)  # fmt: skip


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(_HEADER_TEXT, min_size=1, max_size=8),
    st.sampled_from(["needle", "NEEDLE", "a hay", "café", "straw", "strasse", "ß", "x-"]),
)
def test_a_header_key_never_misses_what_decoding_finds(parts: list[str], needle: str) -> None:
    header = ("Subject: " + "".join(parts)).encode("utf-8")
    key = search.Header("subject", needle)
    assert matches(key, _header_candidate(header)) is _decoded_match(header, "subject", needle)
