"""The IMAP command grammar against the RFC examples (RFC 3501 §6, §8; RFC 9051 §6)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from postseal.protocols.imap import commands as c
from postseal.protocols.imap import search as k
from postseal.protocols.imap.grammar import (
    BadCommand,
    Incomplete,
    NeedLiteral,
    is_idle_done,
    parse_command,
    parse_sasl_response,
)
from postseal.protocols.imap.sets import SequenceSet


def parse(line: bytes, **kwargs: object) -> object:
    return parse_command(line if line.endswith(b"\n") else line + b"\r\n", **kwargs)  # type: ignore[arg-type]


def S(text: str) -> SequenceSet:
    return SequenceSet.parse(text)


def test_rfc3501_section8_sample_session() -> None:
    assert parse(b"a001 login mrc secret") == c.Login("a001", "mrc", "secret")
    assert parse(b"a002 select inbox") == c.Select("a002", "INBOX")
    full = parse(b"a003 fetch 12 full")
    assert isinstance(full, c.Fetch)
    assert [i.name for i in full.items] == [
        "FLAGS",
        "INTERNALDATE",
        "RFC822.SIZE",
        "ENVELOPE",
        "BODY",
    ]
    header = parse(b"a004 fetch 12 body[header]")
    assert header == c.Fetch("a004", S("12"), (c.FetchAttribute("BODY", c.Section((), "HEADER")),))
    assert parse(b"a005 store 12 +flags \\deleted") == c.Store(
        "a005", S("12"), "add", ("\\deleted",)
    )
    assert parse(b"a006 logout") == c.Logout("a006")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (b"abcd CAPABILITY", c.Capability("abcd")),
        (b"a002 NOOP", c.Noop("a002")),
        (b"A023 LOGOUT", c.Logout("A023")),
        (b"a001 STARTTLS", c.StartTLS("a001")),
        (b"FXXZ CHECK", c.Check("FXXZ")),
        (b"A341 CLOSE", c.Close("A341")),
        (b"A342 UNSELECT", c.Unselect("A342")),
        (b"A001 NAMESPACE", c.Namespace("A001")),
        (b"A002 IDLE", c.Idle("A002")),
        (b"a001 LOGIN SMITH SESAME", c.Login("a001", "SMITH", "SESAME")),
        (b"A142 SELECT INBOX", c.Select("A142", "INBOX")),
        (b"A142 SELECT INBOX (CONDSTORE)", c.Select("A142", "INBOX", condstore=True)),
        (b"A932 EXAMINE blurdybloop", c.Examine("A932", "blurdybloop")),
        (b"A003 CREATE owatagusiam/", c.Create("A003", "owatagusiam/")),
        (
            b't1 CREATE "Important Messages" (USE (\\Important))',
            c.Create("t1", "Important Messages", ("\\Important",)),
        ),
        (b"A683 DELETE blurdybloop", c.Delete("A683", "blurdybloop")),
        (b"A683 RENAME blurdybloop sarasoop", c.Rename("A683", "blurdybloop", "sarasoop")),
        (b"A002 SUBSCRIBE #news.comp.mail.mime", c.Subscribe("A002", "#news.comp.mail.mime")),
        (b"A002 UNSUBSCRIBE #news.comp.mail.mime", c.Unsubscribe("A002", "#news.comp.mail.mime")),
        (b'A101 LIST "" ""', c.List("A101", "", ("",))),
        (b'A102 LIST #news.comp.mail.misc ""', c.List("A102", "#news.comp.mail.misc", ("",))),
        (b"A202 LIST ~/Mail/ %", c.List("A202", "~/Mail/", ("%",))),
        (b'A002 LSUB "#news." "comp.mail.*"', c.Lsub("A002", "#news.", "comp.mail.*")),
        (
            b"A042 STATUS blurdybloop (UIDNEXT MESSAGES)",
            c.Status("A042", "blurdybloop", ("UIDNEXT", "MESSAGES")),
        ),
        (b"A202 EXPUNGE", c.Expunge("A202")),
        (b"A003 UID EXPUNGE 3000:3002", c.Expunge("A003", S("3000:3002"))),
        (b"A003 COPY 2:4 MEETING", c.Copy("A003", S("2:4"), "MEETING")),
        (b"a UID MOVE 42:69 foo", c.Move("a", S("42:69"), "foo", uid=True)),
        (b"A003 STORE 2:4 +FLAGS (\\Deleted)", c.Store("A003", S("2:4"), "add", ("\\Deleted",))),
        (
            b"A003 STORE 2:4 -FLAGS.SILENT (\\Seen $Junk)",
            c.Store("A003", S("2:4"), "remove", ("\\Seen", "$Junk"), silent=True),
        ),
        (
            b"a103 UID STORE 6,4,8 (UNCHANGEDSINCE 12121230045) +FLAGS.SILENT (\\Deleted)",
            c.Store(
                "a103",
                S("6,4,8"),
                "add",
                ("\\Deleted",),
                silent=True,
                uid=True,
                unchanged_since=12121230045,
            ),
        ),
        (b"a1 ENABLE CONDSTORE utf8=accept", c.Enable("a1", ("CONDSTORE", "UTF8=ACCEPT"))),
        (
            b'a023 ID ("name" "sodr" "version" "19.34" "os" NIL)',
            c.Id("a023", (("name", "sodr"), ("version", "19.34"), ("os", None))),
        ),
        (b"a023 ID NIL", c.Id("a023", None)),
        (b"a01 AUTHENTICATE PLAIN", c.Authenticate("a01", "PLAIN")),
        (b"a01 AUTHENTICATE PLAIN =", c.Authenticate("a01", "PLAIN", b"")),
        (
            b"a01 authenticate plain AHRlc3QAdGVzdA==",
            c.Authenticate("a01", "PLAIN", b"\x00test\x00test"),
        ),
    ],
)
def test_rfc_examples(line: bytes, expected: object) -> None:
    assert parse(line) == expected


def test_list_extended_rfc5258_and_status_rfc5819() -> None:
    got = parse(
        b'A01 LIST (SUBSCRIBED RECURSIVEMATCH) "" "%" RETURN (CHILDREN STATUS (MESSAGES UNSEEN))'
    )
    assert got == c.List(
        "A01",
        "",
        ("%",),
        frozenset({"SUBSCRIBED", "RECURSIVEMATCH"}),
        frozenset({"CHILDREN"}),
        ("MESSAGES", "UNSEEN"),
        extended=True,
    )
    got = parse(b'A02 LIST (SPECIAL-USE) "" ("INBOX" "Lists/%") RETURN (SPECIAL-USE)')
    assert isinstance(got, c.List)
    assert got.patterns == ("INBOX", "Lists/%")
    assert got.returns == frozenset({"SPECIAL-USE"})


def test_mailbox_names_are_modified_utf7_or_utf8() -> None:
    assert parse(b"A SELECT ~peter/mail/&U,BTFw-/&ZeVnLIqe-") == c.Select(
        "A", "~peter/mail/台北/日本語"
    )
    assert parse('A SELECT "Entwürfe"'.encode(), utf8=True) == c.Select("A", "Entwürfe")
    assert parse(b"A SELECT iNbOx") == c.Select("A", "INBOX")


def test_append_with_flags_date_and_literal() -> None:
    message = b"Subject: x\r\n\r\nhello\r\n"
    head = b'A003 APPEND saved-messages (\\Seen) " 7-Feb-1994 21:52:25 -0800" {%d}\r\n' % len(
        message
    )
    assert parse_command(head) == NeedLiteral(len(message), non_synchronizing=False)
    got = parse_command(head + message + b"\r\n")
    zone = timezone(-timedelta(hours=8))
    assert got == c.Append(
        "A003",
        "saved-messages",
        b"Subject: x\r\n\r\nhello\r\n",
        ("\\Seen",),
        datetime(1994, 2, 7, 21, 52, 25, tzinfo=zone),
    )


def test_literal_flow_synchronizing_and_literal_plus() -> None:
    assert parse_command(b"a LOGIN {4}\r\n") == NeedLiteral(4, non_synchronizing=False)
    assert parse_command(b"a LOGIN {4}\r\nfred") == Incomplete()
    assert parse_command(b"a LOGIN {4}\r\nfred {6+}\r\n") == NeedLiteral(6, non_synchronizing=True)
    assert parse_command(b"a LOGIN {4}\r\nfred {6+}\r\nsec\r\nt\r\n") == c.Login(
        "a", "fred", "sec\r\nt"
    )
    assert parse_command(b"a NOOP") == Incomplete()
    assert parse_command(b"") == Incomplete()


def test_literal_limits_and_errors_before_literals() -> None:
    assert parse_command(b"a APPEND x {999999}\r\n", max_literal=1000) == BadCommand(
        "a", "literal too large: 999999 octets, the limit is 1000"
    )
    assert parse_command(b"a APPEND x {999999+}\r\n", max_literal=1000) == BadCommand(
        "a", "literal too large: 999999 octets, the limit is 1000", close=True
    )
    # a synchronizing literal after a syntax error: BAD at once, no "+ Ready"
    assert parse_command(b"a FOO {5}\r\n") == BadCommand("a", "unknown command FOO")
    # a non-synchronizing one is on its way anyway: read it, then say BAD
    assert parse_command(b"a FOO {5+}\r\n") == NeedLiteral(5, non_synchronizing=True)
    assert parse_command(b"a FOO {5+}\r\nhello\r\n") == BadCommand("a", "unknown command FOO")


def test_fetch_items_sections_and_partials() -> None:
    got = parse(b"A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])")
    assert isinstance(got, c.Fetch)
    assert got.items[1] == c.FetchAttribute(
        "BODY", c.Section((), "HEADER.FIELDS", ("DATE", "FROM"))
    )
    assert got.items[1].response_key() == "BODY[HEADER.FIELDS (DATE FROM)]"
    got = parse(b"a FETCH 1 (BODY.PEEK[1.2.MIME]<0.100> BINARY[2] BINARY.SIZE[2] RFC822.SIZE)")
    assert isinstance(got, c.Fetch)
    peek, binary, binsize, size = got.items
    assert peek == c.FetchAttribute("BODY", c.Section((1, 2), "MIME"), peek=True, partial=(0, 100))
    assert peek.response_key() == "BODY[1.2.MIME]<0>"
    assert got.sets_seen  # BINARY[2] is not a PEEK
    assert not peek.sets_seen
    assert binary.sets_seen and binary.response_key() == "BINARY[2]"
    assert binsize.name == "BINARY.SIZE" and size.name == "RFC822.SIZE"
    got = parse(b"a UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)")
    assert isinstance(got, c.Fetch)
    assert got.uid and got.changed_since == 12345
    assert [i.name for i in got.items] == ["FLAGS", "UID", "MODSEQ"]
    got = parse(b"a FETCH * BODY[4.2.HEADER.FIELDS.NOT (Subject)]")
    assert isinstance(got, c.Fetch)
    assert got.items[0].section == c.Section((4, 2), "HEADER.FIELDS.NOT", ("SUBJECT",))
    assert got.sequence_set == SequenceSet(((None, None),))


def test_search_grammar() -> None:
    got = parse(b'A282 SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"')
    assert got == c.Search(
        "A282",
        k.And(
            (
                k.FlagKey("\\Flagged"),
                k.DateKey("since", date(1994, 2, 1)),
                k.Not(k.Header("from", "Smith")),
            )
        ),
    )
    got = parse(b"A284 SEARCH CHARSET UTF-8 TEXT {6}\r\nXXXXXX")
    assert got == c.Search("A284", k.Text("XXXXXX"), charset="UTF-8")
    got = parse(b"a UID SEARCH RETURN (MIN COUNT) OR SEEN (1:5 DELETED) UID 3:* LARGER 10")
    assert got == c.Search(
        "a",
        k.And(
            (
                k.Or(k.FlagKey("\\Seen"), k.And((k.SetKey(S("1:5")), k.FlagKey("\\Deleted")))),
                k.SetKey(S("3:*"), uid=True),
                k.SizeKey(10, larger=True),
            )
        ),
        uid=True,
        returns=("MIN", "COUNT"),
    )
    got = parse(b'a SEARCH MODSEQ "/flags/\\\\draft" all 620162338 HEADER X-Spam "" KEYWORD $Junk')
    assert got == c.Search(
        "a", k.And((k.ModSeq(620162338), k.Header("x-spam", ""), k.FlagKey("$Junk")))
    )
    got = parse(b'a SEARCH RETURN () NEW SENTON "3-Mar-2024"')
    assert isinstance(got, c.Search)
    assert got.returns == ("ALL",)


@pytest.mark.parametrize(
    ("line", "tag", "message"),
    [
        (b"\r\n", "*", "empty command line"),
        (b"+abc NOOP", "*", "missing or invalid tag"),
        (b"A", "A", "expected SP after tag but the line ended"),
        (b"A FOO", "A", "unknown command FOO"),
        (
            b"A UID NOOP",
            "A",
            "unknown command UID NOOP (UID takes COPY, MOVE, FETCH, SEARCH, STORE, EXPUNGE)",
        ),
        (b"A NOOP now", "A", "unexpected argument at 'now'"),
        (b"A FETCH 1: FLAGS", "A", "invalid sequence set '1:'"),
        (b"A FETCH 0 FLAGS", "A", "invalid sequence set '0'"),
        (b"A FETCH 1 FLAGZ", "A", "unknown fetch item FLAGZ"),
        (b"A FETCH 1 BODY[5.FOO]", "A", "invalid section text 'FOO'"),
        (b"A FETCH 1 BODY[MIME]", "A", "invalid section text 'MIME'"),
        (b"A FETCH 1 BODY[1]<5.0>", "A", "partial length must not be zero"),
        (b"A FETCH 1 BODY.PEEK", "A", "BODY.PEEK needs a section, e.g. BODY.PEEK[]"),
        (b"A FETCH 1 ()", "A", "empty fetch items"),
        (b"A FETCH 1 FLAGS (FOO)", "A", "unknown FETCH modifier FOO"),
        (
            b"A STORE 1 FLAGX (\\Seen)",
            "A",
            "expected FLAGS, +FLAGS or -FLAGS (with .SILENT), not 'FLAGX'",
        ),
        (b"A STORE 1 +FLAGS (\\Recent)", "A", "STORE cannot set \\* or \\Recent"),
        (b"A SEARCH FOO", "A", "unknown search key FOO"),
        (b"A SEARCH SINCE 31-Feb-2024", "A", "invalid date '31-Feb-2024' (e.g. 1-Feb-1994)"),
        (b"A SEARCH (SEEN", "A", "expected ')' to close the search key list but the line ended"),
        (b"A SEARCH", "A", "expected SP after SEARCH but the line ended"),
        (b"A SELECT", "A", "expected SP after SELECT but the line ended"),
        (b"A SELECT INBOX (QRESYNC)", "A", "unknown SELECT parameter QRESYNC"),
        (
            b"A SELECT &Jjo",
            "A",
            "mailbox name '&Jjo' is not valid: an '&' shift has no closing '-'",
        ),
        (b"A STATUS INBOX (MESSAGES FOO)", "A", "unknown STATUS item FOO"),
        (b"A STATUS INBOX ()", "A", "empty status items"),
        (b'A LIST "" * RETURN (FOO)', "A", "unknown LIST return option FOO"),
        (
            b'A LIST (RECURSIVEMATCH) "" *',
            "A",
            "RECURSIVEMATCH needs another selection option (RFC 5258 §3.1)",
        ),
        (b'A LOGIN "fred', "A", "unterminated quoted string"),
        (b'A LOGIN "f\\red" x', "A", 'invalid escape in quoted string (only \\" and \\\\ allowed)'),
        (
            b'A APPEND INBOX (\\Seen) "bad date" {3}',
            "A",
            "invalid date-time 'bad date' (e.g. \"17-Jul-1996 02:44:25 -0700\")",
        ),
        (b"A APPEND INBOX hello", "A", "APPEND expects the message as a literal"),
        (b"A AUTHENTICATE PLAIN @@@", "A", "the SASL response is not valid base64"),
        (b"A AUTHENTICATE PLAIN abc", "A", "the SASL response is not valid base64"),
        (b"A ENABLE", "A", "ENABLE needs at least one capability"),
        (b"A COPY 1:2", "A", "expected SP after the sequence set but the line ended"),
    ],
)
def test_bad_commands_have_precise_messages(line: bytes, tag: str, message: str) -> None:
    assert parse(line) == BadCommand(tag, message)


def test_deep_nesting_is_bad_not_a_crash() -> None:
    got = parse(b"A SEARCH " + b"(" * 200 + b"ALL" + b")" * 200)
    assert got == BadCommand("A", "search keys nested too deeply")
    got = parse(b"A SEARCH " + b"NOT " * 200 + b"ALL")
    assert got == BadCommand("A", "search keys nested too deeply")


def test_idle_done_and_sasl_responses() -> None:
    assert is_idle_done(b"DONE\r\n") and is_idle_done(b"done\n")
    assert not is_idle_done(b"A NOOP\r\n")
    assert parse_sasl_response(b"AHRlc3QAdGVzdA==\r\n") == b"\x00test\x00test"
    assert parse_sasl_response(b"*\r\n") is None
    assert parse_sasl_response(b"\r\n") == b""
    assert parse_sasl_response(b"!!\r\n") == BadCommand(
        "*", "the SASL response is not valid base64"
    )
