"""The disclaimer agent: the policy's ``disclaimer`` text on outbound mail (docs/policy.md).

Where the text goes (ADR 0015):

- ``text/plain`` or ``text/html`` message: appended to the body. The body is decoded
  from its transfer encoding (RFC 2045 §6: quoted-printable, base64, 7bit/8bit/binary)
  and charset, the text appended, and the result re-encoded the same way; a charset that
  cannot hold the text becomes UTF-8, a 7bit body that no longer is 7-bit becomes
  quoted-printable. HTML gets an escaped ``<div>`` before ``</body>``.
- ``multipart/alternative``: appended to every text/plain and text/html alternative
  (also the HTML root of a ``multipart/related`` alternative, RFC 2387), so each view
  shows it (RFC 2046 §5.1.4).
- ``multipart/mixed``: a new inline text/plain part at the end (RFC 2046 §5.1.3); the
  user's parts and attachments stay byte for byte.
- ``multipart/report`` (DSNs, MDNs: RFC 6522) is left alone: machines read it.
- Anything else, a body that cannot be decoded, or an unknown charset: the message is
  wrapped (a new ``multipart/mixed`` with the disclaimer as second part) instead of
  being guessed at.

Signed or encrypted mail (``context.protected``) follows the policy's
``disclaimer_on_signed``: ``skip`` leaves it untouched, ``wrap`` asks the pipeline for the
wrapper, whose first part is the untouched signed entity (RFC 8551 §3.5), so the
signature still verifies. Outbound agents run before postseal signs, so a disclaimer on an
unsigned message is covered by the server's signature.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import html
import re

from postseal.mail.fields import split_message
from postseal.mail.structure import Part, parse
from postseal.policy import Direction, DisclaimerAction
from postseal.services.agents import AgentContext, AgentResult
from postseal.services.agents_mime import (
    MAX_LINE,
    content_type_field,
    field_name,
    qp_encode,
    text_entity,
    text_lines,
)

__all__ = ["DisclaimerAgent", "append_disclaimer"]

_IDENTITY = ("7bit", "8bit", "binary")


class DisclaimerAgent:
    """Appends or wraps ``decision.disclaimer_text``; see the module docstring."""

    name = "disclaimer"

    async def process(self, message: bytes, context: AgentContext) -> AgentResult:
        decision = context.decision
        text = decision.disclaimer_text.strip()
        if (
            context.direction is not Direction.OUTBOUND
            or not text
            or decision.disclaimer is DisclaimerAction.NONE
        ):
            return AgentResult()
        wrap = AgentResult(wrap_parts=(text_entity(text),), note="disclaimer in a wrapper")
        if context.protected:
            if decision.disclaimer is DisclaimerAction.WRAP:
                return wrap
            return AgentResult(note="signed or encrypted by the sender: disclaimer skipped")
        root = parse(message).root
        if root.type == "multipart" and root.subtype == "report":
            return AgentResult(note="a report (RFC 6522): disclaimer skipped")
        edited = None
        if decision.disclaimer is DisclaimerAction.APPEND:
            edited = append_disclaimer(message, text)
        if edited is None:
            return wrap
        return AgentResult(message=edited, note="disclaimer appended")


def append_disclaimer(message: bytes, text: str) -> bytes | None:
    """``message`` with ``text`` appended in place, or None when it has no place for it
    (the caller wraps instead)."""
    root = parse(message).root
    if _is_text(root):
        return _append_to_text(message, root, text, top=True)
    if root.is_multipart and root.subtype == "alternative":
        targets = []
        for child in root.children:
            if _is_text(child):
                targets.append(child)
            elif child.is_multipart and child.subtype == "related":
                targets.extend(c for c in child.children[:1] if _is_text(c))
        edited: bytes | None = message if targets else None
        for part in sorted(targets, key=lambda p: p.start, reverse=True):  # offsets hold
            edited = _append_to_text(edited, part, text, top=False) if edited else None
        return edited
    if root.is_multipart and root.subtype == "mixed":
        return _add_part(message, root, text_entity(text))
    return None


def _is_text(part: Part) -> bool:
    return (
        part.type == "text"
        and part.subtype in ("plain", "html")
        and part.disposition != "attachment"
        and not part.children
    )


def _append_to_text(message: bytes, part: Part, text: str, *, top: bool) -> bytes | None:
    charset = (part.param("charset") or "us-ascii").strip().lower()
    try:
        codecs.lookup(charset)
    except LookupError:
        return None
    content = _decode(message[part.body_start : part.end], part.encoding)
    if content is None:
        return None
    try:
        body = content.decode(charset)
    except UnicodeDecodeError:
        return None
    newline = "\n" if "\n" in body and "\r\n" not in body else "\r\n"
    if part.subtype == "html":
        body = _with_html(body, text, newline)
    else:
        if body and not body.endswith(("\n", "\r")):
            body += newline
        body += newline + newline.join(text_lines(text))
    if top and not body.endswith(newline):
        body += newline
    new_charset = None
    try:
        raw = body.encode(charset)
    except UnicodeEncodeError:
        raw, new_charset = body.encode("utf-8"), "utf-8"
    encoding = part.encoding
    too_long = any(len(line) > MAX_LINE for line in raw.splitlines())
    if encoding == "7bit" and (not raw.isascii() or too_long):
        encoding = "quoted-printable"
    header = _header(
        message[part.start : part.body_start],
        part,
        charset=new_charset,
        encoding=encoding if encoding != part.encoding else None,
        top=top,
    )
    return message[: part.start] + header + _encode(raw, encoding) + message[part.end :]


def _with_html(body: str, text: str, newline: str) -> str:
    # Character references keep the block within any ASCII-compatible charset.
    lines = [
        html.escape(line).encode("ascii", "xmlcharrefreplace").decode() for line in text_lines(text)
    ]
    block = '<div class="postseal-disclaimer"><hr>' + "<br>".join(lines) + "</div>"
    lowered = body.lower()
    at = lowered.rfind("</body>")
    if at < 0:
        at = lowered.rfind("</html>")
    if at < 0:
        separator = newline if body and not body.endswith(("\n", "\r")) else ""
        return body + separator + block
    return body[:at] + block + newline + body[at:]


def _decode(body: bytes, encoding: str) -> bytes | None:
    if encoding in _IDENTITY:
        return body
    if encoding == "quoted-printable":
        return binascii.a2b_qp(body)
    if encoding == "base64":
        try:
            return base64.b64decode(re.sub(rb"\s+", b"", body), validate=True)
        except (binascii.Error, ValueError):
            return None
    return None


def _encode(raw: bytes, encoding: str) -> bytes:
    if encoding == "base64":
        return base64.encodebytes(raw).replace(b"\n", b"\r\n")
    if encoding == "quoted-printable":
        return qp_encode(raw)
    return raw


def _header(
    header: bytes, part: Part, *, charset: str | None, encoding: str | None, top: bool
) -> bytes:
    """The part's header with Content-Type (charset) and Content-Transfer-Encoding
    replaced when they change; every other field byte for byte."""
    if charset is None and encoding is None:
        return header
    fields = split_message(header)[0] if header.strip(b"\r\n") else []
    names = {"content-type"} if charset else set()
    if encoding:
        names.add("content-transfer-encoding")
    kept = [f for f in fields if field_name(f).lower() not in names]
    if charset:
        kept.append(content_type_field(part, charset=charset))
        if top and not any(field_name(f).lower() == "mime-version" for f in kept):
            kept.append(b"MIME-Version: 1.0\r\n")
    if encoding:
        kept.append(b"Content-Transfer-Encoding: " + encoding.encode("ascii") + b"\r\n")
    return b"".join(kept) + b"\r\n"


def _add_part(message: bytes, root: Part, entity: bytes) -> bytes | None:
    boundary = (root.param("boundary") or "").encode("utf-8", "surrogateescape")
    last = root.children[-1]
    closing = re.compile(rb"\r?\n--" + re.escape(boundary) + rb"--")
    if not boundary or b"\n--" + boundary in b"\n" + entity or not closing.match(message, last.end):
        return None
    insert = b"\r\n--" + boundary + b"\r\n" + entity
    return message[: last.end] + insert + message[last.end :]
