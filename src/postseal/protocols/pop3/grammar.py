"""POP3 wire format, pure: command lines in, reply bytes out (RFC 1939, RFC 2449,
RFC 5034). No I/O and no state: :mod:`.session` drives it, the tests fuzz it.

- A command is a keyword of 3-4 letters, case-insensitive, then arguments separated by
  single spaces, each at most 40 octets (RFC 1939 §3). ``PASS`` takes the rest of the
  line as the password (spaces allowed, as every common server does); ``AUTH`` takes a
  mechanism and an optional initial response (RFC 5034 §4).
- A reply is one line, ``+OK`` or ``-ERR`` with an optional response code in brackets
  (RFC 2449 §8: ``[AUTH]``, ``[SYS/TEMP]`` …), at most 512 octets with CRLF.
- Multi-line data is CRLF-terminated lines with a leading ``.`` doubled, then ``.``
  alone (RFC 1939 §3).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Final

from postseal.errors import InputError

__all__ = [
    "MAX_ARGUMENT",
    "MAX_REPLY",
    "Command",
    "decode_plain",
    "err",
    "multiline",
    "ok",
    "parse_command",
    "parse_number",
    "top",
]

MAX_ARGUMENT: Final = 40
MAX_REPLY: Final = 512
_ARITY: Final = {
    "CAPA": (0, 0), "STLS": (0, 0), "USER": (1, 1), "AUTH": (0, 2), "APOP": (2, 2),
    "STAT": (0, 0), "LIST": (0, 1), "RETR": (1, 1), "DELE": (1, 1), "NOOP": (0, 0),
    "RSET": (0, 0), "QUIT": (0, 0), "TOP": (2, 2), "UIDL": (0, 1),
}  # fmt: skip
_KEYWORD = re.compile(r"[A-Za-z]{3,4}\Z")
_LINE_END = re.compile(rb"\r?\n")
_DOT = re.compile(rb"^\.", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Command:
    verb: str  # upper case
    args: tuple[str, ...] = ()


def parse_command(line: bytes) -> Command:
    """One command line (with or without its CRLF); InputError says what is wrong."""
    try:
        text = line.rstrip(b"\r\n").decode("ascii")
    except UnicodeDecodeError:
        raise InputError("commands are ASCII text") from None
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        raise InputError("control characters are not allowed in a command")
    keyword, _, rest = text.partition(" ")
    if not _KEYWORD.match(keyword):
        raise InputError("expected a command keyword of 3 or 4 letters")
    verb = keyword.upper()
    if verb == "PASS":
        if not rest:
            raise InputError("PASS needs a password")
        return Command(verb, (rest,))
    arity = _ARITY.get(verb)
    if arity is None:
        raise InputError(f"unknown command {verb}")
    args = tuple(rest.split(" ")) if rest else ()
    if any(not a for a in args):
        raise InputError("arguments are separated by single spaces")
    if not arity[0] <= len(args) <= arity[1]:
        raise InputError(f"wrong number of arguments for {verb}")
    if verb != "AUTH" and any(len(a) > MAX_ARGUMENT for a in args):
        raise InputError(f"an argument is longer than {MAX_ARGUMENT} octets")
    return Command(verb, args)


def parse_number(arg: str, *, zero: bool = False) -> int:
    """A message number (1-based) or, with ``zero``, a line count (RFC 1939 §7 TOP)."""
    if not arg.isdigit() or len(arg) > 10:
        raise InputError(f"{arg!r} is not a number")
    value = int(arg)
    if value == 0 and not zero:
        raise InputError("messages are numbered from 1")
    return value


def _line(text: str) -> str:
    """One reply line: no CR/LF, cut to fit :data:`MAX_REPLY`."""
    flat = " ".join(text.split())
    return flat[: MAX_REPLY - 8]


def ok(text: str = "") -> bytes:
    return _fit(f"+OK {_line(text)}")


def err(text: str, *, code: str | None = None) -> bytes:
    prefix = f"[{code}] " if code else ""
    return _fit(f"-ERR {prefix}{_line(text)}")


def _fit(line: str) -> bytes:
    """The reply line encoded, cut on a character boundary to :data:`MAX_REPLY` octets
    including its CRLF (RFC 2449 §4: a response line is at most 512 octets)."""
    encoded = line.rstrip().encode("utf-8", "replace")[: MAX_REPLY - 2]
    return encoded.decode("utf-8", "ignore").rstrip().encode("utf-8") + b"\r\n"


def multiline(data: bytes) -> bytes:
    """``data`` as POP3 multi-line data: CRLF line ends, a final CRLF, leading dots
    doubled, and the terminating ``.`` line (RFC 1939 §3)."""
    wire = _LINE_END.sub(b"\r\n", data)
    if wire and not wire.endswith(b"\r\n"):
        wire += b"\r\n"
    return _DOT.sub(b"..", wire) + b".\r\n"


def top(data: bytes, lines: int) -> bytes:
    """The header, the blank line and the first ``lines`` lines of the body
    (RFC 1939 §7 TOP); the whole message when it has fewer."""
    found = re.search(rb"\r?\n\r?\n", data)
    if found is None:
        return data
    end = found.end()
    for _ in range(lines):
        newline = data.find(b"\n", end)
        if newline < 0:
            return data
        end = newline + 1
    return data[:end]


def decode_plain(response: str) -> tuple[str, str]:
    """User and password of a SASL PLAIN response (RFC 4616 §2); the authorization
    identity must be empty or the user (no proxy logins)."""
    try:
        raw = base64.b64decode(response.encode("ascii"), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        raise InputError("the PLAIN response is not base64 of UTF-8 text") from None
    parts = raw.split("\0")
    if len(parts) != 3 or not parts[1] or not parts[2]:
        raise InputError("the PLAIN response must be authzid NUL user NUL password")
    authzid, user, password = parts
    if authzid and authzid != user:
        raise InputError("logging in as another user is not supported")
    return user, password
