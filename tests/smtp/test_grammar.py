"""The pure layers: command grammar, DATA assembly, SASL decoding and reply mapping."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postseal import errors
from postseal.protocols.smtp import auth, grammar, replies
from postseal.protocols.smtp.data import DataReader
from postseal.protocols.smtp.replies import Stage


def test_mail_with_every_parameter() -> None:
    command = grammar.parse_mail(
        "FROM:<a@b.example> SIZE=42 BODY=8bitmime SMTPUTF8 RET=full ENVID=ab+2Bc AUTH=<>",
        extended=True,
    )
    assert command == grammar.MailCommand(
        address="a@b.example", size=42, body_8bit=True, smtputf8=True, ret="FULL", envid="ab+c"
    )


@pytest.mark.parametrize(
    "arg",
    [
        "FROM: <a@b.example>",  # a space after the colon: common, tolerated
        "from:<a@b.example>",
        "FROM:<@relay.example:a@b.example>",  # source route, ignored (RFC 5321 §4.1.2)
        'FROM:<"john doe"@b.example>',
        "FROM:<a@[192.0.2.1]>",
    ],
)
def test_mail_accepts(arg: str) -> None:
    assert grammar.parse_mail(arg, extended=True).address.endswith(("b.example", "]"))


@pytest.mark.parametrize(
    ("arg", "error"),
    [
        (None, errors.InputError),
        ("TO:<a@b.example>", errors.InputError),
        ("FROM:<a@b.example>SIZE=1", errors.InputError),
        ("FROM:<a@b.example> SIZE=1", errors.InputError),  # parameters without EHLO
        ("FROM:<a.@b.example>", errors.AddressError),
        ("FROM:<a@-b.example>", errors.AddressError),
        ("FROM:<" + "a" * 65 + "@b.example>", errors.AddressError),
        ("FROM:<a@" + "b" * 250 + ".example>", errors.AddressError),
        ('FROM:<"unterminated@b.example>', errors.InputError),
        ("FROM:<a@relay.example:b@c.example>", errors.AddressError),  # a route only leads
    ],
)
def test_mail_refuses(arg: str | None, error: type[Exception]) -> None:
    extended = arg != "FROM:<a@b.example> SIZE=1"
    with pytest.raises(error):
        grammar.parse_mail(arg, extended=extended)


def test_rcpt_dsn_parameters() -> None:
    command = grammar.parse_rcpt(
        "TO:<b@c.example> NOTIFY=success,FAILURE ORCPT=rfc822;b+40c.example",
        extended=True,
        smtputf8=False,
    )
    assert command.notify == frozenset({"SUCCESS", "FAILURE"})
    assert command.orcpt == "rfc822;b@c.example"
    with pytest.raises(errors.InputError):
        grammar.parse_rcpt("TO:<b@c.example> NOTIFY=NEVER,DELAY", extended=True, smtputf8=False)
    with pytest.raises(errors.InputError):
        grammar.parse_rcpt("TO:<b@c.example> ORCPT=b@c.example", extended=True, smtputf8=False)
    with pytest.raises(grammar.UnsupportedParameterError):
        grammar.parse_rcpt("TO:<b@c.example> SIZE=1", extended=True, smtputf8=False)


def test_rcpt_utf8_needs_smtputf8() -> None:
    with pytest.raises(errors.AddressError, match="SMTPUTF8"):
        grammar.parse_rcpt("TO:<пётр@почта.example>", extended=True, smtputf8=False)
    rcpt = grammar.parse_rcpt("TO:<пётр@почта.example>", extended=True, smtputf8=True)
    assert rcpt.address == "пётр@почта.example"
    with pytest.raises(errors.AddressError, match="UTF-8"):
        grammar.parse_rcpt("TO:<a\udcff@b.example>", extended=True, smtputf8=True)


@pytest.mark.parametrize("arg", [None, "", "two words", "bad\x7fname", "x" * 256])
def test_helo_refuses(arg: str | None) -> None:
    with pytest.raises(errors.InputError):
        grammar.parse_helo(arg)


@given(st.text(max_size=300))
def test_grammar_never_fails_otherwise(arg: str) -> None:
    for parse in (
        lambda: grammar.parse_mail("FROM:" + arg, extended=True),
        lambda: grammar.parse_rcpt("TO:" + arg, extended=True, smtputf8=True),
        lambda: grammar.parse_helo(arg),
    ):
        try:
            parse()
        except errors.InputError as exc:
            reply = replies.reply_for_error(exc, Stage.MAIL)
        else:
            continue
        assert "\n" not in reply and "\r" not in reply


def read(data: bytes, *, max_size: int = 10_000, max_line: int = 1000) -> bytes:
    reader = DataReader(max_size=max_size, max_line_length=max_line)
    lines = data.splitlines(keepends=True)
    for line in lines:
        if reader.feed(line):
            return reader.finish()
    raise AssertionError("no terminator")


def test_data_terminator_and_unstuffing() -> None:
    assert read(b"a\r\n..b\r\n.\r\n") == b"a\r\n.b\r\n"
    assert read(b".\r\n") == b""
    with pytest.raises(AssertionError, match="no terminator"):
        read(b"a\n.\n")
    with pytest.raises(AssertionError, match="no terminator"):
        read(b"a\n.\r\n")


def test_data_limits() -> None:
    with pytest.raises(errors.TooLargeError):
        read(b"x" * 20 + b"\r\n.\r\n", max_size=10)
    with pytest.raises(errors.MessageFormatError, match="longer than 100"):
        read(b"x" * 99 + b"\r\n.\r\n", max_line=100)
    assert read(b"." + b"x" * 98 + b"\r\n.\r\n", max_line=100) == b"x" * 98 + b"\r\n"


def test_data_overlong_fragment_is_never_a_terminator() -> None:
    reader = DataReader(max_size=10_000, max_line_length=1000)
    reader.feed_overlong(b"x" * 2000)
    assert not reader.feed(b".\r\n")  # the tail of the long line
    assert reader.feed(b".\r\n")
    with pytest.raises(errors.MessageFormatError):
        reader.finish()


@given(st.lists(st.binary(max_size=40), max_size=30))
def test_data_output_has_only_crlf_lines(chunks: list[bytes]) -> None:
    reader = DataReader(max_size=100_000, max_line_length=1000)
    for chunk in chunks:
        for line in chunk.splitlines(keepends=True):
            if line.endswith(b"\n"):
                reader.feed(line)
    reader.feed(b"\r\n")
    try:
        data = reader.finish()
    except (errors.MessageFormatError, errors.TooLargeError):
        return
    assert b"\x00" not in data
    assert data.count(b"\n") == data.count(b"\r\n") == data.count(b"\r")


async def test_sasl_plain_and_login() -> None:
    async def no_challenge(prompt: bytes) -> bytes | None:
        raise AssertionError("no challenge expected")

    blob = base64.b64encode(b"\0alice@example.test\0p\xc3\xa4ss").decode()
    assert await auth.read_credentials("PLAIN", blob, no_challenge) == (
        "alice@example.test",
        "päss",
    )
    answers = iter([b"bob", b"pw"])

    async def answer(prompt: bytes) -> bytes | None:
        return next(answers)

    assert await auth.read_credentials("LOGIN", None, answer) == ("bob", "pw")
    with pytest.raises(errors.InputError):
        await auth.read_credentials("PLAIN", "=", no_challenge)


@pytest.mark.parametrize(
    ("error", "stage", "reply"),
    [
        (errors.NotFoundError("x@y: no such user"), Stage.RCPT, "550 5.1.1 x@y: no such user"),
        (errors.RelayDeniedError("no relay"), Stage.RCPT, "554 5.7.1 Relaying denied: no relay"),
        (
            errors.SenderDeniedError("a may not send as b"),
            Stage.MAIL,
            "553 5.7.1 a may not send as b",
        ),
        (errors.ContentRefusedError("virus found"), Stage.DATA, "554 5.7.0 virus found"),
        (errors.TooLargeError("too big"), Stage.DATA, "552 5.3.4 too big"),
        (errors.MessageFormatError("bad"), Stage.DATA, "554 5.6.0 bad"),
        (errors.PolicyError("no cert for\r\nbob"), Stage.DATA, "550 5.7.1 no cert for bob"),
        (
            errors.AuthenticationError("account bob disabled"),
            Stage.AUTH,
            "535 5.7.8 Authentication credentials invalid",
        ),
        (
            errors.ThrottledError("slow down"),
            Stage.AUTH,
            "454 4.7.0 Too many failures, try again later",
        ),
        (
            errors.StoreError("db down"),
            Stage.AUTH,
            "454 4.7.0 Temporary authentication failure, try again later",
        ),
        (errors.PeerError("clamd at 10.0.0.5 down"), Stage.DATA, replies.INTERNAL_ERROR),
        (errors.KeyCustodyError("master key missing"), Stage.DATA, replies.INTERNAL_ERROR),
        (ValueError("bug"), Stage.DATA, replies.INTERNAL_ERROR),
    ],
)
def test_reply_for_error(error: Exception, stage: Stage, reply: str) -> None:
    assert replies.reply_for_error(error, stage) == reply


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("250 OK", "250 2.0.0 OK"),
        ("250-PIPELINING", "250-PIPELINING"),
        ("334 VXNlcm5hbWU6", "334 VXNlcm5hbWU6"),
        ("538 5.7.11 Encryption required", "538 5.7.11 Encryption required"),
        ("500 Command line too long", "500 5.5.2 Line too long"),
        ("221 Bye", "221 2.0.0 Bye"),
        ("550 inject\r\nRSET", "550 5.0.0 inject RSET"),
    ],
)
def test_normalise(line: str, expected: str) -> None:
    assert replies.normalise(line) == expected


def test_one_line_caps_length() -> None:
    assert len(replies.one_line("é" * 1000)) == 400
