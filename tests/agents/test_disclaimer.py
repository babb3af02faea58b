"""The disclaimer agent on unsigned mail: bodies in every transfer encoding and charset
(RFC 2045 §6), multipart variants (RFC 2046 §5.1), and the wrap fallback."""

from __future__ import annotations

import base64

import pytest

from postseal.mail.structure import parse
from postseal.policy import Direction, DisclaimerAction
from postseal.services.agents import AgentResult, apply
from postseal.services.agents_disclaimer import DisclaimerAgent, append_disclaimer
from tests.agents.helpers import DISCLAIMER, HEAD, context, parsed, plain, texts

AGENT = DisclaimerAgent()
FIRST, SECOND = DISCLAIMER.splitlines()


async def _run(message: bytes, action: DisclaimerAction = DisclaimerAction.APPEND) -> bytes:
    ctx = context(message, action)
    return apply(message, await AGENT.process(message, ctx), ctx, agent=AGENT.name)


async def test_utf8_text_plain_gets_the_text_and_becomes_quoted_printable() -> None:
    message = plain(b"Hello Bob.\r\n")
    out = await _run(message)
    assert out.startswith(HEAD)  # the outer fields stay as they were
    assert b"Content-Transfer-Encoding: quoted-printable" in out  # 7bit no more
    body = texts(out)[0]
    assert body.startswith("Hello Bob.\n\n")
    assert body.rstrip("\n").endswith(f"{FIRST}\n{SECOND}")
    assert all(len(line) <= 76 for line in out.split(b"\r\n"))


async def test_ascii_disclaimer_in_a_7bit_us_ascii_body_stays_7bit() -> None:
    message = plain(b"Hi\r\n", content=b"")  # no Content-Type: text/plain; us-ascii
    ctx = context(message, text="Confidential.")
    out = apply(message, await AGENT.process(message, ctx), ctx, agent="disclaimer")
    assert out == message + b"\r\nConfidential.\r\n"


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("quoted-printable", lambda b: b.replace(b"\xc3\xa9", b"=C3=A9")),
        ("base64", lambda b: base64.encodebytes(b).replace(b"\n", b"\r\n")),
        ("8bit", lambda b: b),
    ],
)
async def test_encoded_utf8_bodies_are_decoded_extended_and_re_encoded(
    encoding: str, encode: object
) -> None:
    raw = "Grüße, café, Ελληνικά\r\n".encode()
    fields = f"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: {encoding}\r\n"
    message = plain(encode(raw), content=fields.encode())  # type: ignore[operator]
    out = await _run(message)
    assert f"Content-Transfer-Encoding: {encoding}".encode() in out
    assert texts(out) == [f"Grüße, café, Ελληνικά\n\n{FIRST}\n{SECOND}\n"]


async def test_latin1_body_that_cannot_hold_the_text_becomes_utf8() -> None:
    fields = b"Content-Type: text/plain; charset=iso-8859-1; format=flowed\r\nContent-Transfer-Encoding: quoted-printable\r\n"
    message = plain(b"Gr=FC=DFe\r\n", content=fields)
    out = await _run(message)  # the en dash is not in ISO 8859-1
    part = parsed(out)
    assert part.get_content_charset() == "utf-8"
    assert part.get_param("format") == "flowed"
    assert texts(out) == [f"Grüße\n\n{FIRST}\n{SECOND}\n"]


async def test_latin1_body_keeps_its_charset_when_the_text_fits() -> None:
    fields = b"Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n"
    message = plain("Grüße\r\n".encode("latin-1"), content=fields)
    ctx = context(message, text="Vertraulich für Bob.")
    out = apply(message, await AGENT.process(message, ctx), ctx, agent="disclaimer")
    assert out.endswith("Grüße\r\n\r\nVertraulich für Bob.\r\n".encode("latin-1"))
    assert fields in out


async def test_html_body_gets_an_escaped_block_before_the_closing_body_tag() -> None:
    fields = b"Content-Type: text/html; charset=us-ascii\r\n"
    message = plain(b"<html><body><p>Hi</p></body></html>\r\n", content=fields)
    ctx = context(message, text="<b>Confidential</b> \u2013 really")
    out = apply(message, await AGENT.process(message, ctx), ctx, agent="disclaimer")
    assert b"&lt;b&gt;Confidential&lt;/b&gt; &#8211; really</div>\r\n</body>" in out
    assert fields in out  # ASCII character references: the charset holds


async def test_alternative_gets_the_text_in_every_view() -> None:
    message = HEAD + (
        b'MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary="b1"\r\n\r\n'
        b"--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.b64encode("Grüße\r\n".encode())
        + b"\r\n--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Gr\xc3\xbc\xc3\x9fe</p>\r\n"
        b"--b1--\r\n"
    )
    out = await _run(message)
    plain_text, html_text = texts(out)
    assert plain_text.startswith("Grüße\n\n") and SECOND in plain_text
    assert html_text.startswith("<p>Grüße</p>") and "Vertraulich &#8211; nur f&#252;r" in html_text
    assert parse(out).root.subtype == "alternative" and len(parse(out).root.children) == 2


async def test_mixed_gets_a_new_last_part_and_keeps_the_others_byte_exact() -> None:
    attachment = (
        b"Content-Type: application/pdf; name=a.pdf\r\nContent-Transfer-Encoding: base64\r\n"
        b"Content-Disposition: attachment; filename=a.pdf\r\n\r\nJVBERi0xLjQK"
    )
    first = b"Content-Type: text/plain; charset=us-ascii\r\n\r\nSee attached."
    message = HEAD + (
        b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="m"\r\n\r\n'
        b"--m\r\n" + first + b"\r\n--m\r\n" + attachment + b"\r\n--m--\r\n"
    )
    out = await _run(message)
    root = parse(out).root
    assert [f"{c.type}/{c.subtype}" for c in root.children] == [
        "text/plain",
        "application/pdf",
        "text/plain",
    ]
    assert first in out and attachment in out
    assert texts(out)[-1] == f"{FIRST}\n{SECOND}"
    assert out.endswith(b"\r\n--m--\r\n")


async def test_other_content_is_wrapped_not_guessed_at() -> None:
    content = b"Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
    message = plain(b"JVBERi0xLjQK\r\n", content=content)
    out = await _run(message)
    root = parse(out).root
    assert (root.type, root.subtype) == ("multipart", "mixed")
    inner = root.children[0]
    assert out[inner.start : inner.end] == content + b"\r\nJVBERi0xLjQK\r\n"
    assert out.startswith(HEAD)
    assert texts(out) == [f"{FIRST}\n{SECOND}"]


@pytest.mark.parametrize(
    "fields",
    [
        b"Content-Type: text/plain; charset=x-unknown-charset\r\n",
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n",
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: x-uuencode\r\n",
    ],
    ids=["unknown-charset", "broken-base64", "unknown-encoding"],
)
async def test_undecodable_bodies_are_wrapped(fields: bytes) -> None:
    message = plain(b"@@not base64@@\r\n", content=fields)
    assert append_disclaimer(message, DISCLAIMER) is None
    out = await _run(message)
    inner = parse(out).root.children[0]
    assert out[inner.start : inner.end] == fields + b"\r\n@@not base64@@\r\n"


async def test_reports_and_inbound_mail_and_no_text_are_left_alone() -> None:
    report = HEAD + (
        b'MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=disposition-notification; boundary="r"\r\n\r\n'
        b"--r\r\nContent-Type: text/plain\r\n\r\nRead.\r\n--r--\r\n"
    )
    assert (await AGENT.process(report, context(report))).unchanged
    message = plain()
    inbound = context(message, direction=Direction.INBOUND)
    assert (await AGENT.process(message, inbound)).unchanged
    assert (await AGENT.process(message, context(message, text=""))).unchanged
    assert (await AGENT.process(message, context(message, DisclaimerAction.NONE))).unchanged


async def test_the_agent_asks_the_pipeline_it_does_not_edit() -> None:
    message = plain()
    result = await AGENT.process(message, context(message))
    assert isinstance(result, AgentResult)
    assert result.message is not None and result.message != message
