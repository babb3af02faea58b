""":class:`~postseal.store.ports.mailbox_reads.MailboxReads` on a SQLite file: plain
read-only ``sqlite3`` connections instead of the async engine (ADR 0017).

Through the engine a read costs a pool checkout, ``BEGIN``, a cursor, the statement,
the fetch, ``COMMIT`` and the reset on return, each a hop to aiosqlite's thread and
back: 0.5 to 1 ms for a one-row read on a busy machine. Here:

- a *point read* by key — HIGHESTMODSEQ, a mailbox by name, one body of at most
  :data:`INLINE_BYTES` — runs on the event loop's thread itself, on a connection that
  never waits for a lock (``busy_timeout=0``): 5 to 10 µs from the page cache. Should
  SQLite answer BUSY (a process holding the database exclusively, WAL recovery), or
  the body be larger (its length is read from the record header, not its pages), the
  read goes to a worker thread instead. So the loop waits at most for the pages of one
  small row: nothing when they are cached, a few disk reads when they are not;
- every other read — listings, summaries, changes, larger bodies — is one call to a
  worker thread of this store's own small pool (``postseal-read``), on that thread's own
  connection: one hop, about 0.05 ms, whatever the number of statements.

The connections are opened read-only (``mode=ro``): they cannot write nor take the write
lock, whatever runs on them. The database is in WAL mode (the engine sets it), so a read
never waits for a writer and never holds one up: it reads the last committed state. A
single statement is its own read transaction; several statements run between ``BEGIN``
(deferred: a snapshot, no lock) and ``COMMIT`` so they see one committed state. Each
read starts a new snapshot: it sees every commit made before it, by this process or
another. Only sealed blobs pass through here, and nothing is kept.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, TypeVar
from urllib.parse import quote

from sqlalchemy import BigInteger, ClauseElement, Integer, Text, bindparam, case, func, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import URL

from postseal.errors import StoreError
from postseal.store.ports.mailbox_reads import MailboxListing
from postseal.store.ports.mailbox_records import (
    Mailbox,
    MailboxChanges,
    SpecialUse,
    StoredMessage,
    UidSet,
)
from postseal.store.ports.sealed import SealedBody
from postseal.store.sql.engine import SQLITE_BUSY_TIMEOUT_MS, describe, unreachable
from postseal.store.sql.mailbox_rows import canonical_name, no_mailbox
from postseal.store.sql.tables import mailbox_messages as messages
from postseal.store.sql.tables import mailbox_summaries as summaries
from postseal.store.sql.tables import mailbox_vanished as vanished
from postseal.store.sql.tables import mailboxes
from postseal.store.sql.uid_sets import match_uids

__all__ = ["INLINE_BYTES", "READ_WORKERS", "SqliteMailboxReads"]

READ_WORKERS: Final = 4
"""Worker threads (each with its connection) of one store's read path: reads of
different sessions overlap while SQLite waits for the disk."""

INLINE_BYTES: Final = 64 * 1024
"""The largest sealed body read on the event loop's thread (16 pages of 4 KiB)."""

_T = TypeVar("_T")
_DIALECT = sqlite.dialect(paramstyle="named")
_MAILBOX = bindparam("mailbox", type_=Text)
_UID = bindparam("uid", type_=BigInteger)
_LOW, _HIGH = bindparam("low", type_=BigInteger), bindparam("high", type_=BigInteger)
_MODSEQ = bindparam("modseq", type_=BigInteger)
_CAP = bindparam("cap", type_=BigInteger)


def _sql(statement: ClauseElement) -> str:
    """The statement in SQLite's SQL, with named parameters; compiled once, at import."""
    return str(statement.compile(dialect=_DIALECT))


# Built from the engine's tables, so that the SQL cannot drift from the schema.
_METADATA = (
    messages.c.mailbox_id,
    messages.c.uid,
    messages.c.email_id,
    messages.c.internal_date,
    messages.c.size,
    messages.c.flags,
    messages.c.message_id_hash,
    messages.c.modseq,
)
_HIGHEST = _sql(select(mailboxes.c.highestmodseq).where(mailboxes.c.id == _MAILBOX))
_MAILBOX_RECORD = select(
    mailboxes.c.id,
    mailboxes.c.user_id,
    mailboxes.c.name,
    mailboxes.c.uidvalidity,
    mailboxes.c.uidnext,
    mailboxes.c.wrapped_key,
    mailboxes.c.created_at,
    mailboxes.c.special_use,
    mailboxes.c.highestmodseq,
)
_MAILBOX_ROW = _sql(_MAILBOX_RECORD.where(mailboxes.c.id == _MAILBOX))
_NAME = bindparam("name", type_=Text)
_OWNED = _sql(
    _MAILBOX_RECORD.where(mailboxes.c.user_id == bindparam("user", type_=Integer)).where(
        mailboxes.c.name == _NAME
    )
)
_SHARED = _sql(_MAILBOX_RECORD.where(mailboxes.c.user_id.is_(None), mailboxes.c.name == _NAME))
_ALL_MESSAGES = _sql(
    select(*_METADATA).where(messages.c.mailbox_id == _MAILBOX).order_by(messages.c.uid)
)
_MESSAGES = _sql(
    select(*_METADATA)
    .where(messages.c.mailbox_id == _MAILBOX, messages.c.uid.between(_LOW, _HIGH))
    .order_by(messages.c.uid)
)
_BY_KEY = (messages.c.mailbox_id == _MAILBOX) & (messages.c.uid == _UID)
_BODY = _sql(select(messages.c.wrapped_key, messages.c.ciphertext).where(_BY_KEY))
# SQLite takes a blob's length from the record header: a body over the cap is not read.
_SMALL_BODY = _sql(
    select(
        messages.c.wrapped_key,
        case((func.length(messages.c.ciphertext) <= _CAP, messages.c.ciphertext)),
    ).where(_BY_KEY)
)
_SUMMARIES = _sql(
    select(summaries.c.uid, summaries.c.wrapped_key, summaries.c.ciphertext)
    .where(summaries.c.mailbox_id == _MAILBOX, summaries.c.uid.between(_LOW, _HIGH))
    .order_by(summaries.c.uid)
)
_CHANGED = _sql(
    select(*_METADATA)
    .where(messages.c.mailbox_id == _MAILBOX, messages.c.modseq > _MODSEQ)
    .order_by(messages.c.uid)
)
_VANISHED = _sql(
    select(vanished.c.uid)
    .where(vanished.c.mailbox_id == _MAILBOX, vanished.c.modseq > _MODSEQ)
    .order_by(vanished.c.uid)
)


def _utc(value: str) -> datetime:
    # UtcDateTime keeps the naive UTC instant as ISO text on SQLite.
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def _message(row: tuple[Any, ...]) -> StoredMessage:
    mailbox_id, uid, email_id, internal_date, size, flags, message_id_hash, modseq = row
    return StoredMessage(
        mailbox_id=mailbox_id,
        uid=uid,
        email_id=email_id,
        internal_date=_utc(internal_date),
        size=size,
        flags=tuple(flags.split()),
        message_id_hash=message_id_hash,
        modseq=modseq,
    )


def _mailbox(row: tuple[Any, ...]) -> Mailbox:
    box_id, user_id, name, uidvalidity, uidnext, wrapped_key, created_at, use, highest = row
    return Mailbox(
        id=box_id,
        user_id=user_id,
        name=name,
        uidvalidity=uidvalidity,
        uidnext=uidnext,
        wrapped_key=wrapped_key,
        created_at=_utc(created_at),
        special_use=None if use is None else SpecialUse(use),
        highestmodseq=highest,
    )


@contextmanager
def _snapshot(connection: sqlite3.Connection) -> Iterator[None]:
    """The statements of the block read one committed state (a deferred read
    transaction: a snapshot, no lock, nothing for a writer to wait for)."""
    connection.execute("BEGIN")
    try:
        yield
    finally:
        connection.execute("COMMIT")


class SqliteMailboxReads:
    """The read path of the SQLite database file at ``path`` (``url`` names it in
    errors). :meth:`close` ends it; a read after that raises StoreError."""

    def __init__(self, url: URL, path: Path, *, workers: int = READ_WORKERS) -> None:
        self._url = url
        self._uri = f"file:{quote(str(path))}?mode=ro"
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="postseal-read")
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._opened_lock = threading.Lock()
        self._inline: sqlite3.Connection | None = None
        self._inline_lock = threading.Lock()
        self._closed = False

    # -- the reads ---------------------------------------------------------------------

    async def find(self, user_id: int | None, name: str) -> Mailbox | None:
        try:
            keys: dict[str, Any] = {"user": user_id, "name": canonical_name(name)}
        except ValueError:
            return None
        rows = await self._point(_SHARED if user_id is None else _OWNED, keys)
        return _mailbox(rows[0]) if rows else None

    async def highest_modseq(self, mailbox_id: str) -> int | None:
        rows = await self._point(_HIGHEST, {"mailbox": mailbox_id})
        return int(rows[0][0]) if rows else None

    async def body(self, mailbox_id: str, uid: int) -> SealedBody | None:
        keys = {"mailbox": mailbox_id, "uid": uid, "cap": INLINE_BYTES}
        rows = self._inline_rows(_SMALL_BODY, keys)
        if rows is not None:
            if not rows:
                return None
            if rows[0][1] is not None:
                return SealedBody(rows[0][0], rows[0][1])
        rows = await self._run(lambda c: c.execute(_BODY, keys).fetchall())
        return SealedBody(rows[0][0], rows[0][1]) if rows else None

    async def listing(self, mailbox_id: str) -> MailboxListing | None:
        def read(connection: sqlite3.Connection) -> MailboxListing | None:
            keys = {"mailbox": mailbox_id}
            with _snapshot(connection):
                row = connection.execute(_MAILBOX_ROW, keys).fetchall()
                if not row:
                    return None
                found = connection.execute(_ALL_MESSAGES, keys).fetchall()
            return MailboxListing(_mailbox(row[0]), tuple(map(_message, found)))

        return await self._run(read)

    async def messages(
        self, mailbox_id: str, uids: UidSet | None = None
    ) -> Sequence[StoredMessage]:
        match = match_uids(uids)
        if match.empty:
            return []

        def read(connection: sqlite3.Connection) -> list[StoredMessage]:
            if match.ranges is None:
                found = connection.execute(_ALL_MESSAGES, {"mailbox": mailbox_id}).fetchall()
            else:
                found = _by_spans(connection, _MESSAGES, mailbox_id, match.spans())
            return [_message(row) for row in found if match.contains(row[1])]

        return await self._run(read)

    async def summaries(self, mailbox_id: str, uids: UidSet) -> Mapping[int, SealedBody]:
        match = match_uids(uids)
        if match.empty:
            return {}

        def read(connection: sqlite3.Connection) -> dict[int, SealedBody]:
            found = _by_spans(connection, _SUMMARIES, mailbox_id, match.spans())
            return {row[0]: SealedBody(row[1], row[2]) for row in found if match.contains(row[0])}

        return await self._run(read)

    async def changes_since(self, mailbox_id: str, modseq: int) -> MailboxChanges:
        def read(connection: sqlite3.Connection) -> MailboxChanges | None:
            keys = {"mailbox": mailbox_id, "modseq": modseq}
            with _snapshot(connection):
                highest = connection.execute(_HIGHEST, keys).fetchall()
                if not highest:
                    return None
                changed = connection.execute(_CHANGED, keys).fetchall()
                gone = connection.execute(_VANISHED, keys).fetchall()
            return MailboxChanges(
                highestmodseq=int(highest[0][0]),
                changed=tuple(map(_message, changed)),
                vanished=tuple(row[0] for row in gone),
            )

        found = await self._run(read)
        if found is None:
            raise no_mailbox(mailbox_id)
        return found

    # -- where reads run ---------------------------------------------------------------

    async def close(self) -> None:
        """Wait for the reads under way, then close every connection."""
        if self._closed:
            return
        self._closed = True
        await asyncio.to_thread(self._executor.shutdown, wait=True)
        with self._inline_lock, self._opened_lock:
            opened, self._opened = self._opened, []
            self._inline = None
        for connection in opened:
            connection.close()

    def _closed_error(self) -> StoreError:
        return StoreError(f"the {describe(self._url)} is closed", hint="open the store again")

    async def _point(self, statement: str, keys: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """The rows of a point read: on the event loop's thread, or in a worker thread
        where that would wait."""
        rows = self._inline_rows(statement, keys)
        if rows is not None:
            return rows
        return await self._run(lambda c: c.execute(statement, keys).fetchall())

    def _inline_rows(self, statement: str, keys: Mapping[str, Any]) -> list[tuple[Any, ...]] | None:
        """The rows of ``statement`` read on the calling (event loop's) thread; None
        where SQLite would make it wait for a lock (its ``busy_timeout`` is 0 here)."""
        if self._closed:
            raise self._closed_error()
        if not self._inline_lock.acquire(blocking=False):
            return None  # the loop of another thread is reading on it
        try:
            if self._inline is None:
                self._inline = self._open(busy_timeout_ms=0)
            return self._guarded(self._inline, lambda c: c.execute(statement, keys).fetchall())
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                return None
            raise unreachable(self._url, "read", exc) from exc
        finally:
            self._inline_lock.release()

    async def _run(self, read: Callable[[sqlite3.Connection], _T]) -> _T:
        """``read`` in a worker thread, on that thread's connection."""
        if self._closed:
            raise self._closed_error()
        loop = asyncio.get_running_loop()
        try:
            future = loop.run_in_executor(self._executor, self._in_worker, read)
        except RuntimeError:  # close() shut the threads down meanwhile
            raise self._closed_error() from None
        return await future

    def _in_worker(self, read: Callable[[sqlite3.Connection], _T]) -> _T:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        try:
            if connection is None:
                connection = self._local.connection = self._open(
                    busy_timeout_ms=SQLITE_BUSY_TIMEOUT_MS
                )
            return self._guarded(connection, read)
        except sqlite3.OperationalError as exc:
            raise unreachable(self._url, "read", exc) from exc

    def _guarded(
        self, connection: sqlite3.Connection, read: Callable[[sqlite3.Connection], _T]
    ) -> _T:
        if connection.in_transaction:  # a snapshot left open would hide later commits
            connection.rollback()
        try:
            return read(connection)
        except sqlite3.DatabaseError as exc:
            if type(exc) is sqlite3.DatabaseError:  # not a database, or a damaged one
                raise unreachable(self._url, "read", exc) from exc
            raise

    def _open(self, *, busy_timeout_ms: int) -> sqlite3.Connection:
        # Autocommit (isolation_level None): the driver opens no transaction of its own,
        # so a single statement is its own snapshot and _snapshot makes the others. Used
        # by one thread at a time; check_same_thread is off so that close() may close it.
        connection = sqlite3.connect(
            self._uri, uri=True, isolation_level=None, check_same_thread=False
        )
        connection.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        with self._opened_lock:
            self._opened.append(connection)
        return connection


def _by_spans(
    connection: sqlite3.Connection,
    statement: str,
    mailbox_id: str,
    spans: Sequence[tuple[int, int]],
) -> list[tuple[Any, ...]]:
    """The rows of ``statement`` for each UID range, in order, from one snapshot."""
    keys: dict[str, Any] = {"mailbox": mailbox_id}
    if len(spans) == 1:
        keys["low"], keys["high"] = spans[0]
        return connection.execute(statement, keys).fetchall()
    rows: list[tuple[Any, ...]] = []
    with _snapshot(connection):
        for keys["low"], keys["high"] in spans:
            rows.extend(connection.execute(statement, keys).fetchall())
    return rows
