"""Grammar of the message commands: FETCH, STORE, COPY, MOVE, EXPUNGE, SEARCH and their
UID forms (RFC 3501 §6.4, RFC 4315 UIDPLUS, RFC 6851 MOVE, RFC 7162 CONDSTORE, RFC 4731
ESEARCH, RFC 3516 BINARY)."""

from __future__ import annotations

import re
from collections.abc import Callable

from postseal.protocols.imap import search as keys
from postseal.protocols.imap.commands import (
    Command,
    Copy,
    Expunge,
    Fetch,
    FetchAttribute,
    Move,
    Search,
    Section,
    Store,
)
from postseal.protocols.imap.lexer import Bad, Reader

__all__ = ["COMMANDS", "UID_COMMANDS"]

_ITEM_NAME = re.compile(rb"[A-Za-z0-9.]+")
_SECTION_TEXT = re.compile(rb"[A-Za-z.]+")
_SIMPLE_ITEMS = frozenset(
    {
        "ENVELOPE",
        "FLAGS",
        "INTERNALDATE",
        "RFC822",
        "RFC822.HEADER",
        "RFC822.SIZE",
        "RFC822.TEXT",
        "BODY",
        "BODYSTRUCTURE",
        "UID",
        "MODSEQ",
    }
)
_MACROS = {
    "ALL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"),
    "FAST": ("FLAGS", "INTERNALDATE", "RFC822.SIZE"),
    "FULL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"),
}
_MAX_DEPTH = 64


def _section(reader: Reader, *, binary: bool) -> Section:
    reader.expect(b"[", "'['")
    part: list[int] = []
    text = None
    fields: tuple[str, ...] = ()
    while reader.peek().isdigit():
        part.append(reader.number("section part number", nonzero=True))
        if not reader.take(b"."):
            break
        if not reader.peek().isdigit():
            if not part or binary:
                raise Bad("invalid section: '.' must be followed by a part number")
            break
    if not reader.at(b"]"):
        if binary:
            raise Bad("a BINARY section holds part numbers only (RFC 3516 §4.1)")
        text = (reader.match(_SECTION_TEXT) or b"").decode("ascii").upper()
        allowed = {"HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT"} | (
            {"MIME"} if part else set()
        )
        if text not in allowed:
            raise Bad(f"invalid section text '{text}'" if text else "invalid section")
        if text.startswith("HEADER.FIELDS"):
            reader.sp(text)
            names = reader.paren_list(
                lambda: reader.text_astring("header field name"), "header list", empty=False
            )
            fields = tuple(n.upper() for n in names)
    reader.expect(b"]", "']' to close the section")
    return Section(tuple(part), text, fields)


def _partial(reader: Reader) -> tuple[int, int | None] | None:
    if not reader.take(b"<"):
        return None
    offset = reader.number64("partial offset")
    reader.expect(b".", "'.' in the partial range <offset.length>")
    length = reader.number64("partial length")
    if length == 0:
        raise Bad("partial length must not be zero")
    reader.expect(b">", "'>' to close the partial range")
    return offset, length


def _fetch_attribute(reader: Reader) -> FetchAttribute:
    name = (reader.match(_ITEM_NAME) or b"").decode("ascii").upper()
    if not name:
        raise Bad(f"expected fetch item{reader._found()}")
    if name in ("BODY", "BODY.PEEK") and reader.at(b"["):
        section = _section(reader, binary=False)
        return FetchAttribute("BODY", section, name == "BODY.PEEK", _partial(reader))
    if name in ("BINARY", "BINARY.PEEK", "BINARY.SIZE"):
        section = _section(reader, binary=True)
        base = "BINARY.SIZE" if name == "BINARY.SIZE" else "BINARY"
        partial = None if base == "BINARY.SIZE" else _partial(reader)
        return FetchAttribute(base, section, name == "BINARY.PEEK", partial)
    if name == "BODY.PEEK":
        raise Bad("BODY.PEEK needs a section, e.g. BODY.PEEK[]")
    if name not in _SIMPLE_ITEMS:
        raise Bad(f"unknown fetch item {name}")
    return FetchAttribute(name)


def _fetch(reader: Reader, tag: str, uid: bool) -> Command:
    reader.sp("FETCH")
    sequence_set = reader.sequence_set()
    reader.sp("the sequence set")
    items: list[FetchAttribute]
    start = reader.pos
    word = (reader.match(_ITEM_NAME) or b"").decode("ascii").upper()
    if word in _MACROS:
        items = [FetchAttribute(n) for n in _MACROS[word]]
    else:
        reader.pos = start
        if reader.at(b"("):
            items = reader.paren_list(lambda: _fetch_attribute(reader), "fetch items", empty=False)
        else:
            items = [_fetch_attribute(reader)]
    changed_since = None
    vanished = False
    if reader.take(b" "):

        def modifier() -> None:
            nonlocal changed_since, vanished
            name = reader.keyword("FETCH modifier")
            if name == "CHANGEDSINCE":
                reader.sp("CHANGEDSINCE")
                changed_since = reader.number64("mod-sequence")
            elif name == "VANISHED" and uid:
                vanished = True
            else:
                raise Bad(f"unknown FETCH modifier {name}")

        reader.paren_list(modifier, "FETCH modifiers", empty=False)
        if vanished and changed_since is None:
            raise Bad("VANISHED needs CHANGEDSINCE (RFC 7162 §3.2.6)")
    names = {item.name for item in items}
    if uid and "UID" not in names:
        items.append(FetchAttribute("UID"))
    if changed_since is not None and "MODSEQ" not in names:
        items.append(FetchAttribute("MODSEQ"))
    return Fetch(tag, sequence_set, tuple(items), uid, changed_since, vanished)


def _store(reader: Reader, tag: str, uid: bool) -> Command:
    reader.sp("STORE")
    sequence_set = reader.sequence_set()
    reader.sp("the sequence set")
    unchanged_since = None
    if reader.at(b"("):

        def modifier() -> None:
            nonlocal unchanged_since
            if reader.keyword("STORE modifier") != "UNCHANGEDSINCE":
                raise Bad("unknown STORE modifier (only UNCHANGEDSINCE)")
            reader.sp("UNCHANGEDSINCE")
            unchanged_since = reader.number64("mod-sequence")

        reader.paren_list(modifier, "STORE modifiers", empty=False)
        reader.sp("the STORE modifiers")
    mode = "add" if reader.take(b"+") else "remove" if reader.take(b"-") else "replace"
    item = (reader.match(_ITEM_NAME) or b"").decode("ascii").upper()
    if item not in ("FLAGS", "FLAGS.SILENT"):
        raise Bad(f"expected FLAGS, +FLAGS or -FLAGS (with .SILENT), not '{item}'")
    reader.sp(item)
    if reader.at(b"("):
        flags = reader.flag_list()
    else:
        flags = [reader.flag()]
        while reader.take(b" "):
            flags.append(reader.flag())
    if "\\*" in flags or "\\Recent".lower() in (f.lower() for f in flags):
        raise Bad("STORE cannot set \\* or \\Recent")
    return Store(
        tag, sequence_set, mode, tuple(flags), item.endswith(".SILENT"), uid, unchanged_since
    )


def _copy_or_move(reader: Reader, tag: str, uid: bool, *, move: bool) -> Command:
    reader.sp("MOVE" if move else "COPY")
    sequence_set = reader.sequence_set()
    reader.sp("the sequence set")
    mailbox = reader.mailbox()
    return (Move if move else Copy)(tag, sequence_set, mailbox, uid)


def _expunge(reader: Reader, tag: str, uid: bool) -> Command:
    if not uid:
        return Expunge(tag)
    reader.sp("UID EXPUNGE")
    return Expunge(tag, reader.sequence_set())


# -- SEARCH (RFC 3501 §6.4.4) -----------------------------------------------------------

_FLAG_KEYS = {
    "ANSWERED": ("\\Answered", True),
    "UNANSWERED": ("\\Answered", False),
    "DELETED": ("\\Deleted", True),
    "UNDELETED": ("\\Deleted", False),
    "DRAFT": ("\\Draft", True),
    "UNDRAFT": ("\\Draft", False),
    "FLAGGED": ("\\Flagged", True),
    "UNFLAGGED": ("\\Flagged", False),
    "SEEN": ("\\Seen", True),
    "UNSEEN": ("\\Seen", False),
    "RECENT": ("\\Recent", True),
    "OLD": ("\\Recent", False),
}
_HEADER_KEYS = {"BCC": "bcc", "CC": "cc", "FROM": "from", "SUBJECT": "subject", "TO": "to"}
_DATE_KEYS = {
    "BEFORE": ("before", False),
    "ON": ("on", False),
    "SINCE": ("since", False),
    "SENTBEFORE": ("before", True),
    "SENTON": ("on", True),
    "SENTSINCE": ("since", True),
}
_RETURN_OPTIONS = frozenset({"MIN", "MAX", "ALL", "COUNT", "SAVE"})


def _search_string(reader: Reader, charset: str) -> str:
    data = reader.astring("search string")
    try:
        return data.decode("latin-1" if charset == "ISO-8859-1" else "utf-8")
    except UnicodeDecodeError:
        raise Bad(f"the search string is not valid {charset}") from None


def _search_key(reader: Reader, charset: str, depth: int) -> keys.SearchKey:
    if depth > _MAX_DEPTH:
        raise Bad("search keys nested too deeply")
    if reader.take(b"("):
        inner = [_search_key(reader, charset, depth + 1)]
        while reader.take(b" "):
            inner.append(_search_key(reader, charset, depth + 1))
        reader.expect(b")", "')' to close the search key list")
        return inner[0] if len(inner) == 1 else keys.And(tuple(inner))
    if reader.peek() in (b"*", b"$") or reader.peek().isdigit():
        return keys.SetKey(reader.sequence_set())
    name = reader.keyword("search key")

    def arg() -> None:
        reader.sp(name)

    if name == "ALL":
        return keys.All()
    if name in _FLAG_KEYS:
        flag, present = _FLAG_KEYS[name]
        return keys.FlagKey(flag, present)
    if name == "NEW":
        return keys.And((keys.FlagKey("\\Recent"), keys.FlagKey("\\Seen", False)))
    if name in ("KEYWORD", "UNKEYWORD"):
        arg()
        return keys.FlagKey(reader.atom("keyword"), name == "KEYWORD")
    if name in _HEADER_KEYS:
        arg()
        return keys.Header(_HEADER_KEYS[name], _search_string(reader, charset))
    if name == "HEADER":
        arg()
        field = reader.text_astring("header field name").lower()
        reader.sp("the header field name")
        return keys.Header(field, _search_string(reader, charset))
    if name in ("BODY", "TEXT"):
        arg()
        value = _search_string(reader, charset)
        return keys.Body(value) if name == "BODY" else keys.Text(value)
    if name in _DATE_KEYS:
        arg()
        op, sent = _DATE_KEYS[name]
        return keys.DateKey(op, reader.date(), sent)
    if name in ("LARGER", "SMALLER"):
        arg()
        return keys.SizeKey(reader.number64("size"), name == "LARGER")
    if name == "UID":
        arg()
        return keys.SetKey(reader.sequence_set(), uid=True)
    if name == "NOT":
        arg()
        return keys.Not(_search_key(reader, charset, depth + 1))
    if name == "OR":
        arg()
        left = _search_key(reader, charset, depth + 1)
        reader.sp("the first OR key")
        return keys.Or(left, _search_key(reader, charset, depth + 1))
    if name == "MODSEQ":
        arg()
        if reader.at(b'"'):
            reader.quoted()
            reader.sp("the MODSEQ entry name")
            if reader.keyword("entry type") not in ("PRIV", "SHARED", "ALL"):
                raise Bad("MODSEQ entry type must be priv, shared or all")
            reader.sp("the MODSEQ entry type")
        return keys.ModSeq(reader.number64("mod-sequence"))
    raise Bad(f"unknown search key {name}")


def _search(reader: Reader, tag: str, uid: bool) -> Command:
    reader.sp("SEARCH")
    returns: tuple[str, ...] | None = None
    charset = None
    if reader.peek(6).upper() == b"RETURN" and reader.peek(8)[6:7] == b" ":
        reader.pos += 6
        reader.sp("RETURN")

        def option() -> str:
            name = reader.keyword("SEARCH return option")
            if name not in _RETURN_OPTIONS:
                raise Bad(f"unknown SEARCH return option {name}")
            return name

        returns = tuple(reader.paren_list(option, "SEARCH return options")) or ("ALL",)
        reader.sp("the return options")
    if reader.peek(7).upper() == b"CHARSET" and reader.peek(8)[7:8] == b" ":
        reader.pos += 7
        reader.sp("CHARSET")
        charset = reader.astring("charset").decode("ascii", "replace").upper()
        reader.sp("the charset")
    found = [_search_key(reader, charset or "US-ASCII", 0)]
    while reader.take(b" "):
        found.append(_search_key(reader, charset or "US-ASCII", 0))
    key = found[0] if len(found) == 1 else keys.And(tuple(found))
    return Search(tag, key, uid, charset, returns)


_Parser = Callable[[Reader, str, bool], Command]
COMMANDS: dict[str, _Parser] = {
    "FETCH": _fetch,
    "STORE": _store,
    "COPY": lambda r, t, u: _copy_or_move(r, t, u, move=False),
    "MOVE": lambda r, t, u: _copy_or_move(r, t, u, move=True),
    "EXPUNGE": _expunge,
    "SEARCH": _search,
}
UID_COMMANDS = COMMANDS
