"""The arguments of EHLO, MAIL and RCPT: text in, command values out. Pure, no I/O.

Paths follow RFC 5321 §4.1.2 (with RFC 6531 §3.3 UTF-8 when SMTPUTF8 is used) and the
length limits of §4.5.3.1; parameters follow the ESMTP syntax of RFC 5321 §4.1.2
(``esmtp-param``). Recognised parameters: SIZE (RFC 1870), BODY (RFC 6152), SMTPUTF8
(RFC 6531 §3.4), RET/ENVID/NOTIFY/ORCPT (RFC 3461 §4), AUTH (RFC 4954 §5, accepted and
ignored: we never trust another server's claim about who authenticated).

Addresses are validated for *syntax* only; whether postseal accepts them as users is the
services' decision. Every failure is an :class:`~postseal.errors.InputError` whose message
the reply may repeat: no control character ever reaches a message (header injection).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from postseal.errors import AddressError, InputError

__all__ = [
    "MailCommand",
    "RcptCommand",
    "UnsupportedParameterError",
    "parse_helo",
    "parse_mail",
    "parse_rcpt",
]


class UnsupportedParameterError(InputError):
    """A MAIL/RCPT parameter we did not advertise (RFC 5321 §4.1.1.11: reply 555)."""


@dataclass(frozen=True, slots=True)
class MailCommand:
    address: str  # "" for the null reverse-path <>
    size: int | None = None
    body_8bit: bool = False
    smtputf8: bool = False
    ret: str | None = None  # RFC 3461 §4.3: FULL or HDRS
    envid: str | None = None  # RFC 3461 §4.4, xtext-decoded


@dataclass(frozen=True, slots=True)
class RcptCommand:
    address: str
    notify: frozenset[str] | None = None  # RFC 3461 §4.1: NEVER, or SUCCESS/FAILURE/DELAY
    orcpt: str | None = None  # RFC 3461 §4.2: "addr-type;address", xtext-decoded


# RFC 5321 §4.1.2 atext and qtextSMTP, widened by RFC 6531 §3.3 to UTF-8 (non-ASCII is
# only reachable with SMTPUTF8, checked before these patterns run).
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u0080-\U0010ffff]"
_DOT_STRING = re.compile(rf"{_ATEXT}+(?:\.{_ATEXT}+)*\Z")
_QUOTED = re.compile(r'"(?:[\x20\x21\x23-\x5b\x5d-\x7e\u0080-\U0010ffff]|\\[\x20-\x7e])*"\Z')
_LDH_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\Z")
_LITERAL = re.compile(r"\[[\x21-\x5a\x5e-\x7e]+\]\Z")
_KEYWORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*\Z")
_XTEXT = re.compile(r"(?:[\x21-\x2a\x2c-\x3c\x3e-\x7e]|\+[0-9A-F]{2})*\Z")
_SIZE_VALUE = re.compile(r"[0-9]{1,20}\Z")
_ROUTE = re.compile(r"\A@[^:,]+(?:,@[^:,]+)*:")


def parse_helo(arg: str | None) -> str:
    """The client's name from EHLO/HELO (RFC 5321 §4.1.1.1). It ends up in a Received:
    header, so it must be one token of printable text, at most 255 octets."""
    token = (arg or "").strip()
    if (
        not token
        or " " in token
        or _CONTROL.search(token)
        or any(0xDC80 <= ord(c) <= 0xDCFF for c in token)
        or len(token.encode()) > 255
    ):
        raise InputError("syntax: EHLO domain (or address literal)")
    return token


def parse_mail(arg: str | None, *, extended: bool) -> MailCommand:
    """``MAIL FROM:<path> [params]`` (RFC 5321 §4.1.1.2); ``arg`` is all after ``MAIL``."""
    path, params = _split(arg, "FROM:", "MAIL FROM:<address>")
    if params and not extended:
        raise InputError("MAIL parameters need EHLO (RFC 5321 §4.1.1.11)")
    values = _parameters(params, {"SIZE", "BODY", "SMTPUTF8", "RET", "ENVID", "AUTH"})
    smtputf8 = _flag(values, "SMTPUTF8")
    size = _size(values.get("SIZE"))
    body = (values.get("BODY") or "7BIT").upper()
    if body not in {"7BIT", "8BITMIME"}:
        raise UnsupportedParameterError(f"BODY={body} is not supported, use 7BIT or 8BITMIME")
    ret = values.get("RET")
    if ret is not None and ret.upper() not in {"FULL", "HDRS"}:
        raise InputError("RET must be FULL or HDRS (RFC 3461 §4.3)")
    envid = values.get("ENVID")
    if envid is not None:
        envid = _xtext(envid, "ENVID", limit=100)
    if "AUTH" in values:
        _xtext(values["AUTH"] or "", "AUTH", limit=500)
    address = "" if path == "<>" else _path(path, smtputf8=smtputf8, stage="sender")
    return MailCommand(
        address=address,
        size=size,
        body_8bit=body == "8BITMIME",
        smtputf8=smtputf8,
        ret=ret.upper() if ret else None,
        envid=envid,
    )


def parse_rcpt(arg: str | None, *, extended: bool, smtputf8: bool) -> RcptCommand:
    """``RCPT TO:<path> [params]`` (RFC 5321 §4.1.1.3). ``<Postmaster>`` without a domain
    is accepted as the RFC requires and passed on as ``postmaster``."""
    path, params = _split(arg, "TO:", "RCPT TO:<address>")
    if params and not extended:
        raise InputError("RCPT parameters need EHLO (RFC 5321 §4.1.1.11)")
    values = _parameters(params, {"NOTIFY", "ORCPT"})
    notify: frozenset[str] | None = None
    if "NOTIFY" in values:
        notify = frozenset((values["NOTIFY"] or "").upper().split(","))
        if not notify <= {"SUCCESS", "FAILURE", "DELAY"} and notify != {"NEVER"}:
            raise InputError("NOTIFY must be NEVER or SUCCESS,FAILURE,DELAY (RFC 3461 §4.1)")
    orcpt = values.get("ORCPT")
    if orcpt is not None:
        addr_type, semicolon, _ = orcpt.partition(";")
        if not semicolon or not _KEYWORD.match(addr_type):
            raise InputError("ORCPT must be addr-type;xtext (RFC 3461 §4.2)")
        orcpt = _xtext(orcpt, "ORCPT", limit=500)
    if path.lower() == "<postmaster>":
        return RcptCommand(address="postmaster", notify=notify, orcpt=orcpt)
    address = _path(path, smtputf8=smtputf8, stage="recipient")
    return RcptCommand(address=address, notify=notify, orcpt=orcpt)


def _split(arg: str | None, keyword: str, syntax: str) -> tuple[str, list[str]]:
    if arg is None or arg[: len(keyword)].upper() != keyword:
        raise InputError(f"syntax: {syntax}")
    rest = arg[len(keyword) :].lstrip(" ")  # a space after the colon is common, and harmless
    if _CONTROL.search(rest):
        raise InputError("control characters are not allowed in a command")
    if not rest.startswith("<") or ">" not in rest:
        raise InputError(f"syntax: {syntax} (the address needs angle brackets)")
    close = rest.index(">") if not rest.startswith('<"') else _quoted_end(rest)
    path, params = rest[: close + 1], rest[close + 1 :]
    if params and not params.startswith(" "):
        raise InputError(f"syntax: {syntax}")
    return path, params.split()


def _quoted_end(rest: str) -> int:
    match = re.match(r'<"(?:[^"\\]|\\.)*"[^>]*>', rest)
    if match is None:
        raise InputError("unterminated quoted local part")
    return match.end() - 1


def _path(path: str, *, smtputf8: bool, stage: str) -> str:
    inner = _ROUTE.sub("", path[1:-1], count=1)  # RFC 5321 §4.1.2: source routes are ignored
    if len(path.encode("utf-8", "surrogateescape")) > 256:
        raise AddressError(f"the {stage} path is longer than 256 octets (RFC 5321 §4.5.3.1.3)")
    if not inner.isascii() and not smtputf8:
        raise AddressError(f"a non-ASCII {stage} address needs the SMTPUTF8 parameter (RFC 6531)")
    if any(0xDC80 <= ord(c) <= 0xDCFF for c in inner):
        raise AddressError(f"the {stage} address is not valid UTF-8")
    local, at, domain = inner.rpartition("@")
    if not at or not local or not domain:
        raise AddressError(f"{inner!r} is not a valid {stage} address: expected local@domain")
    if not (_DOT_STRING.match(local) or _QUOTED.match(local)):
        raise AddressError(f"{inner!r} is not a valid {stage} address (RFC 5321 §4.1.2)")
    if len(local.encode()) > 64:
        raise AddressError(f"the local part of {inner!r} is longer than 64 octets")
    if not _domain_ok(domain):
        raise AddressError(f"{inner!r} has an invalid domain (RFC 5321 §4.1.2)")
    return inner


def _domain_ok(domain: str) -> bool:
    if domain.startswith("["):
        return bool(_LITERAL.match(domain))
    if len(domain.encode()) > 255:
        return False
    # U-labels (RFC 6531 §3.3) are checked for shape only; IDNA is the services' business.
    labels = domain.split(".")
    return all(
        _LDH_LABEL.match(label) if label.isascii() else 0 < len(label.encode()) <= 63
        for label in labels
    )


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _parameters(params: list[str], known: set[str]) -> dict[str, str | None]:
    values: dict[str, str | None] = {}
    for param in params:
        keyword, equals, value = param.partition("=")
        if not _KEYWORD.match(keyword) or (equals and not value) or "=" in value:
            raise InputError(f"malformed parameter {param[:40]!r} (RFC 5321 §4.1.2)")
        name = keyword.upper()
        if name not in known:
            raise UnsupportedParameterError(f"parameter {name} is not supported here")
        if name in values:
            raise InputError(f"parameter {name} is given twice")
        values[name] = value if equals else None
    return values


def _flag(values: dict[str, str | None], name: str) -> bool:
    if name not in values:
        return False
    if values[name] is not None:
        raise InputError(f"{name} takes no value")
    return True


def _size(value: str | None) -> int | None:
    if value is None:
        return None
    if not _SIZE_VALUE.match(value):
        raise InputError("SIZE must be a number of octets (RFC 1870)")
    return int(value)


def _xtext(value: str, name: str, *, limit: int) -> str:
    """RFC 3461 §4: xtext, ``+XX`` escapes decoded; the decoded text must be printable."""
    if len(value) > limit or not _XTEXT.match(value):
        raise InputError(f"{name} must be xtext of at most {limit} characters (RFC 3461 §4)")
    decoded = re.sub(r"\+([0-9A-F]{2})", lambda m: chr(int(m.group(1), 16)), value)
    if _CONTROL.search(decoded):
        raise InputError(f"{name} decodes to control characters")
    return decoded
