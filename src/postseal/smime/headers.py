"""Header protection for encrypted messages (RFC 9788, "Injected Headers").

Sending (:func:`split_outer_inner`): the cryptographic payload — the MIME entity that is
encrypted — carries every non-structural header field of the original message
(RFC 9788 §2.1), its Content-Type gets ``hp="cipher"`` (§2.1.1), and for each
non-structural field placed on the outside there is an ``HP-Outer: Name: value`` record
(§2.2). The outer header follows the ``hcp_baseline`` confidentiality policy (§3.2.1):
Subject becomes ``[...]``, Keywords and Comments are dropped, the rest is copied.

Receiving (:func:`restore`): when the decrypted entity carries ``hp=`` (or the older
``protected-headers="v1"``), its header fields replace every user-facing outer field — no
merging (§4.3): the outer ones are unauthenticated. Transport fields that only exist
outside (Received, Authentication-Results, …) are kept. Without header protection the
outer fields are kept and the entity's Content-* fields follow.

All bytes use CRLF line ends; callers canonicalise first (RFC 8551 §3.1.1).
"""

from __future__ import annotations

import re

from postseal.mail.canonical import is_crlf

__all__ = ["canonical_crlf", "parse_fields", "restore", "split_outer_inner"]

PLACEHOLDER_SUBJECT = b"[...]"
_DROPPED_OUTSIDE = frozenset({"keywords", "comments"})
_USER_FACING = frozenset(
    {
        "from",
        "sender",
        "reply-to",
        "to",
        "cc",
        "bcc",
        "subject",
        "date",
        "message-id",
        "in-reply-to",
        "references",
        "keywords",
        "comments",
        "followup-to",
        "mail-followup-to",
        "organization",
        "user-agent",
        "disposition-notification-to",
    }
)
_HP_PARAM = re.compile(rb";\s*(hp|protected-headers)\s*=", re.IGNORECASE)

_FIELD_START = re.compile(rb"[!-9;-~]+[ \t]*:")
Field = tuple[str, bytes]


def canonical_crlf(data: bytes) -> bytes:
    """Every bare LF or CR turned into CRLF (RFC 5322 §2.1, RFC 8551 §3.1.1)."""
    # Fast path: no bare CR or LF, so the regular-expression rewrite would change nothing.
    if is_crlf(data):
        return data
    return re.sub(rb"\r\n|\r|\n", b"\r\n", data)


def parse_fields(entity: bytes) -> tuple[list[Field], bytes]:
    """Header fields as ``(lower-case name, raw bytes incl. folding and CRLF)`` and the body.

    The header section ends at the first empty line (RFC 5322 §2.1); an entity without one
    is all header. Lines that are not fields (no colon) are kept with the previous field.
    """
    fields, body_start = _parse_head(entity)
    return fields, entity[body_start:]


def _parse_head(entity: bytes) -> tuple[list[Field], int]:
    """:func:`parse_fields` with the body as an offset: the body is not copied."""
    end = entity.find(b"\r\n\r\n")
    if end >= 0:
        head, body_start = entity[:end], end + 4
    elif entity.startswith(b"\r\n"):
        head, body_start = b"", 2
    else:
        head, body_start = entity, len(entity)
    if head.startswith(b"\r\n"):
        return [], 2
    if not _FIELD_START.match(head):
        return [], 0  # not a MIME entity: bare content such as RFC 4134's examples
    fields: list[Field] = []
    for line in head.split(b"\r\n"):
        name, colon, _ = line.partition(b":")
        if fields and (line[:1] in (b" ", b"\t") or not colon):
            fields[-1] = (fields[-1][0], fields[-1][1] + line + b"\r\n")
        else:
            fields.append((name.strip().decode("ascii", "replace").lower(), line + b"\r\n"))
    return fields, body_start


def _declares_hp(fields: list[Field]) -> bool:
    content_type = b"".join(raw for name, raw in fields if name == "content-type")
    return bool(_HP_PARAM.search(re.sub(rb"\r\n[ \t]", b" ", content_type)))


_BOUNDARY = re.compile(rb'boundary\s*=\s*(?:"([^"]{1,70})"|([^\s;"]{1,70}))', re.IGNORECASE)


def _signed_part_fields(fields: list[Field], body: bytes) -> list[Field] | None:
    """The header fields of the first part of a multipart/signed entity, else None."""
    content_type = re.sub(
        rb"\r\n[ \t]", b" ", b"".join(r for n, r in fields if n == "content-type")
    )
    if b"multipart/signed" not in content_type.lower():
        return None
    match = _BOUNDARY.search(content_type)
    if match is None:
        return None
    delimiter = b"--" + (match.group(1) or match.group(2))
    start = body.find(delimiter)
    if start < 0:
        return None
    part = body[start + len(delimiter) :].split(b"\r\n", 1)[-1]
    part_fields, _ = parse_fields(part.split(b"\r\n" + delimiter, 1)[0])
    return part_fields


def _structural(name: str) -> bool:
    return name.startswith("content-") or name == "mime-version"


_FOLD = re.compile(rb"\r\n(?=[ \t])")


def _value(raw: bytes) -> bytes:
    """The unfolded value of a raw field (RFC 5322 §2.2.3)."""
    value = raw.partition(b":")[2]
    if raw.count(b"\r\n") > 1:  # folded
        value = _FOLD.sub(b"", value)
    return value.strip()


def _with_hp(content_type: bytes) -> bytes:
    """A Content-Type field with ``hp="cipher"`` appended (RFC 9788 §2.1.1)."""
    body = content_type.rstrip(b"\r\n")
    return body + b';\r\n hp="cipher"\r\n'


def split_outer_inner(
    message: bytes, *, protect: bool = True, known_crlf: bool = False
) -> tuple[bytes, bytes]:
    """Cut a full RFC 5322 message into (outer header fields, inner MIME entity).

    The outer fields exclude the structural ones (Content-*, MIME-Version): the caller
    adds the S/MIME Content-Type. With ``protect`` the inner entity holds the protected
    copy of every non-structural field, ``hp="cipher"`` and the HP-Outer records, and the
    outer Subject is ``[...]``; without it the inner entity is the message's own MIME
    entity (its Content-* fields and body). ``known_crlf`` is the caller's word that every
    line end of ``message`` is CRLF already (it scanned the message).
    """
    data = message if known_crlf else canonical_crlf(message)
    fields, body_start = _parse_head(data)
    # the body is most of the message: it is copied once, into the inner entity
    body = memoryview(data)[body_start:]
    structural: list[bytes] = []
    plain: list[tuple[str, bytes]] = []
    typed = False
    for name, raw in fields:
        if name.startswith("content-"):
            structural.append(raw)
            typed = typed or name == "content-type"
        elif name != "mime-version":
            plain.append((name, raw))
    if not typed:
        # RFC 2045 §5.2 default, made explicit so hp= has somewhere to go.
        structural.insert(0, b"Content-Type: text/plain; charset=us-ascii\r\n")
    if not protect:
        outer = b"".join(raw for _, raw in plain)
        return outer, b"".join([*structural, b"\r\n", body])
    outer_fields: list[bytes] = []
    for name, raw in plain:
        if name in _DROPPED_OUTSIDE:
            continue
        if name == "subject":
            raw = raw.partition(b":")[0] + b": " + PLACEHOLDER_SUBJECT + b"\r\n"
        outer_fields.append(raw)
    records = [
        b"HP-Outer: " + raw.partition(b":")[0].strip() + b": " + _value(raw) + b"\r\n"
        for raw in outer_fields
    ]
    inner_structural = [
        _with_hp(raw) if raw[:12].lower() == b"content-type" else raw for raw in structural
    ]
    inner = b"".join([*(raw for _, raw in plain), *records, *inner_structural, b"\r\n", body])
    return b"".join(outer_fields), inner


def restore(outer_message: bytes, inner_entity: bytes) -> tuple[bytes, bool]:
    """(the message a user should see, whether the entity carried header protection).

    The outer placeholder Subject and every other user-facing outer field are replaced
    by the protected ones when the entity declares ``hp=``; HP-Outer records are removed
    from the result because they describe the envelope, not the message (RFC 9788 §2.2).
    """
    outer_fields, _ = parse_fields(canonical_crlf(outer_message))
    inner_fields, inner_body = parse_fields(inner_entity)
    protected = _declares_hp(inner_fields)
    inside = [raw for name, raw in inner_fields if name != "hp-outer"]
    if not protected:
        inside = [raw for name, raw in inner_fields if _structural(name)]
        # Sign-then-encrypt: the protected fields sit on the signed part (RFC 9788 §4.1
        # puts them on the innermost cryptographic payload); show them, keep the signature.
        signed_fields = _signed_part_fields(inner_fields, inner_body)
        if signed_fields is not None and _declares_hp(signed_fields):
            protected = True
            inside = [
                raw for name, raw in signed_fields if not _structural(name) and name != "hp-outer"
            ] + inside
    kept_outside = [
        raw
        for name, raw in outer_fields
        if not _structural(name) and not (protected and name in _USER_FACING)
    ]
    mime_version = (
        [] if any(n == "mime-version" for n, _ in inner_fields) else [b"MIME-Version: 1.0\r\n"]
    )
    head = b"".join(kept_outside) + b"".join(mime_version) + b"".join(inside)
    return head + b"\r\n" + inner_body, protected
