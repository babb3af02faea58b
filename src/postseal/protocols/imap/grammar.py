"""IMAP command grammar: bytes in, command values out (RFC 3501 §9, RFC 9051 §9).

:func:`parse_command` is incremental. The session reads a line (up to LF) into a buffer
and calls it; the answer is one of four:

- a :class:`~postseal.protocols.imap.commands.Command` — the buffer held one whole command;
- :class:`NeedLiteral` — the last line announced a literal ``{n}`` / ``{n+}`` (RFC 7888)
  whose octets are not there yet: for a synchronizing one the session answers ``+ Ready``,
  then reads ``size`` octets and the next line, appends both and calls again;
- :class:`Incomplete` — the buffer does not end with a line end yet;
- :class:`BadCommand` — anything malformed, with the tag (``*`` if none could be read)
  and a precise message; it is never an exception.

A syntax error before a pending *synchronizing* literal is reported at once (the client
waits for ``+`` and gets ``BAD``); before a *non-synchronizing* one the parser still asks
for the literal, because the client sends it anyway. A literal over ``max_literal`` gets
``BadCommand`` with ``close=True`` when it is non-synchronizing: its octets are already on
the way, and RFC 7888 §4 lets the server close the connection then.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass

from postseal.protocols.imap import grammar_mailbox, grammar_message
from postseal.protocols.imap.commands import (
    Authenticate,
    Capability,
    Check,
    Close,
    Command,
    Enable,
    Id,
    Idle,
    Login,
    Logout,
    Namespace,
    Noop,
    StartTLS,
    Unselect,
)
from postseal.protocols.imap.lexer import Bad, MoreLiteral, Reader

__all__ = [
    "BadCommand",
    "Incomplete",
    "NeedLiteral",
    "ParseResult",
    "is_idle_done",
    "parse_command",
    "parse_sasl_response",
]

_LITERAL_AT_END = re.compile(rb"\{([0-9]+)(\+?)\}\r?\n\Z")
_BASE64 = re.compile(rb"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?\Z")


@dataclass(frozen=True, slots=True)
class NeedLiteral:
    size: int
    non_synchronizing: bool


@dataclass(frozen=True, slots=True)
class Incomplete:
    pass


@dataclass(frozen=True, slots=True)
class BadCommand:
    tag: str  # "*" when no tag could be read
    message: str
    close: bool = False  # the connection cannot continue (non-synchronizing literal too large)


ParseResult = Command | NeedLiteral | Incomplete | BadCommand


def _frame(buffer: bytes) -> Incomplete | NeedLiteral | None:
    """Where the buffer stands, from line ends and literal markers alone: None when it
    holds whole lines and every announced literal."""
    pos = 0
    while True:
        newline = buffer.find(b"\n", pos)
        if newline < 0:
            return Incomplete()
        found = _LITERAL_AT_END.search(buffer, pos, newline + 1)
        if found is None:
            return None
        size = int(found.group(1)) if len(found.group(1)) <= 12 else 2**63
        pos = newline + 1
        if len(buffer) - pos < size:
            return NeedLiteral(size, bool(found.group(2)))
        pos += size


def parse_command(
    buffer: bytes, *, utf8: bool = False, max_literal: int | None = None
) -> ParseResult:
    """One command from ``buffer`` (see the module docstring). ``utf8`` is set once the
    client has enabled UTF8=ACCEPT (RFC 6855): mailbox names and quoted strings are then
    UTF-8 instead of modified UTF-7 / ASCII."""
    frame = _frame(buffer)
    if isinstance(frame, Incomplete):
        return frame
    reader = Reader(buffer, utf8=utf8)
    tag = "*"
    if isinstance(frame, NeedLiteral) and max_literal is not None and frame.size > max_literal:
        with contextlib.suppress(Bad):
            tag = reader.tag()
        return BadCommand(
            tag,
            f"literal too large: {frame.size} octets, the limit is {max_literal}",
            close=frame.non_synchronizing,
        )
    try:
        if reader.at_eol():
            raise Bad("empty command line")
        tag = reader.tag()
        reader.sp("tag")
        command = _command(reader, tag)
        reader.end()
        return command
    except MoreLiteral as more:
        return NeedLiteral(more.size, more.non_synchronizing)
    except Bad as err:
        if isinstance(frame, NeedLiteral) and frame.non_synchronizing:
            return frame
        return BadCommand(tag, str(err))
    except RecursionError:
        return BadCommand(tag, "command nested too deeply")


def _command(reader: Reader, tag: str) -> Command:
    name = reader.keyword("command name")
    if name == "UID":
        reader.sp("UID")
        sub = reader.keyword("command after UID")
        uid_parser = grammar_message.UID_COMMANDS.get(sub)
        if uid_parser is None:
            raise Bad(
                f"unknown command UID {sub} (UID takes COPY, MOVE, FETCH, SEARCH, STORE, EXPUNGE)"
            )
        return uid_parser(reader, tag, True)
    simple = _NO_ARGUMENTS.get(name)
    if simple is not None:
        return simple(tag)
    parser = _COMMANDS.get(name) or grammar_mailbox.COMMANDS.get(name)
    if parser is not None:
        return parser(reader, tag)
    message_parser = grammar_message.COMMANDS.get(name)
    if message_parser is not None:
        return message_parser(reader, tag, False)
    raise Bad(f"unknown command {name}")


def _login(reader: Reader, tag: str) -> Command:
    reader.sp("LOGIN")
    userid = reader.text_astring("user name")
    reader.sp("user name")
    password = reader.text_astring("password")
    return Login(tag, userid, password)


def _authenticate(reader: Reader, tag: str) -> Command:
    reader.sp("AUTHENTICATE")
    mechanism = reader.keyword("SASL mechanism")
    initial = None
    if reader.take(b" "):
        if reader.take(b"="):
            initial = b""
        else:
            initial = _decode_base64(reader.match(re.compile(rb"[A-Za-z0-9+/=]+")) or b"")
    return Authenticate(tag, mechanism, initial)


def _decode_base64(data: bytes) -> bytes:
    if not data or not _BASE64.match(data):
        raise Bad("the SASL response is not valid base64")
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise Bad("the SASL response is not valid base64") from None


def _enable(reader: Reader, tag: str) -> Command:
    capabilities: list[str] = []
    while reader.take(b" "):
        capabilities.append(reader.keyword("capability"))
    if not capabilities:
        raise Bad("ENABLE needs at least one capability")
    return Enable(tag, tuple(capabilities))


def _id(reader: Reader, tag: str) -> Command:
    reader.sp("ID")
    if reader.peek(3).upper() == b"NIL":
        reader.pos += 3
        return Id(tag, None)

    def pair() -> tuple[str, str | None]:
        key = reader.string("ID field name").decode("utf-8", "replace")
        reader.sp("ID field name")
        value = reader.nstring("ID field value")
        return key, None if value is None else value.decode("utf-8", "replace")

    pairs = reader.paren_list(pair, "ID parameter list")
    if len(pairs) > 30:
        raise Bad("ID takes at most 30 field-value pairs (RFC 2971 §3.3)")
    return Id(tag, tuple(pairs))


_NO_ARGUMENTS: dict[str, Callable[[str], Command]] = {
    "CAPABILITY": Capability,
    "NOOP": Noop,
    "LOGOUT": Logout,
    "STARTTLS": StartTLS,
    "CHECK": Check,
    "CLOSE": Close,
    "UNSELECT": Unselect,
    "NAMESPACE": Namespace,
    "IDLE": Idle,
}
_COMMANDS: dict[str, Callable[[Reader, str], Command]] = {
    "LOGIN": _login,
    "AUTHENTICATE": _authenticate,
    "ENABLE": _enable,
    "ID": _id,
}


def is_idle_done(line: bytes) -> bool:
    """Whether a line received during IDLE is ``DONE`` (RFC 2177 §3; any case)."""
    return line.rstrip(b"\r\n").upper() == b"DONE"


def parse_sasl_response(line: bytes) -> bytes | BadCommand | None:
    """A client's answer to an AUTHENTICATE challenge (RFC 3501 §6.2.2): the decoded
    octets, None when the client cancels with ``*``, BadCommand if not base64."""
    data = line.rstrip(b"\r\n")
    if data == b"*":
        return None
    if data == b"":
        return b""
    try:
        return _decode_base64(data)
    except Bad as err:
        return BadCommand("*", str(err))
