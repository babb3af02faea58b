"""Trace and annotation header fields that postseal adds to mail it accepts. Pure.

- :func:`received_field` — the ``Received:`` trace field of RFC 5321 §4.4 (grammar in
  §4.4 ``Time-stamp-line``), with the ``with`` protocol names of RFC 3848 (``ESMTP``,
  ``ESMTPS`` after STARTTLS, ``ESMTPSA`` after STARTTLS and AUTH, …).
- :func:`authentication_results` — ``Authentication-Results:`` of RFC 8601 §2.2, for the
  ``smime`` method of RFC 7281 (results: RFC 8601 §2.7 and RFC 7281 §3).
- :func:`prepend_fields` — puts such fields at the top of the outer header block.

Every field is ASCII, ends in CRLF and is folded (RFC 5322 §2.2.3) at white space so no
line is longer than 78 characters when a break is possible. Folding inserts CRLF before
an existing space, so unfolding gives back the single-line value exactly. Values that are
not RFC 2045 tokens (or, for properties, addresses) become quoted strings (RFC 8601 §2.2,
RFC 5322 §3.2.4); control characters and non-ASCII text from peers are replaced, so a
field can never end early or inject another one.

An S/MIME signature covers only the signed entity, never the outer header block
(RFC 8551 §3.5), so fields added on top by :func:`prepend_fields` leave every signature
intact; the rest of the message is returned byte for byte.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from email.utils import format_datetime

__all__ = [
    "AUTHRES_RESULTS",
    "PROTOCOLS",
    "authentication_results",
    "prepend_fields",
    "received_field",
]

MAX_LINE = 78
PROTOCOLS = ("SMTP", "ESMTP", "ESMTPA", "ESMTPS", "ESMTPSA", "UTF8SMTP", "UTF8SMTPS", "UTF8SMTPA")
"""``with`` values: RFC 5321 §4.4 (SMTP, ESMTP), RFC 3848 §1, RFC 6531 §3.7.3 (UTF8*)."""
AUTHRES_RESULTS = ("pass", "fail", "neutral", "none", "policy", "temperror", "permerror")
"""Results of the ``smime`` method (RFC 7281 §3, RFC 8601 §2.7.1)."""
_PTYPES = ("smtp", "header", "body", "policy")  # RFC 8601 §2.3 and §2.7
_TOKEN = re.compile(r"[!#$%&'*+.^_`{|}~0-9A-Za-z-]+\Z")  # RFC 2045 §5.1 token
_KEYWORD = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\Z")  # RFC 5321 Keyword
_DOT_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_ADDRESS = re.compile(rf"(?:{_DOT_ATOM})?@{_DOT_ATOM}\Z")  # RFC 8601 §2.2 pvalue
_DOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?\Z")  # "_": internal hosts
_UNSAFE = re.compile(r"[^\x20-\x7e]")
_FIELD = re.compile(rb"[!-9;-~]+:(?:[^\r\n]|\r\n[ \t])*\r\n\Z")


def received_field(
    *,
    from_helo: str,
    client_address: str,
    by_host: str,
    protocol: str,
    queue_id: str,
    for_address: str | None,
    at: datetime,
    tls: str | None = None,
) -> bytes:
    """The ``Received:`` field an SMTP server prepends (RFC 5321 §4.4)::

        Received: from HELO ([192.0.2.1]) (TLS) by mx.example.org with ESMTPS
         id 01J…; for <bob@example.org>; Thu, 15 Jan 2026 09:30:00 +0000

    ``from_helo`` is what the client said in EHLO/HELO (untrusted: non-token text is
    replaced); ``client_address`` the IP it connected from, written as an address literal
    (RFC 5321 §4.1.3); ``tls`` a short description such as ``"TLSv1.3
    TLS_AES_256_GCM_SHA384"`` placed in a comment. ``for`` is only written for a single
    recipient (RFC 5321 §7.6 warns against disclosing the others).
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"{protocol!r} is not an RFC 3848 protocol name ({', '.join(PROTOCOLS)})")
    if not _DOMAIN.match(by_host):
        raise ValueError(f"{by_host!r} is not a host name for the 'by' clause")
    if not _TOKEN.match(queue_id):
        raise ValueError(f"{queue_id!r} is not an atom usable as the 'id' clause")
    if at.tzinfo is None:
        raise ValueError("the time of a Received: field must be timezone-aware")
    helo = _clean(from_helo).replace(" ", "") or "unknown"
    if not _DOMAIN.match(helo) and not helo.startswith("["):
        helo = _quote(helo)
    words = ["from", helo, f"({_address_literal(client_address)})"]
    if tls:
        words += _comment(f"using {tls}")
    words += ["by", by_host, "with", protocol, "id", queue_id]
    if for_address is not None:
        words += ["for", f"<{_clean(for_address).replace(' ', '')}>"]
    words[-1] += ";"
    words += format_datetime(at).split(" ")
    return _fold("Received", words)


def authentication_results(
    *,
    authserv_id: str,
    results: Sequence[tuple[str, str, str | None, Mapping[str, str]]],
) -> bytes:
    """``Authentication-Results:`` (RFC 8601 §2.2) for the given ``results``, each
    ``(method, result, reason, properties)``; ``properties`` maps ``"ptype.property"``
    (``"header.from"``, ``"body.smime-identifier"``, RFC 7281 §4) to its value.

    No results gives ``authserv-id; none`` (RFC 8601 §2.2 ``no-result``).
    """
    if not _DOMAIN.match(authserv_id):
        raise ValueError(f"{authserv_id!r} is not an authserv-id (the server's host name)")
    if not results:
        return _fold("Authentication-Results", [f"{authserv_id};", "none"])
    words = [authserv_id]
    for method, result, reason, properties in results:
        if not _KEYWORD.match(method):
            raise ValueError(f"{method!r} is not an authentication method keyword")
        if method == "smime" and result not in AUTHRES_RESULTS:
            raise ValueError(f"{result!r} is not an smime result ({', '.join(AUTHRES_RESULTS)})")
        if not _KEYWORD.match(result):
            raise ValueError(f"{result!r} is not a result keyword")
        words[-1] += ";"
        words.append(f"{method}={result}")
        if reason:
            words += _split_value("reason=", _quote(_clean(reason)))
        for name, value in properties.items():
            ptype, _, prop = name.partition(".")
            if ptype not in _PTYPES or not _KEYWORD.match(prop):
                raise ValueError(f"{name!r} is not a property (ptype.property, RFC 8601 §2.2)")
            shown = _clean(value)
            if not (_TOKEN.match(shown) or _ADDRESS.match(shown)):
                shown = _quote(shown)
            words += _split_value(f"{name}=", shown)
    return _fold("Authentication-Results", words)


def prepend_fields(message: bytes, fields: Sequence[bytes]) -> bytes:
    """``message`` with ``fields`` added before its first header field, in the given
    order. Each field must be one complete, CRLF-terminated field (as built here); the
    message itself is not parsed or changed, so a signature over any part of it holds."""
    for field in fields:
        if not _FIELD.match(field):
            raise ValueError(f"not a complete, CRLF-terminated header field: {field[:60]!r}")
    return b"".join(fields) + message


def _address_literal(address: str) -> str:
    try:
        ip = ipaddress.ip_address(address.strip("[]").removeprefix("IPv6:"))
    except ValueError:
        return _clean(address).replace(" ", "") or "unknown"
    return f"[IPv6:{ip.compressed}]" if ip.version == 6 else f"[{ip}]"


def _clean(text: str) -> str:
    """One line of printable ASCII: controls, CR/LF and non-ASCII become ``?``."""
    return " ".join(_UNSAFE.sub("?", text).split())


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _comment(text: str) -> list[str]:
    inner = _clean(text).replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return f"({inner})".split(" ")


def _split_value(prefix: str, value: str) -> list[str]:
    """``prefix`` + value as words that may be folded at the value's own spaces: inside
    a quoted string a fold is invisible (RFC 5322 §3.2.4), the space stays."""
    parts = value.split(" ")
    parts[0] = prefix + parts[0]
    return parts


def _fold(name: str, words: Sequence[str]) -> bytes:
    lines: list[str] = []
    line = f"{name}:"
    for word in words:
        if len(line) + 1 + len(word) > MAX_LINE and line.strip():
            lines.append(line)
            line = ""
        line += " " + word
    lines.append(line)
    return ("\r\n".join(lines) + "\r\n").encode("ascii")
