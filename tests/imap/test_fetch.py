"""FETCH item rendering from raw bytes and from the stored summary (RFC 3501 §6.4.5)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from postseal.mail import structure
from postseal.protocols.imap import commands as c
from postseal.protocols.imap import values
from postseal.protocols.imap.data import FetchData
from postseal.protocols.imap.fetch import (
    FetchSource,
    format_internal_date,
    render,
    render_envelope,
)
from postseal.protocols.imap.grammar import parse_command

RAW = (
    b"From: Fred Foobar <foobar@Blurdybloop.example>\r\n"
    b"Subject: afternoon meeting\r\n"
    b"To: mooch@owatagu.siam.edu.example\r\n"
    b"Message-Id: <B27397-0100000@Blurdybloop.example>\r\n"
    b"Content-Type: multipart/mixed; boundary=XX\r\n"
    b"\r\n"
    b"--XX\r\n"
    b"Content-Type: text/plain\r\n"
    b"\r\n"
    b"Hello Joe\r\n"
    b"--XX\r\n"
    b"Content-Type: application/octet-stream\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    b"AAEC\r\n"
    b"--XX--\r\n"
)
WHEN = datetime(1996, 7, 17, 2, 44, 25, tzinfo=timezone(-timedelta(hours=7)))


def source(*, raw: bool = True) -> FetchSource:
    msg = structure.parse(RAW)
    summary = structure.from_summary(structure.to_summary(msg))
    return FetchSource(
        uid=4827313, flags=("\\Seen",), internal_date=WHEN, size=len(RAW), modseq=624140003,
        structure=summary, raw=RAW if raw else None,
    )  # fmt: skip


def fetch(items: str, msg: FetchSource) -> bytes:
    command = parse_command(b"a FETCH 12 " + items.encode() + b"\r\n")
    assert isinstance(command, c.Fetch), command
    return FetchData(12, render(command.items, msg)).to_bytes()


def test_internal_date_format() -> None:
    assert format_internal_date(WHEN) == "17-Jul-1996 02:44:25 -0700"
    assert format_internal_date(datetime(2024, 1, 2, 3, 4, 5)) == "02-Jan-2024 03:04:05 +0000"


def test_metadata_items_from_the_summary_alone() -> None:
    wire = fetch("(FLAGS UID INTERNALDATE RFC822.SIZE MODSEQ ENVELOPE)", source(raw=False))
    assert wire == (
        b'* 12 FETCH (FLAGS (\\Seen) UID 4827313 INTERNALDATE "17-Jul-1996 02:44:25 -0700" '
        b'RFC822.SIZE %d MODSEQ (624140003) ENVELOPE (NIL "afternoon meeting" '
        b'(("Fred Foobar" NIL "foobar" "Blurdybloop.example")) '
        b'(("Fred Foobar" NIL "foobar" "Blurdybloop.example")) '
        b'(("Fred Foobar" NIL "foobar" "Blurdybloop.example")) '
        b'((NIL NIL "mooch" "owatagu.siam.edu.example")) NIL NIL NIL '
        b'"<B27397-0100000@Blurdybloop.example>"))\r\n' % len(RAW)
    )


def test_bodystructure_and_body() -> None:
    wire = fetch("(BODYSTRUCTURE BODY)", source(raw=False))
    assert wire == (
        b'* 12 FETCH (BODYSTRUCTURE (("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 9 1 '
        b'NIL NIL NIL NIL)("application" "octet-stream" NIL NIL NIL "BASE64" 4 NIL NIL NIL NIL) '
        b'"mixed" ("boundary" "XX") NIL NIL NIL) '.replace(b")(", b") (")
        + b'BODY (("text" "plain" ("charset" "us-ascii") NIL NIL "7BIT" 9 1) '
        b'("application" "octet-stream" NIL NIL NIL "BASE64" 4) "mixed"))\r\n'
    )


def test_header_sections_from_the_summary_alone() -> None:
    wire = fetch("(BODY.PEEK[HEADER.FIELDS (Subject)] RFC822.HEADER)", source(raw=False))
    header = RAW[: RAW.index(b"\r\n\r\n") + 4]
    assert wire == (
        b'* 12 FETCH (BODY[HEADER.FIELDS (SUBJECT)] "Subject: afternoon meeting\r\n\r\n" '.replace(
            b'"Subject: afternoon meeting\r\n\r\n"', b"{30}\r\nSubject: afternoon meeting\r\n\r\n"
        )
        + b"RFC822.HEADER {%d}\r\n" % len(header)
        + header
        + b")\r\n"
    )


def test_body_sections_partials_and_binary() -> None:
    msg = source()
    assert fetch("BODY[1]", msg) == b'* 12 FETCH (BODY[1] "Hello Joe")\r\n'
    assert fetch("BODY.PEEK[1]<6.100>", msg) == b'* 12 FETCH (BODY[1]<6> "Joe")\r\n'
    assert (
        fetch("BODY[1.MIME]", msg)
        == b"* 12 FETCH (BODY[1.MIME] {28}\r\nContent-Type: text/plain\r\n\r\n)\r\n"
    )
    assert fetch("BODY[]<0.4>", msg) == b'* 12 FETCH (BODY[]<0> "From")\r\n'
    assert fetch("BODY[9]", msg) == b"* 12 FETCH (BODY[9] NIL)\r\n"
    assert fetch("BINARY[2]", msg) == b"* 12 FETCH (BINARY[2] ~{3}\r\n\x00\x01\x02)\r\n"
    assert fetch("BINARY.SIZE[2]", msg) == b"* 12 FETCH (BINARY.SIZE[2] 3)\r\n"
    full = fetch("RFC822", msg)
    assert full == b"* 12 FETCH (RFC822 {%d}\r\n" % len(RAW) + RAW + b")\r\n"
    text = fetch("RFC822.TEXT", msg)
    assert text.startswith(b"* 12 FETCH (RFC822.TEXT {") and text.endswith(b"--XX--\r\n)\r\n")


def test_body_items_without_bytes_are_misuse() -> None:
    command = parse_command(b"a FETCH 1 BODY[1]\r\n")
    assert isinstance(command, c.Fetch) and command.needs_body
    with pytest.raises(ValueError, match="needs the message bytes"):
        render(command.items, source(raw=False))
    summary_only = parse_command(
        b"a FETCH 1 (ENVELOPE BODYSTRUCTURE BODY.PEEK[HEADER] RFC822.SIZE)\r\n"
    )
    assert isinstance(summary_only, c.Fetch) and not summary_only.needs_body


def test_envelopes_rendered_with_a_shared_memo_are_the_same_bytes() -> None:
    senders = [b"Fred <fred@example.org>", b'"Doe, Jane" <jane@example.org>', b"undisclosed:;"]
    memo: dict[object, bytes] = {}
    for n in range(12):
        raw = (
            b"From: " + senders[n % 3] + b"\r\nTo: team@example.org, " + senders[(n + 1) % 3]
            + b"\r\nSubject: =?utf-8?q?caf=C3=A9?= %d\r\nMessage-ID: <m%d@example.org>\r\n\r\nx\r\n"
            % (n, n)
        )  # fmt: skip
        env = structure.envelope(structure.parse(raw))
        generic = values.render(structure.envelope_value(env))
        assert render_envelope(env, memo=memo) == generic
        assert render_envelope(env, utf8=True) == values.render(
            structure.envelope_value(env), utf8=True
        )
    assert 0 < len(memo) <= 6  # address lists only: From and To repeat
