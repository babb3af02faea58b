"""SEARCH keys as a tree, and their evaluation against one message (RFC 3501 §6.4.4).

The grammar builds the tree; :func:`matches` evaluates it for a :class:`Candidate`, whose
summary and bytes are loaded only when a key needs them (:func:`needs` says which), so
flag, date, size and set searches never touch a sealed body.

String keys match case-insensitively as substrings (RFC 3501 §6.4.4) after Unicode case
folding. Header keys compare with the decoded field (RFC 2047 words, RFC 6532 UTF-8);
BODY and TEXT search the decoded text parts (quoted-printable and base64 undone, charset
applied). Date keys compare days: INTERNALDATE in its own time zone, SENTBEFORE/ON/SINCE
the Date: field's date in the zone written there (RFC 3501 §6.4.4 "disregarding time and
timezone").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from email.utils import parsedate_to_datetime

from postseal.mail.structure import (
    MessageStructure,
    Part,
    decode_header_value,
    header_fields,
    parse,
    part_text,
)
from postseal.protocols.imap.sets import SequenceSet

__all__ = [
    "All",
    "And",
    "Body",
    "Candidate",
    "DateKey",
    "FlagKey",
    "Header",
    "ModSeq",
    "Not",
    "Or",
    "SearchKey",
    "SetKey",
    "SizeKey",
    "Text",
    "matches",
    "needs",
]


@dataclass(frozen=True, slots=True)
class All:
    pass


@dataclass(frozen=True, slots=True)
class FlagKey:
    """ANSWERED/DELETED/…/KEYWORD (``present``) and their UN- forms. RECENT is
    ``\\Recent``; NEW is And(RECENT, UNSEEN), OLD is NOT RECENT."""

    flag: str
    present: bool = True


@dataclass(frozen=True, slots=True)
class Header:
    """HEADER name value, and BCC/CC/FROM/SUBJECT/TO; an empty value matches any
    message that has the field (RFC 3501 §6.4.4)."""

    name: str  # lower case
    value: str


@dataclass(frozen=True, slots=True)
class Body:
    value: str


@dataclass(frozen=True, slots=True)
class Text:
    value: str


@dataclass(frozen=True, slots=True)
class DateKey:
    """``sent`` picks the Date: field, otherwise INTERNALDATE; ``op`` is before/on/since."""

    op: str
    day: date
    sent: bool = False


@dataclass(frozen=True, slots=True)
class SizeKey:
    """LARGER n (``larger``) or SMALLER n."""

    size: int
    larger: bool


@dataclass(frozen=True, slots=True)
class SetKey:
    """A sequence set (message numbers) or UID set."""

    sequence_set: SequenceSet
    uid: bool = False


@dataclass(frozen=True, slots=True)
class ModSeq:
    """MODSEQ n (RFC 7162 §3.1.5): messages whose mod-sequence is at least n."""

    value: int


@dataclass(frozen=True, slots=True)
class Not:
    key: SearchKey


@dataclass(frozen=True, slots=True)
class Or:
    left: SearchKey
    right: SearchKey


@dataclass(frozen=True, slots=True)
class And:
    keys: tuple[SearchKey, ...]


SearchKey = (
    All | FlagKey | Header | Body | Text | DateKey | SizeKey | SetKey | ModSeq | Not | Or | And
)


@dataclass(slots=True)
class Candidate:
    """One message as SEARCH sees it. ``load_summary`` / ``load_raw`` are called at
    most once, and only when a key needs them; ``largest_seq`` / ``largest_uid`` give
    ``*`` its meaning."""

    seq: int
    uid: int
    flags: frozenset[str]
    internal_date: datetime
    size: int
    largest_seq: int
    largest_uid: int
    modseq: int = 0
    load_summary: Callable[[], MessageStructure] | None = None
    load_raw: Callable[[], bytes] | None = None
    _summary: MessageStructure | None = field(default=None, repr=False)
    _raw: bytes | None = field(default=None, repr=False)
    _fields: list[tuple[str, str]] | None = field(default=None, repr=False)

    def raw(self) -> bytes:
        if self._raw is None:
            self._raw = self.load_raw() if self.load_raw is not None else b""
        return self._raw

    def structure(self) -> MessageStructure:
        if self._summary is None:
            if self.load_summary is not None:
                self._summary = self.load_summary()
            else:
                self._summary = parse(self.raw())
        return self._summary

    def fields(self) -> list[tuple[str, str]]:
        if self._fields is None:
            self._fields = header_fields(self.structure().header)
        return self._fields


def needs(key: SearchKey) -> str:
    """``"raw"`` if a key needs the message bytes, ``"summary"`` if header keys need the
    summary, else ``"metadata"``."""
    if isinstance(key, Body | Text):
        return "raw"
    if isinstance(key, Header) or (isinstance(key, DateKey) and key.sent):
        return "summary"
    children: tuple[SearchKey, ...] = ()
    if isinstance(key, Not):
        children = (key.key,)
    elif isinstance(key, Or):
        children = (key.left, key.right)
    elif isinstance(key, And):
        children = key.keys
    found = {needs(child) for child in children}
    return next((k for k in ("raw", "summary") if k in found), "metadata")


def matches(key: SearchKey, msg: Candidate) -> bool:
    """Whether ``msg`` satisfies ``key``."""
    if isinstance(key, All):
        return True
    if isinstance(key, And):
        return all(matches(k, msg) for k in key.keys)
    if isinstance(key, Or):
        return matches(key.left, msg) or matches(key.right, msg)
    if isinstance(key, Not):
        return not matches(key.key, msg)
    if isinstance(key, FlagKey):
        return _has_flag(msg.flags, key.flag) == key.present
    if isinstance(key, SetKey):
        number, largest = (msg.uid, msg.largest_uid) if key.uid else (msg.seq, msg.largest_seq)
        return key.sequence_set.contains(number, largest)
    if isinstance(key, SizeKey):
        return msg.size > key.size if key.larger else msg.size < key.size
    if isinstance(key, ModSeq):
        return msg.modseq >= key.value
    if isinstance(key, DateKey):
        return _date_matches(key, msg)
    if isinstance(key, Header):
        return _header_matches(key, msg)
    if isinstance(key, Body):
        return _contains(_body_text(msg), key.value)
    return _contains(_body_text(msg), key.value) or _contains(
        "\n".join(f"{n}: {decode_header_value(v)}" for n, v in msg.fields()), key.value
    )


def _has_flag(flags: frozenset[str], flag: str) -> bool:
    folded = flag.casefold()
    return any(f.casefold() == folded for f in flags)


def _contains(text: str, needle: str) -> bool:
    return needle.casefold() in text.casefold()


def _header_matches(key: Header, msg: Candidate) -> bool:
    if key.value and _absent(msg.structure().header, key.value):
        return False
    values = [v for n, v in msg.fields() if n == key.name]
    if not key.value:
        return bool(values)
    return any(_contains(decode_header_value(v), key.value) for v in values)


def _absent(header: bytes, needle: str) -> bool:
    """Whether ``needle`` can be seen, without parsing, to occur in no decoded field of
    ``header`` (most messages, for a search of a mailbox).

    Exact where it answers True: in a 7-bit header without RFC 2047 words, decoding
    only unfolds (drops the CRLF before a continuation's space or tab) and strips, so
    a needle without space or tab found in a decoded value is also in the raw bytes,
    and ASCII case folding is ``lower``."""
    folded = needle.casefold()
    if not folded.isascii() or " " in folded or "\t" in folded:
        return False
    if not header.isascii() or b"=?" in header:
        return False
    return folded.encode("ascii") not in header.lower()


def _date_matches(key: DateKey, msg: Candidate) -> bool:
    if key.sent:
        value = next((v for n, v in msg.fields() if n == "date"), None)
        try:
            day = parsedate_to_datetime(value).date() if value else None
        except (TypeError, ValueError, IndexError, OverflowError):
            day = None
        if day is None:
            return False
    else:
        day = msg.internal_date.date()
    if key.op == "before":
        return day < key.day
    if key.op == "on":
        return day == key.day
    return day >= key.day


def _body_text(msg: Candidate) -> str:
    raw = msg.raw()
    texts: list[str] = []
    _collect(msg.structure().root, raw, texts, limit=[8 * 1024 * 1024])
    return "\n".join(texts)


def _collect(part: Part, raw: bytes, out: list[str], limit: list[int]) -> None:
    if limit[0] <= 0:
        return
    if part.children:
        for child in part.children:
            _collect(child, raw, out, limit)
        return
    if part.type == "text" or (part.type, part.subtype) == ("message", "delivery-status"):
        text = part_text(raw, part)
        limit[0] -= len(text)
        out.append(text)
