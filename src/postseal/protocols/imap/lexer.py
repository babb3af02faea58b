"""The tokens of IMAP commands (RFC 3501 §9, RFC 9051 §9, RFC 7888 LITERAL+).

A :class:`Reader` walks one command in a buffer that holds its lines and the literals
between them. It raises :class:`Bad` with a precise message on the first syntax error,
and :class:`MoreLiteral` when a literal's octets are not yet in the buffer (the grammar
turns those into ``BadCommand`` and ``NeedLiteral``). Nothing here does I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone
from typing import TypeVar

from postseal.protocols.imap import utf7
from postseal.protocols.imap.sets import SequenceSet

__all__ = ["Bad", "MoreLiteral", "Reader"]

T = TypeVar("T")

# ATOM-CHAR: any CHAR except atom-specials "(" ")" "{" SP CTL list-wildcards quoted-specials
# resp-specials (RFC 3501 §9). ASTRING-CHAR adds "]"; list-char adds "%" "*" "]".
_ATOM = re.compile(rb"[^\x00-\x20\x7f-\xff(){%*\"\\\]]+")
_ASTRING = re.compile(rb"[^\x00-\x20\x7f-\xff(){%*\"\\]+")
_LIST_CHARS = re.compile(rb"[^\x00-\x20\x7f-\xff(){\"\\]+")
_TAG = re.compile(rb"[^\x00-\x20\x7f-\xff(){%*\"\\+]+")
_NUMBER = re.compile(rb"[0-9]+")
_SEQ = re.compile(rb"[0-9*:,$]+")
_LITERAL = re.compile(rb"(~?)\{([0-9]+)(\+?)\}\r?\n")
_UTF8_ATOM = re.compile(rb"[^\x00-\x20\x7f(){%*\"\\\]]+")
_UTF8_ASTRING = re.compile(rb"[^\x00-\x20\x7f(){%*\"\\]+")
_UTF8_LIST_CHARS = re.compile(rb"[^\x00-\x20\x7f(){\"\\]+")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DATE_TOKEN = re.compile(rb"[0-9]{1,2}-[A-Za-z]{3}-[0-9]{4}")
_DATE = re.compile(r"([0-9]{1,2})-([A-Za-z]{3})-([0-9]{4})\Z")
_DATE_TIME = re.compile(
    r"([ 0-9][0-9])-([A-Za-z]{3})-([0-9]{4}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) ([+-])([0-9]{2})([0-9]{2})\Z"
)
MAX_NUMBER64 = 2**63 - 1


class Bad(Exception):
    """A syntax error; ``str()`` is the message for the BAD response."""


class MoreLiteral(Exception):
    """A literal of ``size`` octets was announced and the buffer ends before it."""

    def __init__(self, size: int, *, non_synchronizing: bool) -> None:
        super().__init__(size)
        self.size = size
        self.non_synchronizing = non_synchronizing


class Reader:
    """A cursor over one command: its lines (CRLF or LF) and literal octets."""

    def __init__(self, data: bytes, *, utf8: bool = False) -> None:
        self.data = data
        self.pos = 0
        self.utf8 = utf8

    # -- positions ------------------------------------------------------------------
    def peek(self, size: int = 1) -> bytes:
        return self.data[self.pos : self.pos + size]

    def at_eol(self) -> bool:
        return self.peek() in (b"\r", b"\n", b"")

    def at(self, text: bytes) -> bool:
        return self.peek(len(text)) == text

    def take(self, text: bytes) -> bool:
        if self.at(text):
            self.pos += len(text)
            return True
        return False

    def expect(self, text: bytes, what: str) -> None:
        if not self.take(text):
            raise Bad(f"expected {what}{self._found()}")

    def sp(self, after: str = "") -> None:
        if not self.take(b" "):
            raise Bad(f"expected SP{' after ' + after if after else ''}{self._found()}")

    def end(self) -> None:
        """The command's final line end; nothing may follow it."""
        if self.take(b"\r\n") or self.take(b"\n"):
            if self.pos == len(self.data):
                return
            raise Bad("data after the end of the command")
        if self.take(b" "):
            raise Bad(f"unexpected argument{self._found()}")
        raise Bad(f"expected end of command{self._found()}")

    def _found(self) -> str:
        if self.at_eol():
            return " but the line ended"
        token = re.match(rb"[^ \r\n]{1,40}", self.data[self.pos :])
        shown = token.group(0) if token else self.peek()
        return f" at {shown.decode('utf-8', 'replace')!r}"

    def match(self, pattern: re.Pattern[bytes]) -> bytes | None:
        found = pattern.match(self.data, self.pos)
        if found is None:
            return None
        self.pos = found.end()
        return found.group(0)

    # -- tokens ---------------------------------------------------------------------
    def tag(self) -> str:
        found = self.match(_TAG)
        if found is None:
            raise Bad("missing or invalid tag")
        return found.decode("ascii")

    def atom(self, what: str = "atom") -> str:
        found = self.match(_UTF8_ATOM if self.utf8 else _ATOM)
        if found is None:
            raise Bad(f"expected {what}{self._found()}")
        return found.decode("utf-8", "replace")

    def keyword(self, what: str) -> str:
        """An atom, upper-cased (command names, item names, options)."""
        return self.atom(what).upper()

    def number(self, what: str = "number", *, nonzero: bool = False, limit: int = 2**32 - 1) -> int:
        found = self.match(_NUMBER)
        if found is None:
            raise Bad(f"expected {what}{self._found()}")
        value = int(found)
        if value > limit or (nonzero and value == 0):
            raise Bad(f"{what} {found.decode()} is out of range")
        return value

    def number64(self, what: str) -> int:
        return self.number(what, limit=MAX_NUMBER64)

    def literal(self) -> bytes:
        found = _LITERAL.match(self.data, self.pos)
        if found is None:
            raise Bad(f"invalid literal{self._found()}")
        size = int(found.group(2))
        start = found.end()
        if len(self.data) - start < size:
            raise MoreLiteral(size, non_synchronizing=bool(found.group(3)))
        self.pos = start + size
        return self.data[start : start + size]

    def quoted(self) -> bytes:
        self.expect(b'"', "quoted string")
        out = bytearray()
        while True:
            char = self.peek()
            if char in (b"", b"\r", b"\n"):
                raise Bad("unterminated quoted string")
            self.pos += 1
            if char == b'"':
                return bytes(out)
            if char == b"\\":
                escaped = self.peek()
                if escaped not in (b'"', b"\\"):
                    raise Bad('invalid escape in quoted string (only \\" and \\\\ allowed)')
                self.pos += 1
                char = escaped
            elif char == b"\x00":
                # 8-bit octets are accepted (clients send UTF-8 search strings quoted);
                # mailbox names still refuse them unless UTF8=ACCEPT (modified UTF-7).
                raise Bad("NUL character in a quoted string")
            out += char

    def string(self, what: str = "string") -> bytes:
        if self.at(b'"'):
            return self.quoted()
        if self.at(b"{") or self.at(b"~{"):
            return self.literal()
        raise Bad(f"expected {what}{self._found()}")

    def astring(self, what: str = "astring") -> bytes:
        if self.at(b'"') or self.at(b"{"):
            return self.string(what)
        found = self.match(_UTF8_ASTRING if self.utf8 else _ASTRING)
        if found is None:
            raise Bad(f"expected {what}{self._found()}")
        return found

    def text_astring(self, what: str) -> str:
        try:
            return self.astring(what).decode("utf-8")
        except UnicodeDecodeError:
            raise Bad(f"{what} is not valid UTF-8") from None

    def nstring(self, what: str = "string") -> bytes | None:
        if self.peek(3).upper() == b"NIL" and not _ATOM.match(self.data, self.pos + 3):
            self.pos += 3
            return None
        return self.string(what)

    def mailbox(self, what: str = "mailbox name", *, wildcards: bool = False) -> str:
        if wildcards and not (self.at(b'"') or self.at(b"{")):
            found = self.match(_UTF8_LIST_CHARS if self.utf8 else _LIST_CHARS)
            if found is None:
                raise Bad(f"expected {what}{self._found()}")
            raw = found
        else:
            raw = self.astring(what)
        return self.decode_mailbox(raw, what)

    def decode_mailbox(self, raw: bytes, what: str) -> str:
        if raw.upper() == b"INBOX":
            return "INBOX"
        try:
            text = raw.decode("utf-8") if self.utf8 else utf7.decode(raw.decode("ascii"))
        except (UnicodeDecodeError, ValueError) as err:
            raise Bad(f"{what} {raw.decode('utf-8', 'replace')!r} is not valid: {err}") from None
        if any(ord(c) < 0x20 or c == "\x7f" for c in text):
            raise Bad(f"{what} contains a control character")
        return text

    def flag(self) -> str:
        if self.take(b"\\"):
            if self.take(b"*"):
                return "\\*"
            return "\\" + self.atom("flag name")
        return self.atom("flag")

    def paren_list(self, item: Callable[[], T], what: str, *, empty: bool = True) -> list[T]:
        self.expect(b"(", f"'(' to open {what}")
        items: list[T] = []
        if self.take(b")"):
            if not empty:
                raise Bad(f"empty {what}")
            return items
        while True:
            items.append(item())
            if self.take(b")"):
                return items
            self.sp(f"an item of {what}")

    def flag_list(self) -> list[str]:
        return self.paren_list(self.flag, "flag list")

    def sequence_set(self) -> SequenceSet:
        found = self.match(_SEQ)
        text = (found or b"").decode("ascii")
        try:
            return SequenceSet.parse(text)
        except ValueError:
            if not text:
                raise Bad(f"expected sequence set{self._found()}") from None
            raise Bad(f"invalid sequence set '{text}'") from None

    def date(self) -> date:
        quoted = self.at(b'"')
        raw = self.quoted() if quoted else self.match(_DATE_TOKEN) or b""
        found = _DATE.match(raw.decode("ascii", "replace"))
        try:
            if found is None:
                raise ValueError
            month = _MONTHS.index(found.group(2).lower()) + 1
            return date(int(found.group(3)), month, int(found.group(1)))
        except ValueError:
            raise Bad(
                f"invalid date {raw.decode('ascii', 'replace')!r} (e.g. 1-Feb-1994)"
            ) from None

    def date_time(self) -> datetime:
        raw = self.quoted().decode("ascii", "replace")
        found = _DATE_TIME.match(raw)
        try:
            if found is None:
                raise ValueError
            day, month, year, hh, mm, ss, sign, zh, zm = found.groups()
            offset = timedelta(hours=int(zh), minutes=int(zm)) * (-1 if sign == "-" else 1)
            return datetime(
                int(year),
                _MONTHS.index(month.lower()) + 1,
                int(day.strip()),
                int(hh),
                int(mm),
                int(ss),
                tzinfo=timezone(offset),
            )
        except ValueError:
            raise Bad(f'invalid date-time {raw!r} (e.g. "17-Jul-1996 02:44:25 -0700")') from None
