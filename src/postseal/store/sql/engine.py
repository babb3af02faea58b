"""The async engine of the SQL store: which URLs are accepted and how connections behave.

Two URL schemes are supported::

    sqlite+aiosqlite:///var/lib/postseal/postseal.db     embedded (default)
    postgresql+asyncpg://user:password@host:5432/postseal  scale-out

Every SQLite connection runs in WAL mode with ``synchronous=FULL``, foreign keys on and a
10 s busy timeout, and every transaction starts with ``BEGIN IMMEDIATE``: the write lock is
taken up front, so two processes (the server and a CLI command) queue behind each other
instead of both holding a read lock and failing to upgrade it (``SQLITE_BUSY`` without
waiting). PostgreSQL keeps its defaults (``READ COMMITTED``).

Errors name the database by host and database or by path, never with the password.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from postseal.errors import ConfigError, StoreError

__all__ = [
    "SQLITE_BUSY_TIMEOUT_MS",
    "SUPPORTED_SCHEMES",
    "create_engine",
    "describe",
    "parse_url",
    "require_sqlite_directory",
    "sqlite_path",
    "store_errors",
    "transaction",
    "unreachable",
]

SUPPORTED_SCHEMES = ("sqlite+aiosqlite", "postgresql+asyncpg")
SQLITE_BUSY_TIMEOUT_MS = 10_000
_PG_CONNECT_TIMEOUT_S = 10

_SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=ON",
    f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
)


def parse_url(url: str) -> URL:
    """Parse a store URL; :class:`ConfigError` unless its scheme is a supported one."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        scheme = url.split(":", 1)[0] if ":" in url else ""
        raise _scheme_error(scheme) from None
    if parsed.drivername not in SUPPORTED_SCHEMES:
        raise _scheme_error(parsed.drivername)
    return parsed


def _scheme_error(scheme: str) -> ConfigError:
    shown = f"scheme {scheme!r}" if scheme else "no scheme"
    return ConfigError(
        f"the store URL has {shown}; postseal supports "
        f"{SUPPORTED_SCHEMES[0]}:///path and {SUPPORTED_SCHEMES[1]}://host/db",
        hint="set store.database_url to a sqlite+aiosqlite:// or postgresql+asyncpg:// URL",
    )


def describe(url: URL) -> str:
    """Name the database for a message: its file, or host, port and database name."""
    if url.get_backend_name() == "sqlite":
        return f"SQLite database {url.database or ':memory:'}"
    host = url.host or "localhost"
    port = url.port or 5432
    return f"PostgreSQL database {url.database or '(default)'} on {host}:{port}"


def create_engine(url: URL) -> AsyncEngine:
    """Create the engine for a parsed, supported URL; connects lazily."""
    if url.get_backend_name() == "sqlite":
        engine = create_async_engine(url)
        event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
        event.listen(engine.sync_engine, "begin", _sqlite_on_begin)
        return engine
    return create_async_engine(url, connect_args={"timeout": _PG_CONNECT_TIMEOUT_S})


READONLY_OPTION = "postseal_readonly"


def _sqlite_on_connect(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    # The driver's own transaction handling would emit a deferred BEGIN lazily; turn it
    # off so that _sqlite_on_begin decides how a transaction starts (SQLAlchemy's
    # documented recipe for pysqlite / aiosqlite).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        for pragma in _SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def _sqlite_on_begin(connection: Connection) -> None:
    # Writers take the write lock up front (BEGIN IMMEDIATE) so two processes never
    # deadlock upgrading read locks; a read-only transaction starts deferred and so runs
    # beside a writer under WAL instead of queueing behind it.
    if connection.get_execution_options().get(READONLY_OPTION):
        connection.exec_driver_sql("BEGIN DEFERRED")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


@contextmanager
def store_errors(url: URL, *, doing: str, connecting: bool = False) -> Iterator[None]:
    """Turn a failure to reach the database into a one-line :class:`StoreError`.

    Only connection-level failures are translated; a constraint violation or a
    programming error passes through unchanged. With ``connecting``, socket errors and
    the driver's own exceptions count too: asyncpg raises them before SQLAlchemy can
    wrap them, and around a connect attempt nothing else can raise them.
    """
    try:
        yield
    except DBAPIError as exc:
        # Around a connect attempt every driver error (unknown database, refused
        # password) means the store cannot be reached. The cause is chained from the
        # driver's error, not SQLAlchemy's, whose text would quote the statement and its
        # parameters into the logs.
        if (
            connecting
            or exc.connection_invalidated
            or isinstance(exc, OperationalError | InterfaceError)
        ):
            raise unreachable(url, doing, exc.orig) from exc.orig
        raise
    except Exception as exc:
        if connecting and (
            isinstance(exc, OSError | TimeoutError) or type(exc).__module__.startswith("asyncpg")
        ):
            raise unreachable(url, doing, exc) from exc
        raise


def unreachable(url: URL, doing: str, cause: BaseException | None) -> StoreError:
    """The one-line :class:`StoreError` for failing to ``doing`` the database at ``url``
    because of ``cause`` (its first line, the password masked), with a hint."""
    reason = _reason(url, cause)
    if url.get_backend_name() == "sqlite":
        if "locked" in reason or "busy" in reason:
            hint = "another postseal process held the store too long; try again"
        else:
            hint = "check that the directory exists and is writable by postseal"
    else:
        hint = "check that PostgreSQL runs, the database exists and store.database_url is right"
    return StoreError(f"cannot {doing} the {describe(url)}: {reason}", hint=hint)


def _reason(url: URL, cause: BaseException | None) -> str:
    if cause is None:
        return "unknown error"
    text = str(cause).strip().splitlines()
    reason = text[0] if text and text[0] else type(cause).__name__
    if url.password:
        reason = reason.replace(str(url.password), "***")
    return reason


@asynccontextmanager
async def transaction(
    engine: AsyncEngine, *, doing: str, readonly: bool = False
) -> AsyncIterator[AsyncConnection]:
    """A connection in a transaction: commit on normal exit, roll back on exception.

    Failing to connect, losing the connection and failing to commit raise
    :class:`StoreError`; any other exception of the block passes through unchanged.
    """
    connection = engine.connect()
    with store_errors(engine.url, doing=doing, connecting=True):
        await connection.start()
    if readonly:
        # postgresql_readonly makes asyncpg start the transaction READ ONLY: a write by
        # mistake fails loudly instead of being taken.
        await connection.execution_options(**{READONLY_OPTION: True, "postgresql_readonly": True})
    try:
        with store_errors(engine.url, doing=doing):
            await connection.begin()
            try:
                yield connection
            except BaseException:
                await connection.rollback()
                raise
            await connection.commit()
    finally:
        await connection.close()


def sqlite_path(url: URL) -> Path | None:
    """The file of a SQLite URL, or ``None`` for another dialect or an in-memory database."""
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(str(url.database))


def require_sqlite_directory(url: URL) -> None:
    """:class:`StoreError` if a SQLite file cannot be created because its directory is
    missing. Checked before connecting: the message is clearer than SQLite's "unable to
    open database file", and a failed aiosqlite connect leaves its worker thread to
    report to an event loop that may be gone (omnilib/aiosqlite#241)."""
    path = sqlite_path(url)
    if path is not None and not path.parent.is_dir():
        raise StoreError(
            f"cannot open the {describe(url)}: the directory {path.parent} does not exist",
            hint="create the data directory, or check store.database_url",
        )
