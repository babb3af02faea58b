"""Canonical form of a MIME entity for signing (RFC 8551 §3.1.1, RFC 2045, RFC 2046).

A signature must survive any transport, so the bytes we sign are the ones every relay
keeps: CRLF line ends and 7-bit data. :func:`canonicalize` rewrites an entity that way:

- every line ends in CRLF (RFC 8551 §3.1.1: canonical form of text);
- a text part with 8-bit bytes, bare CR or lines over 998 octets (RFC 5322 §2.1.1) is
  re-encoded quoted-printable, as is one with trailing white space (relays strip it);
  any other such leaf part becomes base64;
- multipart bodies are walked part by part and message/rfc822 bodies entity by entity,
  at most 32 levels deep (deeper input is hostile, not mail);
- a NUL byte in a text part, 8-bit header fields, a multipart without a boundary or its
  closing delimiter, and an encoded (base64/quoted-printable) body holding 8-bit bytes are
  refused with an :class:`~postseal.errors.InputError`, because no re-encoding keeps
  their meaning.

The header helpers here are shared with the S/MIME wrapper, which reads the same fields.
"""

from __future__ import annotations

import base64
import binascii
import re
from itertools import repeat

from postseal.errors import InputError

__all__ = [
    "MAX_DEPTH",
    "canonicalize",
    "content_type",
    "crlf_lines",
    "header_fields",
    "split_entity",
    "to_crlf",
]

MAX_DEPTH = 32
MAX_LINE = 998
_LINE_END = re.compile(rb"\r?\n")
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_FIELD_NAME = re.compile(rb"[!-9;-~]+[ \t]*:")
_TOKEN_PARAM = re.compile(r';\s*([!#$%&\'*+.^_`|~0-9A-Za-z-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;\s]*)')


def to_crlf(data: bytes) -> bytes:
    """Every LF or CRLF line end as CRLF; bare CR is left alone."""
    # Fast path: already CRLF throughout (two C-level scans instead of a regex rewrite).
    if data.count(b"\n") == data.count(b"\r\n"):
        return data
    return _LINE_END.sub(b"\r\n", data)


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
    for line in _LINE_END.split(header):
        if not line:
            continue
        if line[:1] in (b" ", b"\t"):
            if not fields:
                raise InputError("malformed header: the first line is a continuation")
            name, value = fields[-1]
            fields[-1] = (name, value + " " + line.strip().decode("utf-8", "replace"))
            continue
        if _FIELD_NAME.match(line) is None:
            raise InputError("malformed header: a line has no field name")
        raw_name, _, raw_value = line.partition(b":")
        name = raw_name.strip().decode("ascii").lower()
        fields.append((name, raw_value.strip().decode("utf-8", "replace")))
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
            raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
        params.setdefault(match.group(1).lower(), raw)
    mime_type = mime_type.strip().lower() or "text/plain"
    if "/" not in mime_type:
        # RFC 2045 §5.2: an unparseable Content-Type means text/plain
        mime_type = "text/plain"
    return mime_type, params


def canonicalize(entity: bytes) -> bytes:
    """The entity as CRLF, 7-bit bytes fit to sign (see the module docstring)."""
    return _entity(entity, 0)


def _entity(entity: bytes, depth: int) -> bytes:
    if depth > MAX_DEPTH:
        raise InputError(f"MIME structure nested deeper than {MAX_DEPTH} levels")
    header, body = split_entity(entity)
    if not header.isascii():
        raise InputError(
            "a header field holds 8-bit bytes, which a 7-bit transport would alter",
            hint="encode it with RFC 2047 encoded-words",
        )
    fields = header_fields(header)
    mime_type, params = content_type(fields)
    cte = next((v for n, v in fields if n == "content-transfer-encoding"), "7bit")
    cte = cte.strip().lower()
    new_cte: str | None = None
    if mime_type.startswith("multipart/"):
        if cte not in ("7bit", "8bit", "binary"):
            raise InputError(f"a multipart body cannot use {cte} encoding (RFC 2045 §6.4)")
        body = _multipart(body, params.get("boundary"), depth)
        new_cte = "7bit" if cte != "7bit" else None
    elif mime_type in ("message/rfc822", "message/global") and cte in ("7bit", "8bit", "binary"):
        body = _entity(body, depth + 1)
        new_cte = "7bit" if cte != "7bit" else None
    else:
        body, new_cte = _leaf(body, mime_type, cte)
    out_header = to_crlf(header)
    if new_cte is not None:
        out_header = _set_cte(out_header, new_cte)
    return out_header + b"\r\n\r\n" + body if out_header else b"\r\n" + body


def _multipart(body: bytes, boundary: str | None, depth: int) -> bytes:
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
    out = [_seven_bit(to_crlf(preamble), "preamble")] if preamble else []
    for part in parts:
        part = part[2:] if part.startswith(b"\r\n") else part[1:] if part[:1] == b"\n" else part
        out.append((b"\r\n" if out else b"") + line + b"\r\n" + _entity(part, depth + 1))
    out.append(b"\r\n" + line + b"--")
    return b"".join(out) + _seven_bit(to_crlf(epilogue), "epilogue")


def _leaf(body: bytes, mime_type: str, cte: str) -> tuple[bytes, str | None]:
    is_text = mime_type.startswith("text/")
    if is_text and b"\x00" in body:
        raise InputError(
            "a text part contains a NUL byte, which mail cannot carry",
            hint="attach the data as a file instead",
        )
    if cte in ("base64", "quoted-printable"):
        return _seven_bit(to_crlf(body), f"a {cte} body"), None
    if cte not in ("7bit", "8bit", "binary"):
        return _seven_bit(to_crlf(body), f"a {cte} body"), None
    if is_text:
        crlf, lines = body, crlf_lines(body)
        if lines is None:
            crlf = to_crlf(body)
            lines = crlf_lines(crlf)
        # Trailing white space is also re-encoded: relays strip it (RFC 3156 §3 advice).
        if lines is not None and _transport_safe(crlf, lines) and not _trailing_space(lines):
            return crlf, ("7bit" if cte != "7bit" else None)
        lf = crlf.replace(b"\r\n", b"\n")
        encoded = binascii.b2a_qp(lf, quotetabs=False, istext=True, header=False)
        return encoded.replace(b"\n", b"\r\n"), "quoted-printable"
    if cte == "7bit":
        crlf = to_crlf(body)
        if _transport_safe(crlf, crlf_lines(crlf)):
            return crlf, None
    encoded = base64.encodebytes(body).replace(b"\n", b"\r\n")
    return encoded, "base64"


def crlf_lines(data: bytes) -> list[bytes] | None:
    """The lines of ``data`` without their ends if every CR and LF in it is part of a
    CRLF, else None.

    One C-level pass instead of counting CR, LF and CRLF: ``bytes.splitlines`` ends a line
    at CRLF, CR or LF, and the lines plus two octets per line end add up to ``data``
    exactly when every end was a CRLF.
    """
    lines = data.splitlines()
    ends = len(lines) if data.endswith((b"\r", b"\n")) else len(lines) - 1
    if data and len(data) != sum(map(len, lines)) + 2 * ends:
        return None
    return lines


def _transport_safe(crlf: bytes, lines: list[bytes] | None) -> bool:
    """7-bit, no NUL, no line over 998 octets, and CRLF line ends only (``lines`` is
    :func:`crlf_lines` of ``crlf``)."""
    if lines is None or not crlf.isascii() or b"\x00" in crlf:
        return False
    # Hop from line end to line end: one C-level rfind per 1000 octets (a line fits when
    # its LF is at most 999 octets after its first octet).
    position, end = 0, len(crlf)
    while end - position > MAX_LINE:
        cut = crlf.rfind(b"\n", position, position + MAX_LINE + 2)
        if cut < 0:
            return False
        position = cut + 1
    return True


def _trailing_space(lines: list[bytes]) -> bool:
    """White space at the end of a line, the last one included."""
    # C-level: bytes.rstrip hands back the line itself when there is nothing to strip
    return list(map(bytes.rstrip, lines, repeat(b" \t"))) != lines


def _seven_bit(data: bytes, what: str) -> bytes:
    if not data.isascii():
        raise InputError(f"{what} holds 8-bit bytes; only its content could be re-encoded")
    return data


def _set_cte(header: bytes, cte: str) -> bytes:
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
