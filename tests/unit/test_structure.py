"""MIME structure with offsets, ENVELOPE, BODYSTRUCTURE, sections and the summary."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from postseal.mail import structure as s
from tests.peers import shared_testdata


def corpus() -> list[Path]:
    base = shared_testdata() / "mime"
    return sorted(p for p in base.glob("*/*") if p.name != "LICENSE")


def crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode()


# RFC 3501 §7.4.2's example in spirit: a two-part message, hand-counted.
MULTIPART = crlf(
    "From: Fred Foobar <foobar@Blurdybloop.example>\n"
    "Subject: =?utf-8?q?caf=C3=A9?= afternoon\n"
    "Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\n"
    'To: mooch@owatagu.siam.edu.example, Team: a@x.example, "B, b" <b@x.example>;\n'
    "Message-Id: <B27397-0100000@Blurdybloop.example>\n"
    "MIME-Version: 1.0\n"
    'Content-Type: multipart/mixed; boundary="XX"\n'
    "\n"
    "preamble\n"
    "--XX\n"
    'Content-Type: text/plain; charset="utf-8"\n'
    "\n"
    "Hello Joe, do you think we can meet at 3:30 tomorrow?\n"
    "--XX\n"
    "Content-Type: message/rfc822\n"
    "Content-Description: forwarded\n"
    "\n"
    "From: x@y.example\n"
    "Subject: inner\n"
    "\n"
    "inner body\n"
    "--XX--\n"
    "epilogue\n"
)


def test_hand_checked_bodystructure() -> None:
    msg = s.parse(MULTIPART)
    inner_env = (None, "inner", ((None, None, "x", "y.example"),)) * 1
    expected = (
        ("text", "plain", ("charset", "utf-8"), None, None, "7BIT", 53, 1, None, None, None, None),
        (
            "message", "rfc822", None, None, "forwarded", "7BIT", 47,
            (*inner_env, ((None, None, "x", "y.example"),), ((None, None, "x", "y.example"),),
             None, None, None, None, None),
            ("text", "plain", ("charset", "us-ascii"), None, None, "7BIT", 10, 1, None, None, None, None),
            4, None, None, None, None,
        ),
        "mixed", ("boundary", "XX"), None, None, None,
    )  # fmt: skip
    assert s.bodystructure(msg) == expected
    basic = s.bodystructure(msg, extensible=False)
    assert basic == (
        ("text", "plain", ("charset", "utf-8"), None, None, "7BIT", 53, 1),
        ("message", "rfc822", None, None, "forwarded", "7BIT", 47, expected[1][7],
         ("text", "plain", ("charset", "us-ascii"), None, None, "7BIT", 10, 1), 4),
        "mixed",
    )  # fmt: skip


def test_envelope_with_groups_and_encoded_words_kept() -> None:
    env = s.envelope(s.parse(MULTIPART))
    assert env.subject == "=?utf-8?q?caf=C3=A9?= afternoon"
    assert env.date == "Mon, 7 Feb 1994 21:52:25 -0800 (PST)"
    fred = s.Address("Fred Foobar", None, "foobar", "Blurdybloop.example")
    assert env.from_ == env.sender == env.reply_to == (fred,)
    assert env.to == (
        s.Address(None, None, "mooch", "owatagu.siam.edu.example"),
        s.Address(None, None, "Team", None),
        s.Address(None, None, "a", "x.example"),
        s.Address("B, b", None, "b", "x.example"),
        s.Address(None, None, None, None),
    )
    assert env.cc == env.bcc == ()
    assert env.message_id == "<B27397-0100000@Blurdybloop.example>"
    assert s.decode_header_value(env.subject) == "café afternoon"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            "undisclosed-recipients:;",
            [
                s.Address(None, None, "undisclosed-recipients", None),
                s.Address(None, None, None, None),
            ],
        ),
        (
            "<@a.example,@b.example:joe@c.example>",
            [s.Address(None, "@a.example,@b.example", "joe", "c.example")],
        ),
        (
            '"Joe Q. Public" <john.q.public@example.com>',
            [s.Address("Joe Q. Public", None, "john.q.public", "example.com")],
        ),
        (
            "Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>",
            [s.Address("Pete", None, "pete", "silly.test")],
        ),
        (
            "=?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>",
            [s.Address("=?ISO-8859-1?Q?Andr=E9?= Pirard", None, "PIRARD", "vm1.ulg.ac.be")],
        ),
        ("broken", [s.Address(None, None, "broken", None)]),
        ("", []),
    ],
)
def test_address_lists(value: str, expected: list[s.Address]) -> None:
    assert list(s.parse_addresses(value)) == expected


def test_sections_are_byte_exact_slices() -> None:
    msg = s.parse(MULTIPART)
    assert s.section(MULTIPART, msg) == MULTIPART
    assert s.section(MULTIPART, msg, (), "HEADER") == msg.header
    assert msg.header.endswith(b'boundary="XX"\r\n\r\n')
    assert s.section(MULTIPART, msg, (), "TEXT") == MULTIPART[len(msg.header) :]
    assert (
        s.section(MULTIPART, msg, (1,)) == b"Hello Joe, do you think we can meet at 3:30 tomorrow?"
    )
    assert (
        s.section(MULTIPART, msg, (1,), "MIME")
        == b'Content-Type: text/plain; charset="utf-8"\r\n\r\n'
    )
    assert s.section(MULTIPART, msg, (2,)).startswith(b"From: x@y.example")  # type: ignore[union-attr]
    assert (
        s.section(MULTIPART, msg, (2,), "HEADER") == b"From: x@y.example\r\nSubject: inner\r\n\r\n"
    )
    assert s.section(MULTIPART, msg, (2,), "TEXT") == b"inner body"
    assert s.section(MULTIPART, msg, (2, 1)) == b"inner body"
    assert s.section(MULTIPART, msg, (), "HEADER.FIELDS", ("subject", "TO")) == (
        b"Subject: =?utf-8?q?caf=C3=A9?= afternoon\r\n"
        b'To: mooch@owatagu.siam.edu.example, Team: a@x.example, "B, b" <b@x.example>;\r\n\r\n'
    )
    not_fields = s.section(
        MULTIPART, msg, (), "HEADER.FIELDS.NOT", ("From", "To", "Subject", "Date")
    )
    assert not_fields is not None and not_fields.startswith(b"Message-Id:")
    assert s.section(MULTIPART, msg, (3,)) is None
    assert s.section(MULTIPART, msg, (1,), "HEADER") is None


def test_single_part_message_has_part_one() -> None:
    raw = crlf("Subject: x\n\nbody\n")
    msg = s.parse(raw)
    assert s.section(raw, msg, (1,)) == b"body\r\n"
    assert s.bodystructure(msg, extensible=False) == (
        "text", "plain", ("charset", "us-ascii"), None, None, "7BIT", 6, 1,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("raw", "shape"),
    [
        (b"Content-Type: multipart/mixed\r\n\r\nno boundary\r\n", ("text", "plain")),
        (
            b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nopen part\r\n",
            ("text", "plain"),
        ),
        (b"no header line\r\nSubject: x\r\n\r\nbody", "text"),
        (b"Subject: x\r\n", "text"),
        (b"", "text"),
        (b"Content-Type: text\r\n\r\nx", "text"),
    ],
)
def test_malformed_messages_are_read_tolerantly(raw: bytes, shape: object) -> None:
    msg = s.parse(raw)
    value = s.bodystructure(msg)
    assert isinstance(value, tuple)
    if isinstance(shape, tuple):
        assert value[0][:2] == shape  # type: ignore[index]
        assert value[1] == "mixed"
    else:
        assert value[0] == shape


def test_part_content_and_text_undo_transfer_encodings() -> None:
    raw = crlf(
        "Content-Type: multipart/alternative; boundary=b\n\n--b\n"
        "Content-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\n"
        "caf=E9 cr=\n=E8me\n--b\nContent-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: base64\n\nw6ljbGFpcg==\n--b--\n"
    )
    msg = s.parse(raw)
    first, second = msg.root.children
    assert s.part_text(raw, first) == "café crème"
    assert s.part_text(raw, second) == "éclair"


def test_deep_nesting_is_bounded() -> None:
    depth = 200
    raw = (
        b"".join(
            b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i)
            for i in range(depth)
        )
        + b"\r\nleaf\r\n"
    )
    msg = s.parse(raw)
    node, levels = msg.root, 0
    while node.children:
        node, levels = node.children[0], levels + 1
    assert levels == s.MAX_DEPTH
    assert (node.type, node.subtype) == ("application", "octet-stream")


def test_summary_round_trip_and_corruption() -> None:
    msg = s.parse(MULTIPART)
    summary = s.to_summary(msg)
    assert b"Hello Joe" not in summary  # bodies stay out of the summary
    assert s.from_summary(summary) == msg
    with pytest.raises(s.SummaryError):
        s.from_summary(b"{not json")
    with pytest.raises(s.SummaryError):
        s.from_summary(b'{"v": 9}')


def test_every_corpus_message() -> None:
    for path in corpus():
        raw = path.read_bytes()
        msg = s.parse(raw)
        assert msg.size == len(raw)
        assert s.bodystructure(msg), path.name
        s.envelope(msg)
        assert s.from_summary(s.to_summary(msg)) == msg, path.name
        assert len(s.to_summary(msg)) < 64 * 1024 + 4 * len(msg.header), path.name
        _check_offsets(msg.root, len(raw))


def _check_offsets(part: s.Part, size: int) -> None:
    assert 0 <= part.start <= part.body_start <= part.end <= size
    for child in part.children:
        assert part.body_start <= child.start and child.end <= part.end
        _check_offsets(child, size)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        # The digest's parts default to message/rfc822 (RFC 2046 §5.1.5).
        ("multipart-digest.txt", ("message", "rfc822")),
        ("msg_02.txt", "digest-and-text"),
        ("feedback-report.txt", "report"),  # a UTF-8 BOM before the first field
    ],
)
def test_corpus_shapes(name: str, expected: object) -> None:
    path = next(p for p in corpus() if p.name == name)
    msg = s.parse(path.read_bytes())
    if name == "multipart-digest.txt":
        inner = msg.root.children[0]
        assert inner.is_multipart and inner.subtype == "digest"
        assert all((c.type, c.subtype) == expected for c in inner.children)
    elif name == "msg_02.txt":
        assert msg.root.subtype == "mixed" and len(msg.root.children) == 4
        digest = msg.root.children[2]
        assert digest.subtype == "digest" and len(digest.children) == 5
    else:
        assert msg.root.subtype == expected
        assert s.envelope(msg).subject == "FW: Earn money"


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    msg = s.parse(raw)
    s.bodystructure(msg)
    s.envelope(msg)
    s.from_summary(s.to_summary(msg))


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_mutated_corpus_messages_never_raise(data: st.DataObject) -> None:
    paths = [p for p in corpus() if p.stat().st_size < 20000]
    raw = bytearray(data.draw(st.sampled_from(paths)).read_bytes())
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(0, max(len(raw) - 1, 0)))
        op = data.draw(st.sampled_from(["flip", "cut", "dup"]))
        if op == "flip" and raw:
            raw[at] = data.draw(st.sampled_from(b'\r\n-:;"=(<> x\x00\xff'))
        elif op == "cut":
            del raw[at : at + data.draw(st.integers(1, 200))]
        else:
            raw[at:at] = raw[at : at + data.draw(st.integers(1, 200))]
    msg = s.parse(bytes(raw))
    s.bodystructure(msg)
    s.envelope(msg)
    for part in msg.root.children:
        s.part_text(bytes(raw), part)
