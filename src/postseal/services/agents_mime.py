"""MIME building blocks of the transport agents: what counts as protected, wrapping an
entity untouched, and a small text part (RFC 2045 §3, RFC 2046 §5.1, RFC 8551 §3).

Pure functions on CRLF bytes (the SMTP edge normalises line ends before the intake).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from email import quoprimime
from email.message import Message

from postseal.mail.fields import split_message
from postseal.mail.structure import Part
from postseal.policy import smime_layers

__all__ = [
    "content_type_field",
    "field_name",
    "is_structural",
    "new_boundary",
    "part_protection",
    "protection",
    "qp_encode",
    "text_entity",
    "text_lines",
    "wrap_entity",
]

MAX_LINE = 998  # RFC 5322 §2.1.1
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")  # RFC 2045 §5.1 token


def is_structural(name: str) -> bool:
    """``Content-*`` and ``MIME-Version`` describe how the body is read (RFC 2045 §3);
    they belong to the entity, never to the outer header an agent may touch."""
    lowered = name.strip().lower()
    return lowered.startswith("content-") or lowered == "mime-version"


def field_name(field: bytes) -> str:
    return field.split(b":", 1)[0].strip().decode("ascii", "replace")


def protection(content_type: str) -> tuple[bool, bool]:
    """``(signed, encrypted)`` of a Content-Type value: :func:`postseal.policy.smime_layers`
    (RFC 8551 §3.2.2, §3.5.3) widened to every ``multipart/signed`` and
    ``multipart/encrypted`` (RFC 1847 §2, e.g. PGP/MIME) and to the
    ``application/octet-stream; name=smime.p7m`` of old clients (RFC 8551 §3.2.1) —
    changing any of them breaks a signature or destroys the ciphertext."""
    signed, encrypted = smime_layers(content_type)
    if signed or encrypted:
        return signed, encrypted
    holder = Message()
    holder["Content-Type"] = content_type
    kind = holder.get_content_type()
    if kind == "multipart/signed":
        return True, False
    if kind == "multipart/encrypted":
        return False, True
    name = str(holder.get_param("name", "")).lower()
    return False, kind == "application/octet-stream" and name.endswith(".p7m")


def part_protection(part: Part) -> tuple[bool, bool]:
    """:func:`protection` of a parsed MIME part."""
    wanted = ("protocol", "smime-type", "name")
    params = "".join(f'; {k}="{_escape(v)}"' for k, v in part.params if k in wanted)
    return protection(f"{part.type}/{part.subtype}{params}")


def new_boundary(*contents: bytes) -> bytes:
    """A boundary found in none of ``contents``. ``=_`` never occurs in quoted-printable
    or base64 output (RFC 2045 §6.7 note 8, §6.8)."""
    while True:
        boundary = b"=_postseal_" + secrets.token_hex(12).encode("ascii")
        if not any(boundary in content for content in contents):
            return boundary


def wrap_entity(message: bytes, parts: Sequence[bytes]) -> bytes:
    """A ``multipart/mixed`` message (RFC 2046 §5.1.3) whose first part is ``message``'s
    entity — its ``Content-*`` fields and body, byte for byte — followed by ``parts``
    (complete MIME entities). The outer, non-structural fields move to the wrapper.

    Whatever the entity is (``multipart/signed``, ``application/pkcs7-mime``), its bytes
    are not touched, so its signature still verifies (RFC 8551 §3.5)."""
    fields, rest = split_message(message)
    rest = rest or b"\r\n"  # a header without a body: the entity is empty
    outer = [f for f in fields if not is_structural(field_name(f))]
    entity_fields = [
        f
        for f in fields
        if is_structural(field_name(f)) and field_name(f).lower() != "mime-version"
    ]
    entity = b"".join(entity_fields) + rest
    boundary = new_boundary(message, *parts)
    delimiter = b"\r\n--" + boundary
    chunks = [
        *outer,
        b"MIME-Version: 1.0\r\n",
        b'Content-Type: multipart/mixed;\r\n boundary="' + boundary + b'"\r\n',
        b"\r\n",
        b"This is a multi-part message in MIME format.",
        delimiter + b"\r\n",
        entity,
    ]
    for part in parts:
        chunks += [delimiter + b"\r\n", part]
    chunks.append(delimiter + b"--\r\n")
    return b"".join(chunks)


def text_lines(text: str) -> list[str]:
    """The lines of a configured text, trailing white space removed (it would be lost or,
    in format=flowed, join lines; RFC 3676 §4.2)."""
    return [line.rstrip() for line in re.split(r"\r\n|\r|\n", text.strip())]


def qp_encode(data: bytes) -> bytes:
    """Quoted-printable (RFC 2045 §6.7) with CRLF line ends and 76-column lines."""
    latin = data.decode("latin-1")
    return quoprimime.body_encode(latin, maxlinelen=76, eol="\r\n").encode("latin-1")


def text_entity(text: str, *, description: str = "disclaimer") -> bytes:
    """An inline ``text/plain; charset=utf-8`` entity holding ``text``: 7bit when it is
    ASCII with short lines, quoted-printable otherwise. No trailing CRLF: the delimiter
    that follows supplies it (RFC 2046 §5.1.1)."""
    lines = text_lines(text)
    raw = "\r\n".join(lines).encode("utf-8")
    if raw.isascii() and all(len(line) <= MAX_LINE for line in raw.split(b"\r\n")):
        encoding, body = b"7bit", raw
    else:
        encoding, body = b"quoted-printable", qp_encode(raw)
    return b"".join(
        [
            b"Content-Type: text/plain; charset=utf-8\r\n",
            b"Content-Transfer-Encoding: " + encoding + b"\r\n",
            b"Content-Disposition: inline\r\n",
            b"Content-Description: " + description.encode("ascii", "replace") + b"\r\n",
            b"\r\n",
            body,
        ]
    )


def content_type_field(part: Part, *, charset: str) -> bytes:
    """A Content-Type field for ``part`` with ``charset`` set, other parameters kept."""
    params = [("charset", charset)] + [(k, v) for k, v in part.params if k != "charset"]
    shown = "".join(f";\r\n {k}={v if _TOKEN.match(v) else _quoted(v)}" for k, v in params)
    value = f"Content-Type: {part.type}/{part.subtype}{shown}\r\n"
    return value.encode("utf-8", "surrogateescape")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')


def _quoted(value: str) -> str:
    return '"' + _escape(value) + '"'
