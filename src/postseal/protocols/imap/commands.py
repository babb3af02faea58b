"""IMAP commands as frozen values: what the grammar returns and the session dispatches on.

One class per command (RFC 3501 §6, RFC 9051 §6 and the extensions named on each).
Mailbox names are Unicode (modified UTF-7 already decoded, RFC 3501 §5.1.3); ``INBOX`` in
any case is ``"INBOX"``. Flags keep their spelling (``\\Seen``, ``$Forwarded``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from postseal.protocols.imap.search import SearchKey
from postseal.protocols.imap.sets import SequenceSet

__all__ = [
    "Append",
    "Authenticate",
    "Capability",
    "Check",
    "Close",
    "Command",
    "Copy",
    "Create",
    "Delete",
    "Enable",
    "Examine",
    "Expunge",
    "Fetch",
    "FetchAttribute",
    "Id",
    "Idle",
    "List",
    "Login",
    "Logout",
    "Lsub",
    "Move",
    "Namespace",
    "Noop",
    "Rename",
    "Search",
    "Section",
    "Select",
    "StartTLS",
    "Status",
    "Store",
    "Subscribe",
    "Unselect",
    "Unsubscribe",
]


@dataclass(frozen=True, slots=True)
class Command:
    tag: str


@dataclass(frozen=True, slots=True)
class Capability(Command):
    pass


@dataclass(frozen=True, slots=True)
class Noop(Command):
    pass


@dataclass(frozen=True, slots=True)
class Logout(Command):
    pass


@dataclass(frozen=True, slots=True)
class StartTLS(Command):
    pass


@dataclass(frozen=True, slots=True)
class Check(Command):
    pass


@dataclass(frozen=True, slots=True)
class Close(Command):
    pass


@dataclass(frozen=True, slots=True)
class Unselect(Command):
    """RFC 3691."""


@dataclass(frozen=True, slots=True)
class Namespace(Command):
    """RFC 2342."""


@dataclass(frozen=True, slots=True)
class Idle(Command):
    """RFC 2177: the session then waits for a ``DONE`` line (:func:`grammar.is_idle_done`)."""


@dataclass(frozen=True, slots=True)
class Login(Command):
    userid: str
    password: str


@dataclass(frozen=True, slots=True)
class Authenticate(Command):
    """RFC 3501 §6.2.2; ``initial_response`` is the decoded SASL-IR (RFC 4959) response,
    ``b""`` for ``=``, None when the client sent none."""

    mechanism: str  # upper case
    initial_response: bytes | None = None


@dataclass(frozen=True, slots=True)
class Enable(Command):
    """RFC 5161; capability names upper-cased."""

    capabilities: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Id(Command):
    """RFC 2971; None for ``ID NIL``."""

    params: tuple[tuple[str, str | None], ...] | None


@dataclass(frozen=True, slots=True)
class Select(Command):
    mailbox: str
    condstore: bool = False  # RFC 7162 §3.1.8


@dataclass(frozen=True, slots=True)
class Examine(Command):
    mailbox: str
    condstore: bool = False


@dataclass(frozen=True, slots=True)
class Create(Command):
    mailbox: str
    special_use: tuple[str, ...] = ()  # RFC 6154 §3: CREATE ... (USE (\Drafts))


@dataclass(frozen=True, slots=True)
class Delete(Command):
    mailbox: str


@dataclass(frozen=True, slots=True)
class Rename(Command):
    mailbox: str
    new_name: str


@dataclass(frozen=True, slots=True)
class Subscribe(Command):
    mailbox: str


@dataclass(frozen=True, slots=True)
class Unsubscribe(Command):
    mailbox: str


@dataclass(frozen=True, slots=True)
class List(Command):
    """RFC 3501 §6.3.8 extended by RFC 5258 (selection and return options), RFC 6154
    (SPECIAL-USE) and RFC 5819 (STATUS). Options are upper case; ``extended`` says the
    client used the extended syntax (so the reply may carry extended data)."""

    reference: str
    patterns: tuple[str, ...]
    selection: frozenset[str] = frozenset()  # SUBSCRIBED, REMOTE, RECURSIVEMATCH, SPECIAL-USE
    returns: frozenset[str] = frozenset()  # SUBSCRIBED, CHILDREN, SPECIAL-USE
    status_items: tuple[str, ...] | None = None
    extended: bool = False


@dataclass(frozen=True, slots=True)
class Lsub(Command):
    reference: str
    pattern: str


@dataclass(frozen=True, slots=True)
class Status(Command):
    mailbox: str
    items: tuple[str, ...]  # upper case, as given


@dataclass(frozen=True, slots=True)
class Append(Command):
    mailbox: str
    message: bytes
    flags: tuple[str, ...] = ()
    date_time: datetime | None = None  # aware; None: the server's clock decides


@dataclass(frozen=True, slots=True)
class Expunge(Command):
    uid_set: SequenceSet | None = None  # UID EXPUNGE (RFC 4315 §2.1)

    @property
    def uid(self) -> bool:
        return self.uid_set is not None


@dataclass(frozen=True, slots=True)
class Search(Command):
    key: SearchKey
    uid: bool = False
    charset: str | None = None  # upper case: UTF-8 or US-ASCII
    returns: tuple[str, ...] | None = None  # RFC 4731 ESEARCH: MIN MAX ALL COUNT (SAVE)


@dataclass(frozen=True, slots=True)
class Section:
    """``[part.text (fields)]`` of RFC 3501 §6.4.5; ``text`` is None, HEADER,
    HEADER.FIELDS, HEADER.FIELDS.NOT, TEXT or MIME; field names upper-cased."""

    part: tuple[int, ...] = ()
    text: str | None = None
    fields: tuple[str, ...] = ()

    def __str__(self) -> str:
        spec = ".".join(str(n) for n in self.part)
        if self.text:
            spec = f"{spec}.{self.text}" if spec else self.text
        if self.fields:
            spec += " (" + " ".join(self.fields) + ")"
        return spec


@dataclass(frozen=True, slots=True)
class FetchAttribute:
    """One FETCH item (RFC 3501 §6.4.5, RFC 3516 BINARY, RFC 7162 MODSEQ). ``name`` is
    upper case: FLAGS, INTERNALDATE, RFC822, RFC822.HEADER, RFC822.SIZE, RFC822.TEXT,
    ENVELOPE, BODY, BODYSTRUCTURE, UID, MODSEQ, BINARY, BINARY.SIZE. ``section`` is set
    for ``BODY[...]``, ``BINARY[...]`` and ``BINARY.SIZE[...]``; ``partial`` is
    (offset, length or None) of ``<o.l>``."""

    name: str
    section: Section | None = None
    peek: bool = False
    partial: tuple[int, int | None] | None = None

    @property
    def sets_seen(self) -> bool:
        """Fetching it sets \\Seen (RFC 3501 §6.4.5)."""
        if self.name in ("RFC822", "RFC822.TEXT"):
            return True
        return self.name in ("BODY", "BINARY") and self.section is not None and not self.peek

    @property
    def needs_body(self) -> bool:
        """Answering it needs the message bytes, not only the stored summary."""
        if self.name in ("RFC822", "RFC822.TEXT", "BINARY", "BINARY.SIZE"):
            return True
        if self.name == "BODY" and self.section is not None:
            return not (
                self.section.part == ()
                and self.section.text is not None
                and self.section.text.startswith("HEADER")
            )
        return False

    def response_key(self) -> str:
        """How the FETCH response names it: ``BODY[1.MIME]<0>`` (no PEEK, origin only)."""
        if self.section is None:
            return self.name
        key = f"{self.name}[{self.section}]"
        if self.partial is not None and self.name != "BINARY.SIZE":
            key += f"<{self.partial[0]}>"
        return key


@dataclass(frozen=True, slots=True)
class Fetch(Command):
    sequence_set: SequenceSet
    items: tuple[FetchAttribute, ...]
    uid: bool = False
    changed_since: int | None = None  # RFC 7162 §3.1.4.1
    vanished: bool = False  # RFC 7162 §3.2.6 (QRESYNC)

    @property
    def sets_seen(self) -> bool:
        return any(item.sets_seen for item in self.items)

    @property
    def needs_body(self) -> bool:
        return any(item.needs_body for item in self.items)


@dataclass(frozen=True, slots=True)
class Store(Command):
    """``mode`` is ``"replace"`` (FLAGS), ``"add"`` (+FLAGS) or ``"remove"`` (-FLAGS)."""

    sequence_set: SequenceSet
    mode: str
    flags: tuple[str, ...]
    silent: bool = False
    uid: bool = False
    unchanged_since: int | None = None  # RFC 7162 §3.1.3


@dataclass(frozen=True, slots=True)
class Copy(Command):
    sequence_set: SequenceSet
    mailbox: str
    uid: bool = False


@dataclass(frozen=True, slots=True)
class Move(Command):
    """RFC 6851."""

    sequence_set: SequenceSet
    mailbox: str
    uid: bool = False
