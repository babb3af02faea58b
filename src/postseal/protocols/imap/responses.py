"""IMAP responses that serialise themselves, byte-exact (RFC 3501 §7, RFC 9051 §7).

Each response is a frozen value with ``to_bytes(utf8=False)``; ``utf8`` is whether the
client enabled UTF8=ACCEPT (RFC 6855): mailbox names are then UTF-8, otherwise modified
UTF-7. Status responses carry an optional :class:`Code` (RFC 5530 and the extensions'
codes); the untagged data responses live in :mod:`postseal.protocols.imap.data`.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass

from postseal.protocols.imap import utf7, values
from postseal.protocols.imap.sets import SequenceSet

__all__ = ["Code", "Continuation", "Response", "Tagged", "Untagged", "mailbox_name"]


def mailbox_name(name: str, *, utf8: bool = False) -> bytes:
    """A mailbox name as an astring (modified UTF-7 unless UTF8=ACCEPT)."""
    return values.astring(name if utf8 else utf7.encode(name), utf8=utf8)


def _text(text: str) -> bytes:
    """Human-readable text: one line, 7-bit (RFC 3501 §9 ``text``)."""
    cleaned = "".join(c if " " <= c <= "~" else " " if c in "\r\n\t" else "?" for c in text)
    return (cleaned.strip() or "done").encode("ascii")


@dataclass(frozen=True, slots=True)
class Code:
    """A response code: ``[NAME data]`` (RFC 3501 §7.1, RFC 5530). Codes without data
    are spelt directly: ``Code("TRYCREATE")``, ``Code("ALREADYEXISTS")``, ``Code("CANNOT")``,
    ``Code("OVERQUOTA")``, ``Code("AUTHENTICATIONFAILED")``, ``Code("PRIVACYREQUIRED")``…"""

    name: str
    data: bytes = b""

    def to_bytes(self) -> bytes:
        inner = self.name.encode("ascii") + (b" " + self.data if self.data else b"")
        return b"[" + inner + b"]"

    @classmethod
    def capability(cls, capabilities: Iterable[str]) -> Code:
        return cls("CAPABILITY", " ".join(capabilities).encode("ascii"))

    @classmethod
    def permanent_flags(cls, flags: Iterable[str]) -> Code:
        return cls("PERMANENTFLAGS", values.flag_list(flags))

    @classmethod
    def number(cls, name: str, value: int) -> Code:
        """UIDVALIDITY, UIDNEXT, UNSEEN, HIGHESTMODSEQ, APPENDLIMIT …"""
        return cls(name, str(value).encode("ascii"))

    @classmethod
    def append_uid(cls, uid_validity: int, uids: SequenceSet) -> Code:
        """RFC 4315 §3: ``[APPENDUID 38505 3955]``."""
        return cls("APPENDUID", f"{uid_validity} {uids}".encode("ascii"))

    @classmethod
    def copy_uid(cls, uid_validity: int, source: SequenceSet, target: SequenceSet) -> Code:
        """RFC 4315 §3: ``[COPYUID 38505 304,319:320 3956:3958]``."""
        return cls("COPYUID", f"{uid_validity} {source} {target}".encode("ascii"))

    @classmethod
    def modified(cls, numbers: SequenceSet) -> Code:
        """RFC 7162 §3.1.3: the messages STORE UNCHANGEDSINCE did not change."""
        return cls("MODIFIED", str(numbers).encode("ascii"))

    @classmethod
    def bad_charset(cls, charsets: Iterable[str] = ("UTF-8", "US-ASCII")) -> Code:
        return cls("BADCHARSET", b"(" + " ".join(charsets).encode("ascii") + b")")


@dataclass(frozen=True, slots=True)
class Tagged:
    """``tag OK|NO|BAD [code] text`` (RFC 3501 §7.1)."""

    tag: str
    status: str
    text: str
    code: Code | None = None

    def to_bytes(self, *, utf8: bool = False) -> bytes:
        code = self.code.to_bytes() + b" " if self.code else b""
        return b"%s %s %s%s\r\n" % (
            self.tag.encode("ascii"),
            self.status.encode(),
            code,
            _text(self.text),
        )


@dataclass(frozen=True, slots=True)
class Untagged:
    """``* OK|NO|BAD|BYE|PREAUTH [code] text`` (RFC 3501 §7.1)."""

    status: str
    text: str
    code: Code | None = None

    def to_bytes(self, *, utf8: bool = False) -> bytes:
        code = self.code.to_bytes() + b" " if self.code else b""
        return b"* %s %s%s\r\n" % (self.status.encode("ascii"), code, _text(self.text))


@dataclass(frozen=True, slots=True)
class Continuation:
    """``+ text`` (RFC 3501 §7.5); ``data`` is sent base64-encoded as a SASL challenge
    (``+ `` alone when empty)."""

    text: str = "Ready"
    data: bytes | None = None

    def to_bytes(self, *, utf8: bool = False) -> bytes:
        if self.data is not None:
            return b"+ " + base64.b64encode(self.data) + b"\r\n"
        return b"+ " + _text(self.text) + b"\r\n"


Response = Tagged | Untagged | Continuation
