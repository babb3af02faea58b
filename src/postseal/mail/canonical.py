"""Canonical form of a MIME entity for signing (RFC 8551 §3.1.1, RFC 2045, RFC 2046).

A signature must survive any transport, so the bytes we sign are the ones every relay
keeps: CRLF line ends and 7-bit data. :func:`canonicalize` rewrites an entity that way:

- every line ends in CRLF (RFC 8551 §3.1.1: canonical form of text);
- a text part with 8-bit bytes or lines over 998 octets (RFC 5322 §2.1.1) is re-encoded
  quoted-printable, as is one with trailing white space (relays strip it); a text part
  with a CR that ends no line becomes base64, which keeps it (quoted-printable cannot:
  RFC 2045 §6.7), as does any other leaf part that a 7-bit transport would alter; a
  base64 body with lines over 998 octets is re-wrapped to 76-character lines (the same
  content: white space is no part of base64), and a quoted-printable one is decoded and
  encoded afresh;
- multipart bodies are walked part by part and message/rfc822 bodies entity by entity,
  at most 32 levels deep (deeper input is hostile, not mail);
- a NUL byte in a text part or a header, 8-bit header fields, a CR that ends no line in
  a header, a multipart without a boundary or its closing delimiter, and an encoded
  (base64/quoted-printable) body, preamble or epilogue holding 8-bit bytes, NUL or a CR
  that ends no line are refused with an :class:`~postseal.errors.InputError`, because no
  re-encoding keeps their meaning.

Whatever comes out holds no 8-bit octet, no NUL and no CR or LF outside a CRLF pair
(the fuzz target ``fuzz/octets.py`` checks it).

The header helpers here are shared with the S/MIME wrapper, which reads the same fields.
"""

from __future__ import annotations

import binascii
import re

from postseal.errors import InputError
from postseal.mail import octets

__all__ = [
    "MAX_DEPTH",
    "canonicalize",
    "content_type",
    "header_fields",
    "is_crlf",
    "split_entity",
    "to_crlf",
]

MAX_DEPTH = 32

#: What keeps a text body from being signed as it is: bare line ends, what a 7-bit
#: transport alters (RFC 5322 §2.1.1) and trailing white space, which relays strip
#: (RFC 3156 §3).
_NOT_SIGNABLE = octets.BARE_LINE_END | octets.UNSAFE | octets.TRAILING_SPACE
_LINE_END = re.compile(rb"\r?\n")
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_FIELD_NAME_OCTETS = bytes(c for c in range(0x21, 0x7F) if c != 0x3A)
_QUOTED_PAIR = re.compile(r"\\(.)")
_TOKEN_PARAM = re.compile(r';\s*([!#$%&\'*+.^_`|~0-9A-Za-z-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s]*)')


def to_crlf(data: bytes) -> bytes:
    """Every LF or CRLF line end as CRLF; bare CR is left alone. Input without a bare LF
    is returned itself."""
    if is_crlf(data) or data.count(b"\n") == data.count(b"\r\n"):
        return data
    return _LINE_END.sub(b"\r\n", data)


def is_crlf(data: bytes) -> bool:
    """Is every CR and every LF in ``data`` part of a CRLF pair (RFC 5322 §2.3)?"""
    return not octets.scan(data) & octets.BARE_LINE_END


def split_entity(entity: bytes) -> tuple[bytes, bytes]:
    """(header block without the blank line, body) of a MIME entity.

    An entity that starts with a blank line has no header fields. No blank line at all
    → InputError: the input is not a MIME entity.
    """
    if entity.startswith(b"\r\n"):
        return b"", entity[2:]
    if entity.startswith(b"\n"):
        return b"", entity[1:]
    found = _HEADER_END.search(entity)
    if found is None:
        raise InputError("not a MIME entity: no blank line ends the header")
    return entity[: found.start()], entity[found.end() :]


def header_fields(header: bytes) -> list[tuple[str, str]]:
    """Unfolded (lower-case name, value) pairs in order (RFC 5322 §2.2.3).

    Non-ASCII bytes are decoded as UTF-8 with replacement (RFC 6532 headers); a first
    line that is a continuation or a line without a colon → InputError.
    """
    fields: list[tuple[str, str]] = []
    # the same pieces as splitting at r"\r?\n", in two C-level calls
    for line in header.replace(b"\r\n", b"\n").split(b"\n"):
        if not line:
            continue
        if line[0] in b" \t":
            if not fields:
                raise InputError("malformed header: the first line is a continuation")
            name, value = fields[-1]
            fields[-1] = (name, value + " " + line.strip().decode("utf-8", "replace"))
            continue
        raw_name, colon, raw_value = line.partition(b":")
        field_name = raw_name.rstrip(b" \t")
        # field-name = 1*(%d33-57 / %d59-126), then optional WSP before the colon
        # (RFC 5322 §3.6.8, obs-optional): deleting the allowed octets leaves nothing
        if not colon or not field_name or field_name.translate(None, _FIELD_NAME_OCTETS):
            raise InputError("malformed header: a line has no field name")
        fields.append(
            (field_name.decode("ascii").lower(), raw_value.strip().decode("utf-8", "replace"))
        )
    return fields


def content_type(fields: list[tuple[str, str]]) -> tuple[str, dict[str, str]]:
    """(lower-case ``type/subtype``, parameters) of the first Content-Type field.

    Missing → ``text/plain`` (RFC 2045 §5.2). Parameter names are lower-cased, quoted
    values unquoted.
    """
    value = next((v for n, v in fields if n == "content-type"), "text/plain")
    mime_type, _, rest = value.partition(";")
    params: dict[str, str] = {}
    for match in _TOKEN_PARAM.finditer(";" + rest):
        raw = match.group(2)
        if raw.startswith('"'):
            raw = raw[1:-1]
            if "\\" in raw:
                raw = _QUOTED_PAIR.sub(r"\1", raw)
        params.setdefault(match.group(1).lower(), raw)
    mime_type = mime_type.strip().lower() or "text/plain"
    if "/" not in mime_type:
        # RFC 2045 §5.2: an unparseable Content-Type means text/plain
        mime_type = "text/plain"
    return mime_type, params


class _Canonical(bytes):
    """Bytes that :func:`canonicalize` returned: canonical by construction."""

    __slots__ = ()


def canonicalize(entity: bytes, *, known_crlf: bool = False, clean_body: bool = False) -> bytes:
    """The entity as CRLF, 7-bit bytes fit to sign (see the module docstring).

    The result remembers that it is canonical: handed back to this function it is
    returned as it is, without another scan (a message split and canonicalised for
    signing is not checked again by the signer). ``known_crlf`` is the caller's word
    that :func:`is_crlf` holds for ``entity`` (an entity built from CRLF pieces, such as
    the inner entity of :func:`postseal.smime.headers.split_outer_inner`): the line ends
    are then not checked again. ``clean_body`` is the caller's word that
    :func:`postseal.mail.octets.scan` finds nothing in the body (it scanned the message
    the body was cut from): a 7-bit text body is then taken without another scan.
    """
    if type(entity) is _Canonical:
        return entity
    return _Canonical(_entity(entity, 0, known_crlf=known_crlf, clean_body=clean_body))


def _entity(
    entity: bytes, depth: int, *, known_crlf: bool = False, clean_body: bool = False
) -> bytes:
    if depth > MAX_DEPTH:
        raise InputError(f"MIME structure nested deeper than {MAX_DEPTH} levels")
    header, body_start = _header_of(entity, known_crlf=known_crlf)
    if not header.isascii():
        raise InputError(
            "a header field holds 8-bit bytes, which a 7-bit transport would alter",
            hint="encode it with RFC 2047 encoded-words",
        )
    if b"\x00" in header:
        raise InputError("a header field holds a NUL byte, which mail cannot carry")
    fields = header_fields(header)
    mime_type, params = content_type(fields)
    cte = next((v for n, v in fields if n == "content-transfer-encoding"), "7bit")
    cte = cte.strip().lower()
    if cte == "7bit" and mime_type.startswith("text/"):
        separator = b"\r\n\r\n" if header else b"\r\n"
        if (
            body_start == len(header) + len(separator)
            and entity.startswith(separator, len(header))
            and (known_crlf or is_crlf(header))
            and (clean_body or not octets.scan(entity, body_start) & _NOT_SIGNABLE)
        ):
            # The common case, checked where it lies: the body is neither copied out
            # nor put back behind its header.
            return entity
    body = entity[body_start:]
    original_body = body
    new_cte: str | None = None
    if mime_type.startswith("multipart/"):
        if cte not in ("7bit", "8bit", "binary"):
            raise InputError(f"a multipart body cannot use {cte} encoding (RFC 2045 §6.4)")
        body = _multipart(body, params.get("boundary"), depth, known_crlf=known_crlf)
        new_cte = "7bit" if cte != "7bit" else None
    elif mime_type in ("message/rfc822", "message/global") and cte in ("7bit", "8bit", "binary"):
        body = _entity(body, depth + 1, known_crlf=known_crlf)
        new_cte = "7bit" if cte != "7bit" else None
    else:
        body, new_cte = _leaf(body, mime_type, cte, known_crlf=known_crlf)
    out_header = header if known_crlf else to_crlf(header)
    if not known_crlf and not is_crlf(out_header):
        raise InputError("a header field holds a CR that does not end a line (RFC 5322 §2.2)")
    if new_cte is not None:
        out_header = _set_cte(out_header, new_cte)
    separator = b"\r\n\r\n" if header else b"\r\n"
    if out_header is header and body is original_body and entity.startswith(separator, len(header)):
        return entity  # already canonical: not copied again
    return out_header + b"\r\n\r\n" + body if out_header else b"\r\n" + body


def _header_of(entity: bytes, *, known_crlf: bool) -> tuple[bytes, int]:
    """:func:`split_entity` with the body as an offset into ``entity`` (not copied out)."""
    if entity.startswith((b"\r\n", b"\n")):
        return b"", 2 if entity[:1] == b"\r" else 1
    # the first blank line: an LF, then CRLF or LF; only the header is searched twice
    end = entity.find(b"\n\r\n")
    if not known_crlf:
        bare = entity.find(b"\n\n", 0, end + 2 if end >= 0 else len(entity))
        if bare >= 0:
            end = bare
    if end < 0:
        raise InputError("not a MIME entity: no blank line ends the header")
    start = end - 1 if entity[end - 1 : end] == b"\r" else end
    return entity[:start], end + (3 if entity[end + 1 : end + 2] == b"\r" else 2)


def _multipart(body: bytes, boundary: str | None, depth: int, *, known_crlf: bool) -> bytes:
    if not boundary or len(boundary) > 70 or not boundary.isascii():
        raise InputError("a multipart entity has no valid boundary parameter (RFC 2046 §5.1.1)")
    delim = re.escape(b"--" + boundary.encode("ascii"))
    pattern = re.compile(rb"(?:\A|\r?\n)" + delim + rb"(--)?[ \t]*(?=\r?\n|\Z)")
    pieces: list[bytes] = []
    position = 0
    closed = False
    for match in pattern.finditer(body):
        pieces.append(body[position : match.start()])
        position = match.end()
        if match.group(1):
            closed = True
            break
    if not closed:
        raise InputError("a multipart body lacks its closing boundary (RFC 2046 §5.1.1)")
    preamble, parts = pieces[0], pieces[1:]
    epilogue = body[position:]
    line = b"--" + boundary.encode("ascii")
    out = [_checked(to_crlf(preamble), "the preamble")] if preamble else []
    for part in parts:
        part = part[2:] if part.startswith(b"\r\n") else part[1:] if part[:1] == b"\n" else part
        entity = _entity(part, depth + 1, known_crlf=known_crlf)
        out.append((b"\r\n" if out else b"") + line + b"\r\n" + entity)
    out.append(b"\r\n" + line + b"--")
    return b"".join(out) + _checked(to_crlf(epilogue), "the epilogue")


def _leaf(body: bytes, mime_type: str, cte: str, *, known_crlf: bool) -> tuple[bytes, str | None]:
    is_text = mime_type.startswith("text/")
    if is_text and b"\x00" in body:
        raise InputError(
            "a text part contains a NUL byte, which mail cannot carry",
            hint="attach the data as a file instead",
        )
    if cte == "base64":
        encoded = body if known_crlf else to_crlf(body)
        if _transportable(encoded, "a base64 body") & octets.LONG_LINE:
            return _rewrapped_base64(encoded), None
        return encoded, None
    if cte == "quoted-printable":
        encoded = body if known_crlf else to_crlf(body)
        if _transportable(encoded, "a quoted-printable body") & octets.LONG_LINE:
            # Lines over 998 octets (RFC 2045 §6.7 allows 76): relays would cut them.
            # The decoded content is what the part means; it is encoded afresh like
            # any 8-bit content of its type.
            return _leaf(binascii.a2b_qp(encoded), mime_type, "8bit", known_crlf=False)
        return encoded, None
    if cte not in ("7bit", "8bit", "binary"):
        return _checked(body if known_crlf else to_crlf(body), f"a {cte} body"), None
    if is_text:
        flags = octets.scan(body)
        crlf = body
        if not known_crlf and flags & octets.BARE_LINE_END:
            crlf = to_crlf(body)
            flags = octets.scan(crlf)  # a bare CR stays bare
        if not flags & _NOT_SIGNABLE:
            return crlf, ("7bit" if cte != "7bit" else None)
        if flags & octets.BARE_LINE_END:
            # A bare CR: quoted-printable carries CR only in CRLF (RFC 2045 §6.7 rule 4)
            # and relays rewrite it; base64 keeps the text exactly.
            return _base64_lines(crlf), "base64"
        lf = crlf.replace(b"\r\n", b"\n")
        encoded = binascii.b2a_qp(lf, quotetabs=False, istext=True, header=False)
        return encoded.replace(b"\n", b"\r\n"), "quoted-printable"
    if cte == "7bit":
        crlf = body if known_crlf else to_crlf(body)
        flags = octets.scan(crlf)
        if (known_crlf or not flags & octets.BARE_LINE_END) and not flags & octets.UNSAFE:
            return crlf, None
    return _base64_lines(body), "base64"


def _rewrapped_base64(encoded: bytes) -> bytes:
    """A base64 body in 76-character lines (RFC 2045 §6.8): some programs write it as
    one long line, which relays cut at 998 octets (RFC 5322 §2.1.1) and a signature
    over it would not survive. White space is not part of base64, so the content is
    the same; a body that is not base64 at all is refused."""
    try:
        content = binascii.a2b_base64(encoded.translate(None, b" \t\r\n"), strict_mode=True)
    except binascii.Error:
        raise InputError(
            "a base64 body has lines over 998 octets and is not valid base64; "
            "relays would cut its lines"
        ) from None
    return _base64_lines(content)


def _base64_lines(data: bytes) -> bytes:
    """Base64 in 76-character lines, each ending in CRLF (RFC 2045 §6.8)."""
    return octets.crlf_lines(binascii.b2a_base64(data, newline=False), 76, b"")


def _checked(data: bytes, what: str) -> bytes:
    """``data``, after :func:`_transportable` found nothing to refuse in it."""
    _transportable(data, what)
    return data


def _transportable(data: bytes, what: str) -> int:
    """The :func:`postseal.mail.octets.scan` flags of ``data`` (already CRLF where it
    had LF line ends), when a 7-bit transport keeps it: octets that are not content to
    re-encode (an encoded body, a preamble, an epilogue) are refused when it would not."""
    flags = octets.scan(data)
    if flags & octets.EIGHT_BIT:
        raise InputError(f"{what} holds 8-bit bytes; only its content could be re-encoded")
    if flags & octets.NUL:
        raise InputError(f"{what} holds a NUL byte, which mail cannot carry")
    if flags & octets.BARE_LINE_END:
        raise InputError(f"{what} holds a CR that does not end a line; relays would alter it")
    return flags


def _set_cte(header: bytes, cte: str) -> bytes:
    if not header:  # an entity without header fields gets its first one
        return b"Content-Transfer-Encoding: " + cte.encode("ascii")
    kept: list[bytes] = []
    skipping = False
    for line in header.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and skipping:
            continue
        skipping = line.lower().startswith(b"content-transfer-encoding:")
        if not skipping:
            kept.append(line)
    kept.append(b"Content-Transfer-Encoding: " + cte.encode("ascii"))
    return b"\r\n".join(kept)
