"""Untagged data responses (RFC 3501 §7.2-7.4, RFC 9051 §7, and the extensions named).

Each serialises itself with ``to_bytes(utf8=False)`` (see :mod:`.responses` for ``utf8``).
FETCH items arrive already rendered (:mod:`postseal.protocols.imap.fetch`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from postseal.protocols.imap import values
from postseal.protocols.imap.responses import mailbox_name
from postseal.protocols.imap.sets import SequenceSet

__all__ = [
    "CapabilityData",
    "ESearch",
    "Enabled",
    "Exists",
    "Expunged",
    "FetchData",
    "Flags",
    "IdData",
    "ListData",
    "NamespaceData",
    "Recent",
    "SearchData",
    "StatusData",
    "Vanished",
]


def _words(items: Iterable[str]) -> bytes:
    return " ".join(items).encode("ascii")


@dataclass(frozen=True, slots=True)
class Exists:
    count: int

    def to_bytes(self, *, utf8: bool = False) -> bytes:
        return b"* %d EXISTS\r\n" % self.count


@dataclass(frozen=True, slots=True)
class Recent:
    count: int

    def to_bytes(self, *, utf8: bool = False) -> bytes:
        return b"* %d RECENT\r\n" % self.count


@dataclass(frozen=True, slots=True)
class Expunged:
    seq: int

    def to_bytes(self, *, utf8: bool = False) -> bytes:
        return b"* %d EXPUNGE\r\n" % self.seq


@dataclass(frozen=True, slots=True)
class Vanished:
    """RFC 7162 §3.2.10: ``* VANISHED (EARLIER) 41,43:116``."""

    uids: SequenceSet
    earlier: bool = False

    def to_bytes(self, *, utf8: bool = False) -> bytes:
        earlier = b"(EARLIER) " if self.earlier else b""
        return b"* VANISHED " + earlier + str(self.uids).encode("ascii") + b"\r\n"


@dataclass(frozen=True, slots=True)
class Flags:
    flags: tuple[str, ...]

    def to_bytes(self, *, utf8: bool = False) -> bytes:
        return b"* FLAGS " + values.flag_list(self.flags) + b"\r\n"


@dataclass(frozen=True, slots=True)
class CapabilityData:
    capabilities: tuple[str, ...]

    def to_bytes(self, *, utf8: bool = False) -> bytes:
        return b"* CAPABILITY " + _words(self.capabilities) + b"\r\n"


@dataclass(frozen=True, slots=True)
class Enabled:
    """RFC 5161 §3.2 (``* ENABLED`` with nothing after it is valid)."""

    capabilities: tuple[str, ...]

    def to_bytes(self, *, utf8: bool = False) -> bytes:
        return (
            b"* ENABLED" + b"".join(b" " + c.encode("ascii") for c in self.capabilities) + b"\r\n"
        )


@dataclass(frozen=True, slots=True)
class IdData:
    """RFC 2971 §3.2: ``* ID ("name" "postseal")`` or ``* ID NIL``."""

    params: tuple[tuple[str, str | None], ...] | None

    def to_bytes(self, *, utf8: bool = False) -> bytes:
        if not self.params:
            return b"* ID NIL\r\n"
        pairs = b" ".join(values.string(k) + b" " + values.nstring(v) for k, v in self.params)
        return b"* ID (" + pairs + b")\r\n"


@dataclass(frozen=True, slots=True)
class ListData:
    """``* LIST (attributes) "/" name`` (RFC 3501 §7.2.2, RFC 5258 §3.4: extended items
    such as ``("CHILDINFO" ("SUBSCRIBED"))``); ``kind`` LSUB for ``* LSUB``."""

    attributes: tuple[str, ...]
    delimiter: str | None
    name: str
    kind: str = "LIST"
    extended: bytes = b""  # pre-rendered extended data items, e.g. b'("CHILDINFO" ("SUBSCRIBED"))'

    def to_bytes(self, *, utf8: bool = False) -> bytes:
        delimiter = values.nstring(self.delimiter)
        head = b"* %s %s %s " % (
            self.kind.encode("ascii"),
            values.flag_list(self.attributes),
            delimiter,
        )
        tail = b" " + self.extended if self.extended else b""
        return head + mailbox_name(self.name, utf8=utf8) + tail + b"\r\n"


@dataclass(frozen=True, slots=True)
class StatusData:
    """``* STATUS name (MESSAGES 231 UIDNEXT 44292)`` (RFC 3501 §7.2.4)."""

    mailbox: str
    items: tuple[tuple[str, int], ...]

    def to_bytes(self, *, utf8: bool = False) -> bytes:
        pairs = " ".join(f"{k} {v}" for k, v in self.items).encode("ascii")
        return b"* STATUS " + mailbox_name(self.mailbox, utf8=utf8) + b" (" + pairs + b")\r\n"


@dataclass(frozen=True, slots=True)
class SearchData:
    """``* SEARCH 2 3 6`` with RFC 7162 §3.1.5 ``(MODSEQ n)`` when asked for."""

    numbers: tuple[int, ...]
    modseq: int | None = None

    def to_bytes(self, *, utf8: bool = False) -> bytes:
        out = b"* SEARCH" + b"".join(b" %d" % n for n in self.numbers)
        if self.modseq is not None and self.numbers:
            out += b" (MODSEQ %d)" % self.modseq
        return out + b"\r\n"


@dataclass(frozen=True, slots=True)
class ESearch:
    """RFC 4731 §3.1: ``* ESEARCH (TAG "a") UID MIN 2 COUNT 3``; absent parts omitted."""

    tag: str
    uid: bool = False
    min: int | None = None
    max: int | None = None
    all: SequenceSet | None = None
    count: int | None = None
    modseq: int | None = None

    def to_bytes(self, *, utf8: bool = False) -> bytes:
        out = b"* ESEARCH (TAG " + values.string(self.tag) + b")"
        if self.uid:
            out += b" UID"
        for name, value in (("MIN", self.min), ("MAX", self.max)):
            if value is not None:
                out += b" %s %d" % (name.encode(), value)
        if self.all is not None and self.all.ranges:
            out += b" ALL " + str(self.all).encode("ascii")
        if self.count is not None:
            out += b" COUNT %d" % self.count
        if self.modseq is not None:
            out += b" MODSEQ %d" % self.modseq
        return out + b"\r\n"


@dataclass(frozen=True, slots=True)
class NamespaceData:
    """RFC 2342 §5: each of personal, other users', shared is NIL or ((prefix delim)…)."""

    personal: tuple[tuple[str, str | None], ...] = (("", "/"),)
    other: tuple[tuple[str, str | None], ...] = ()
    shared: tuple[tuple[str, str | None], ...] = ()

    def to_bytes(self, *, utf8: bool = False) -> bytes:
        def space(items: tuple[tuple[str, str | None], ...]) -> bytes:
            if not items:
                return b"NIL"
            inner = b"".join(
                b"(" + values.string(p) + b" " + values.nstring(d) + b")" for p, d in items
            )
            return b"(" + inner + b")"

        spaces = (space(self.personal), space(self.other), space(self.shared))
        return b"* NAMESPACE " + b" ".join(spaces) + b"\r\n"


@dataclass(frozen=True, slots=True)
class FetchData:
    """``* 12 FETCH (FLAGS (\\Seen) UID 4827313)``; items are (response key, rendered
    value) pairs from :func:`postseal.protocols.imap.fetch.render`."""

    seq: int
    items: tuple[tuple[str, bytes], ...]

    def to_bytes(self, *, utf8: bool = False) -> bytes:
        body = b" ".join(k.encode("ascii") + b" " + v for k, v in self.items)
        return b"* %d FETCH (" % self.seq + body + b")\r\n"
