"""Grammar of the mailbox commands: SELECT, EXAMINE, CREATE, DELETE, RENAME, SUBSCRIBE,
UNSUBSCRIBE, LIST, LSUB, STATUS, APPEND (RFC 3501 §6.3; RFC 5258 LIST-EXTENDED, RFC 5819
LIST-STATUS, RFC 6154 SPECIAL-USE, RFC 7162 CONDSTORE)."""

from __future__ import annotations

from collections.abc import Callable

from postseal.protocols.imap.commands import (
    Append,
    Command,
    Create,
    Delete,
    Examine,
    List,
    Lsub,
    Rename,
    Select,
    Status,
    Subscribe,
    Unsubscribe,
)
from postseal.protocols.imap.lexer import Bad, Reader

__all__ = ["COMMANDS", "STATUS_ITEMS"]

STATUS_ITEMS = frozenset(
    {"MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "DELETED", "SIZE", "HIGHESTMODSEQ"}
)
_SELECTION = frozenset({"SUBSCRIBED", "REMOTE", "RECURSIVEMATCH", "SPECIAL-USE"})
_RETURNS = frozenset({"SUBSCRIBED", "CHILDREN", "SPECIAL-USE"})


def _mailbox_arg(reader: Reader, name: str) -> str:
    reader.sp(name)
    return reader.mailbox()


def _select(reader: Reader, tag: str, *, examine: bool) -> Command:
    name = "EXAMINE" if examine else "SELECT"
    mailbox = _mailbox_arg(reader, name)
    condstore = False
    if reader.take(b" "):
        for param in reader.paren_list(lambda: reader.keyword("SELECT parameter"), "parameters"):
            if param != "CONDSTORE":
                raise Bad(f"unknown {name} parameter {param}")
            condstore = True
    if examine:
        return Examine(tag, mailbox, condstore)
    return Select(tag, mailbox, condstore)


def _create(reader: Reader, tag: str) -> Command:
    mailbox = _mailbox_arg(reader, "CREATE")
    uses: list[str] = []
    if reader.take(b" "):

        def param() -> None:
            name = reader.keyword("CREATE parameter")
            if name != "USE":
                raise Bad(f"unknown CREATE parameter {name}")
            reader.sp("USE")
            uses.extend(reader.flag_list())

        reader.paren_list(param, "CREATE parameters")
    return Create(tag, mailbox, tuple(uses))


def _rename(reader: Reader, tag: str) -> Command:
    old = _mailbox_arg(reader, "RENAME")
    new = _mailbox_arg(reader, "the existing mailbox name")
    return Rename(tag, old, new)


def _status_items(reader: Reader) -> tuple[str, ...]:
    def item() -> str:
        name = reader.keyword("status item")
        if name not in STATUS_ITEMS:
            raise Bad(f"unknown STATUS item {name}")
        return name

    return tuple(reader.paren_list(item, "status items", empty=False))


def _status(reader: Reader, tag: str) -> Command:
    mailbox = _mailbox_arg(reader, "STATUS")
    reader.sp("mailbox name")
    return Status(tag, mailbox, _status_items(reader))


def _options(reader: Reader, allowed: frozenset[str], what: str) -> frozenset[str]:
    def option() -> str:
        name = reader.keyword(what)
        if name not in allowed:
            raise Bad(f"unknown {what} {name}")
        return name

    return frozenset(reader.paren_list(option, f"{what}s"))


def _list(reader: Reader, tag: str) -> Command:
    reader.sp("LIST")
    selection: frozenset[str] = frozenset()
    extended = False
    if reader.at(b"("):
        selection = _options(reader, _SELECTION, "LIST selection option")
        if "RECURSIVEMATCH" in selection and selection <= {"RECURSIVEMATCH", "REMOTE"}:
            raise Bad("RECURSIVEMATCH needs another selection option (RFC 5258 §3.1)")
        extended = True
        reader.sp("selection options")
    reference = reader.mailbox("reference", wildcards=True)
    reader.sp("reference")
    if reader.at(b"("):
        patterns = reader.paren_list(
            lambda: reader.mailbox("mailbox pattern", wildcards=True), "patterns", empty=False
        )
        extended = True
    else:
        patterns = [reader.mailbox("mailbox pattern", wildcards=True)]
    returns: set[str] = set()
    status_items: tuple[str, ...] | None = None
    if reader.take(b" "):
        if reader.keyword("RETURN") != "RETURN":
            raise Bad("expected RETURN after the LIST pattern")
        reader.sp("RETURN")
        extended = True

        def option() -> None:
            nonlocal status_items
            name = reader.keyword("LIST return option")
            if name == "STATUS":
                reader.sp("STATUS")
                status_items = _status_items(reader)
            elif name in _RETURNS:
                returns.add(name)
            else:
                raise Bad(f"unknown LIST return option {name}")

        reader.paren_list(option, "LIST return options")
    return List(
        tag, reference, tuple(patterns), selection, frozenset(returns), status_items, extended
    )


def _lsub(reader: Reader, tag: str) -> Command:
    reader.sp("LSUB")
    reference = reader.mailbox("reference", wildcards=True)
    reader.sp("reference")
    return Lsub(tag, reference, reader.mailbox("mailbox pattern", wildcards=True))


def _append(reader: Reader, tag: str) -> Command:
    mailbox = _mailbox_arg(reader, "APPEND")
    reader.sp("mailbox name")
    flags: tuple[str, ...] = ()
    date_time = None
    if reader.at(b"("):
        flags = tuple(reader.flag_list())
        reader.sp("the flag list")
    if reader.at(b'"'):
        date_time = reader.date_time()
        reader.sp("the date-time")
    if not (reader.at(b"{") or reader.at(b"~{")):
        raise Bad("APPEND expects the message as a literal")
    return Append(tag, mailbox, reader.literal(), flags, date_time)


COMMANDS: dict[str, Callable[[Reader, str], Command]] = {
    "SELECT": lambda r, t: _select(r, t, examine=False),
    "EXAMINE": lambda r, t: _select(r, t, examine=True),
    "CREATE": _create,
    "DELETE": lambda r, t: Delete(t, _mailbox_arg(r, "DELETE")),
    "RENAME": _rename,
    "SUBSCRIBE": lambda r, t: Subscribe(t, _mailbox_arg(r, "SUBSCRIBE")),
    "UNSUBSCRIBE": lambda r, t: Unsubscribe(t, _mailbox_arg(r, "UNSUBSCRIBE")),
    "LIST": _list,
    "LSUB": _lsub,
    "STATUS": _status,
    "APPEND": _append,
}
