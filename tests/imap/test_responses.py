"""Responses serialise byte-exact; strings choose atom/quoted/literal correctly."""

from __future__ import annotations

import pytest

from postseal.protocols.imap import data, utf7, values
from postseal.protocols.imap.responses import Code, Continuation, Tagged, Untagged
from postseal.protocols.imap.sets import SequenceSet


@pytest.mark.parametrize(
    ("response", "wire"),
    [
        (Tagged("a001", "OK", "LOGIN completed"), b"a001 OK LOGIN completed\r\n"),
        (
            Tagged("A142", "OK", "SELECT completed", Code("READ-WRITE")),
            b"A142 OK [READ-WRITE] SELECT completed\r\n",
        ),
        (
            Tagged("A3", "NO", "no such mailbox", Code("TRYCREATE")),
            b"A3 NO [TRYCREATE] no such mailbox\r\n",
        ),
        (Tagged("a", "BAD", "bad\r\nline\x00"), b"a BAD bad  line?\r\n"),
        (
            Tagged(
                "A003", "OK", "APPEND completed", Code.append_uid(38505, SequenceSet.of([3955]))
            ),
            b"A003 OK [APPENDUID 38505 3955] APPEND completed\r\n",
        ),
        (
            Tagged(
                "A004",
                "OK",
                "Done",
                Code.copy_uid(
                    38505, SequenceSet.of([304, 319, 320]), SequenceSet.of([3956, 3957, 3958])
                ),
            ),
            b"A004 OK [COPYUID 38505 304,319:320 3956:3958] Done\r\n",
        ),
        (
            Tagged("d105", "OK", "Conditional STORE failed", Code.modified(SequenceSet.of([7, 9]))),
            b"d105 OK [MODIFIED 7,9] Conditional STORE failed\r\n",
        ),
        (Tagged("a", "NO", "x", Code.bad_charset()), b"a NO [BADCHARSET (UTF-8 US-ASCII)] x\r\n"),
        (
            Untagged(
                "OK", "Flags permitted.", Code.permanent_flags(["\\Deleted", "\\Seen", "\\*"])
            ),
            b"* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Flags permitted.\r\n",
        ),
        (
            Untagged("OK", "UIDs valid", Code.number("UIDVALIDITY", 3857529045)),
            b"* OK [UIDVALIDITY 3857529045] UIDs valid\r\n",
        ),
        (
            Untagged("OK", "ready", Code.capability(["IMAP4rev1", "STARTTLS", "LOGINDISABLED"])),
            b"* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n",
        ),
        (
            Untagged("BYE", "Autologout; idle for too long"),
            b"* BYE Autologout; idle for too long\r\n",
        ),
        (Continuation(), b"+ Ready\r\n"),
        (Continuation(data=b""), b"+ \r\n"),
        (Continuation(data=b"\x00ab"), b"+ AGFi\r\n"),
        (data.Exists(172), b"* 172 EXISTS\r\n"),
        (data.Recent(1), b"* 1 RECENT\r\n"),
        (data.Expunged(44), b"* 44 EXPUNGE\r\n"),
        (
            data.Vanished(SequenceSet.of([41, 43, 44, 45]), earlier=True),
            b"* VANISHED (EARLIER) 41,43:45\r\n",
        ),
        (
            data.Flags(("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")),
            b"* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n",
        ),
        (data.CapabilityData(("IMAP4rev1", "IDLE")), b"* CAPABILITY IMAP4rev1 IDLE\r\n"),
        (data.Enabled(()), b"* ENABLED\r\n"),
        (data.Enabled(("CONDSTORE",)), b"* ENABLED CONDSTORE\r\n"),
        (
            data.IdData((("name", "postseal"), ("version", None))),
            b'* ID ("name" "postseal" "version" NIL)\r\n',
        ),
        (data.IdData(None), b"* ID NIL\r\n"),
        (
            data.ListData(("\\Noselect",), "/", "~/Mail/foo"),
            b'* LIST (\\Noselect) "/" ~/Mail/foo\r\n',
        ),
        (data.ListData((), "/", "台北"), b'* LIST () "/" &U,BTFw-\r\n'),
        (
            data.ListData(("\\HasNoChildren",), ".", "Mail box", kind="LSUB"),
            b'* LSUB (\\HasNoChildren) "." "Mail box"\r\n',
        ),
        (data.ListData((), None, "NIL"), b'* LIST () NIL "NIL"\r\n'),
        (
            data.ListData(("\\Subscribed",), "/", "Foo", extended=b'("CHILDINFO" ("SUBSCRIBED"))'),
            b'* LIST (\\Subscribed) "/" Foo ("CHILDINFO" ("SUBSCRIBED"))\r\n',
        ),
        (
            data.StatusData("blurdybloop", (("MESSAGES", 231), ("UIDNEXT", 44292))),
            b"* STATUS blurdybloop (MESSAGES 231 UIDNEXT 44292)\r\n",
        ),
        (data.SearchData((2, 84, 882)), b"* SEARCH 2 84 882\r\n"),
        (data.SearchData(()), b"* SEARCH\r\n"),
        (data.SearchData((2, 5), modseq=917162500), b"* SEARCH 2 5 (MODSEQ 917162500)\r\n"),
        (data.ESearch("A282", min=2, count=3), b'* ESEARCH (TAG "A282") MIN 2 COUNT 3\r\n'),
        (
            data.ESearch("a", uid=True, all=SequenceSet.of([1, 2, 3, 7])),
            b'* ESEARCH (TAG "a") UID ALL 1:3,7\r\n',
        ),
        (data.NamespaceData(), b'* NAMESPACE (("" "/")) NIL NIL\r\n'),
        (
            data.NamespaceData(shared=(("#shared/", "/"),)),
            b'* NAMESPACE (("" "/")) NIL (("#shared/" "/"))\r\n',
        ),
        (
            data.FetchData(12, (("FLAGS", b"(\\Seen)"), ("UID", b"4827313"))),
            b"* 12 FETCH (FLAGS (\\Seen) UID 4827313)\r\n",
        ),
    ],
)
def test_byte_exact(response: object, wire: bytes) -> None:
    assert response.to_bytes() == wire  # type: ignore[attr-defined]


def test_utf8_mode_writes_mailbox_names_raw() -> None:
    assert (
        data.ListData((), "/", "Entwürfe").to_bytes(utf8=True)
        == '* LIST () "/" "Entwürfe"\r\n'.encode()
    )
    assert data.ListData((), "/", "Entwürfe").to_bytes() == b'* LIST () "/" Entw&APw-rfe\r\n'


@pytest.mark.parametrize(
    ("value", "wire"),
    [
        ("abc", b'"abc"'),
        ('a"b\\c', b'"a\\"b\\\\c"'),
        ("two\r\nlines", b"{10}\r\ntwo\r\nlines"),
        ("café", b"{5}\r\ncaf\xc3\xa9"),
        (b"\x00bin", b"~{4}\r\n\x00bin"),
        ("", b'""'),
    ],
)
def test_string_forms(value: str | bytes, wire: bytes) -> None:
    assert values.string(value) == wire


def test_astring_and_nil() -> None:
    assert values.astring("INBOX") == b"INBOX"
    assert values.astring("nil") == b'"nil"'
    assert values.astring("a b") == b'"a b"'
    assert values.astring("") == b'""'
    assert values.nstring(None) == b"NIL"
    assert values.string("café", utf8=True) == '"café"'.encode()
    assert values.render(("a", 1, None, (b"RAW",))) == b'("a" 1 NIL (RAW))'


@pytest.mark.parametrize(
    ("unicode", "encoded"),
    [
        ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),  # RFC 3501 §5.1.3
        ("&", "&-"),
        ("Entwürfe", "Entw&APw-rfe"),
        ("INBOX", "INBOX"),
        ("😀", "&2D3eAA-"),
        ("", ""),
    ],
)
def test_modified_utf7_vectors(unicode: str, encoded: str) -> None:
    assert utf7.encode(unicode) == encoded
    assert utf7.decode(encoded) == unicode


@pytest.mark.parametrize("bad", ["&Jjo!", "&U,BTFw-&ZeVnLIqe-", "&AGE-", "&", "é", "&A-", "&Jjo"])
def test_modified_utf7_rejects_non_canonical(bad: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        utf7.decode(bad)


def test_sequence_sets() -> None:
    parsed = SequenceSet.parse("2,4:7,9,12:*")
    assert str(parsed) == "2,4:7,9,12:*"
    assert parsed.resolve(15) == [(2, 2), (4, 7), (9, 9), (12, 15)]
    assert list(parsed.iter(13)) == [2, 4, 5, 6, 7, 9, 12, 13]
    assert SequenceSet.parse("5:2").resolve(9) == [(2, 5)]
    # UID FETCH 100:* with the largest UID 50 still names UID 50 (RFC 3501 §6.4.8)
    assert SequenceSet.parse("100:*").filter([10, 50], 50) == [50]
    assert SequenceSet.parse("*").resolve(0) == []
    assert str(SequenceSet.of([5, 1, 2, 3, 9])) == "1:3,5,9"
    for bad in ["", "0", "1:", ":1", "1,,2", "4294967296", "1:0", "a"]:
        with pytest.raises(ValueError, match="invalid sequence set"):
            SequenceSet.parse(bad)
