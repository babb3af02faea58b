"""SQLite transactions whose statements run on the event loop's thread (ADR 0023).

Through the async engine every statement is several hops to aiosqlite's thread and back
(a cursor, the statement, the fetch, the close; ``BEGIN`` and ``COMMIT`` besides), and
each hop waits for a turn of a busy event loop: under ten concurrent SMTP sessions a
one-row lookup took 20 to 40 ms of wall time for some 50 µs of SQLite work, and a signed
and encrypted message makes a dozen of them. :class:`SqliteInline` runs the same SQL
repositories on synchronous SQLAlchemy connections instead and gives them an
:class:`InlineConnection`: the members of
:class:`~sqlalchemy.ext.asyncio.AsyncConnection` they use (``execute``,
``begin_nested``, ``dialect``), which return without suspending.

- :meth:`SqliteInline.read` — a read-only snapshot for *point* reads (rows by key, a
  handful of them) on a ``mode=ro`` connection. In WAL mode a reader never waits for a
  writer and never holds one up; the block's statements see one committed state, the
  next block every commit made before it, by this process or another.
- :meth:`SqliteInline.write` — a write transaction for the group commit
  (:mod:`postseal.services.group_commit`): ``BEGIN IMMEDIATE`` and the statements on the
  loop's thread, the ``COMMIT`` — its fsync, ``synchronous=FULL`` — in a worker thread,
  so a slow disk never stalls the loop.

Every connection has ``busy_timeout=0``: should SQLite answer BUSY (another process
holds the write lock, WAL recovery), that one step is run again in a worker thread with
the store's usual timeout, on the same connection (and so, for a read, in the same
snapshot). The loop therefore waits at most for the pages of a few small rows, which is
why listings and scans go through the async engine instead.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, Final, TypeVar, cast
from urllib.parse import quote

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, Connection, CursorResult, Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.pool import ConnectionPoolEntry, QueuePool
from sqlalchemy.sql import Executable

from postseal.store.sql.engine import SQLITE_BUSY_TIMEOUT_MS, store_errors, unreachable

__all__ = ["INLINE_CONNECTIONS", "InlineConnection", "SqliteInline"]

INLINE_CONNECTIONS: Final = 4
"""Read-only connections the pool keeps open; more are opened while blocks overlap."""

_T = TypeVar("_T")
_BUSY_CODES: Final = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
_WRITER_PRAGMAS: Final = ("PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON")


class _BufferedCursor(sqlite3.Cursor):
    """Reads every row at ``execute``, as the async driver's cursor does: no statement
    stays in progress, which SQLite would not let a savepoint be released over."""

    _rows: list[Any]
    _at: int

    def execute(self, sql: str, parameters: Any = (), /) -> _BufferedCursor:
        super().execute(sql, parameters)
        self._rows = super().fetchall()
        self._at = 0
        return self

    def fetchone(self) -> Any:
        if self._at >= len(self._rows):
            return None
        self._at += 1
        return self._rows[self._at - 1]

    def fetchmany(self, size: int | None = None) -> list[Any]:
        end = len(self._rows) if size is None else self._at + max(size, 0)
        rows, self._at = self._rows[self._at : end], min(end, len(self._rows))
        return rows

    def fetchall(self) -> list[Any]:
        rows, self._at = self._rows[self._at :], len(self._rows)
        return rows


class _Connection(sqlite3.Connection):
    def cursor(self, factory: Any = _BufferedCursor) -> Any:
        return super().cursor(factory)


def _busy(exc: BaseException) -> bool:
    orig = exc.orig if isinstance(exc, OperationalError) else exc
    return isinstance(orig, sqlite3.OperationalError) and (
        getattr(orig, "sqlite_errorcode", 0) & 0xFF in _BUSY_CODES
    )


async def _at_once_or_waiting(sync: Connection, step: Callable[[], _T]) -> _T:
    """``step`` on the calling thread; where SQLite answers BUSY, again in a worker
    thread that waits for the lock as long as the store's other connections do."""
    try:
        return step()
    except (OperationalError, sqlite3.OperationalError) as exc:
        if not _busy(exc):
            raise
    driver = sync.connection.dbapi_connection
    assert driver is not None
    driver.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    try:
        return await asyncio.to_thread(step)
    finally:
        driver.execute("PRAGMA busy_timeout=0")


class InlineConnection:
    """What the SQL repositories need of an ``AsyncConnection``, on a synchronous one."""

    def __init__(self, sync: Connection) -> None:
        self._sync = sync

    @property
    def dialect(self) -> Any:
        return self._sync.dialect

    async def execute(
        self, statement: Executable, parameters: Any = None, **options: Any
    ) -> CursorResult[Any]:
        return await _at_once_or_waiting(
            self._sync, lambda: self._sync.execute(statement, parameters, **options)
        )

    @asynccontextmanager
    async def begin_nested(self) -> AsyncIterator[None]:
        """A savepoint: released on normal exit, rolled back to on an exception."""
        with self._sync.begin_nested():
            yield


class SqliteInline:
    """Inline transactions on the SQLite database file at ``path``; ``url`` (the store's
    URL) names it in errors. :meth:`close` ends them."""

    def __init__(self, url: URL, path: Path) -> None:
        self._url = url
        location = f"file:{quote(str(path.resolve()))}"
        self._reader = _engine(f"{location}?mode=ro", pool_size=INLINE_CONNECTIONS)
        self._writer = _engine(location, pool_size=1, pragmas=_WRITER_PRAGMAS)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A read-only snapshot for the block; StoreError if the file cannot be read."""
        with store_errors(self._url, doing="read", connecting=True):
            sync = self._reader.connect()
        try:
            with store_errors(self._url, doing="read"):
                _driver(sync).execute("BEGIN")  # deferred: a snapshot, no lock
                yield _as_async(sync)
        finally:
            sync.close()  # ends the snapshot (the pool's reset rolls back)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction: committed — durably — on normal exit, rolled back on an
        exception. StoreError when the database cannot be reached or stays locked."""
        with store_errors(self._url, doing="use", connecting=True):
            sync = self._writer.connect()
        try:
            with store_errors(self._url, doing="use"):
                driver = _driver(sync)
                with self._driver_errors():
                    await _at_once_or_waiting(sync, lambda: driver.execute("BEGIN IMMEDIATE"))
                try:
                    yield _as_async(sync)
                except BaseException:
                    driver.rollback()
                    raise
                with self._driver_errors():
                    await asyncio.to_thread(driver.commit)
        finally:
            sync.close()

    def close(self) -> None:
        self._reader.dispose()
        self._writer.dispose()

    @contextmanager
    def _driver_errors(self) -> Iterator[None]:
        """sqlite3's own errors (BEGIN and COMMIT go to the driver directly, past
        SQLAlchemy's wrapping) as the store's one-line StoreError."""
        try:
            yield
        except sqlite3.OperationalError as exc:
            raise unreachable(self._url, "use", exc) from exc


def _engine(uri: str, *, pool_size: int, pragmas: tuple[str, ...] = ()) -> Engine:
    # Autocommit at the driver (isolation_level None): postseal says BEGIN itself, and
    # sqlite3's commit() and rollback() end what SQLite has open.
    # check_same_thread is off: a step that waits for a lock runs in a worker thread.
    engine = create_engine(
        "sqlite://",
        creator=lambda: sqlite3.connect(
            uri, uri=True, isolation_level=None, check_same_thread=False, factory=_Connection
        ),
        poolclass=QueuePool,
        pool_size=pool_size,
        max_overflow=-1,  # overlapping blocks each get a connection
    )

    def on_connect(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        for pragma in ("PRAGMA busy_timeout=0", *pragmas):
            dbapi_connection.execute(pragma)

    event.listen(engine, "connect", on_connect)
    return engine


def _driver(sync: Connection) -> sqlite3.Connection:
    driver = sync.connection.dbapi_connection
    assert driver is not None
    return cast(sqlite3.Connection, driver)


def _as_async(sync: Connection) -> AsyncConnection:
    # The repositories are typed for AsyncConnection; InlineConnection has the members
    # they use (execute, begin_nested, dialect), nothing else is reached.
    return cast(AsyncConnection, InlineConnection(sync))
