"""The SQL store: opening it, checking and upgrading its schema, and its transactions.

The rest of postseal calls three functions, all with a store URL
(``sqlite+aiosqlite:///path`` or ``postgresql+asyncpg://user@host/db``)::

    store = await open_store(url)                # refuses a store not at head
    store = await open_store(url, migrate=True)  # upgrades first (``postseal init``)
    revision = await upgrade(url)                # ``postseal db upgrade``; idempotent
    status = await check(url)                    # ``postseal db status``

A URL of another scheme raises :class:`~postseal.errors.ConfigError`; a database that
cannot be reached, or whose schema is not this postseal's head revision, raises
:class:`~postseal.errors.StoreError`. :func:`open_store` never creates a SQLite file
unless ``migrate`` is set, so a mistyped path reports "not initialised" and leaves no
empty database behind.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from postseal.errors import StoreError
from postseal.store import ports
from postseal.store.sql.auth_failures import SqlAuthFailureRepository
from postseal.store.sql.certificates import (
    SqlCertificateRepository,
    SqlCrlRepository,
    SqlTemplateRepository,
)
from postseal.store.sql.contacts import SqlContactRepository
from postseal.store.sql.engine import (
    create_engine,
    parse_url,
    require_sqlite_directory,
    sqlite_path,
    transaction,
)
from postseal.store.sql.mailbox_reads import EngineMailboxReads
from postseal.store.sql.mailboxes import SqlMailboxRepository
from postseal.store.sql.meta import SqlAuditRepository, SqlMetaRepository
from postseal.store.sql.policy_rules import SqlPolicyRuleRepository
from postseal.store.sql.quarantine import SqlQuarantineRepository
from postseal.store.sql.queue import SqlQueueRepository
from postseal.store.sql.schema import (
    SchemaStatus,
    head_revision,
    read_status,
    require_head,
    upgrade_engine,
)
from postseal.store.sql.sqlite_inline import SqliteInline
from postseal.store.sql.sqlite_reads import SqliteMailboxReads
from postseal.store.sql.trust import SqlImportedCrlRepository, SqlTrustRepository
from postseal.store.sql.users import SqlDirectoryRepository, SqlUserRepository
from postseal.store.sql.zero_access import SqlZeroAccessRepository

__all__ = ["SqlStore", "SqlTransaction", "check", "open_store", "upgrade"]


class SqlTransaction:
    """:class:`~postseal.store.ports.Transaction`: every repository on one connection.

    A repository method that raises ConflictError or NotFoundError has changed nothing,
    and the transaction stays usable: the caller may catch the error and go on.
    """

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection
        self._meta = SqlMetaRepository(connection)
        self._users = SqlUserRepository(connection)
        self._templates = SqlTemplateRepository(connection)
        self._certificates = SqlCertificateRepository(connection)
        self._directory = SqlDirectoryRepository(connection)
        self._crls = SqlCrlRepository(connection)
        self._trust = SqlTrustRepository(connection)
        self._imported_crls = SqlImportedCrlRepository(connection)
        self._audit = SqlAuditRepository(connection)
        self._queue = SqlQueueRepository(connection)
        self._mailboxes = SqlMailboxRepository(connection)
        self._quarantine = SqlQuarantineRepository(connection)
        self._contacts = SqlContactRepository(connection)
        self._policy_rules = SqlPolicyRuleRepository(connection)
        self._zero_access = SqlZeroAccessRepository(connection)
        self._auth_failures = SqlAuthFailureRepository(connection)

    @property
    def meta(self) -> SqlMetaRepository:
        return self._meta

    @property
    def users(self) -> SqlUserRepository:
        return self._users

    @property
    def templates(self) -> SqlTemplateRepository:
        return self._templates

    @property
    def certificates(self) -> SqlCertificateRepository:
        return self._certificates

    @property
    def directory(self) -> SqlDirectoryRepository:
        return self._directory

    @property
    def crls(self) -> SqlCrlRepository:
        return self._crls

    @property
    def trust(self) -> SqlTrustRepository:
        return self._trust

    @property
    def imported_crls(self) -> SqlImportedCrlRepository:
        return self._imported_crls

    @property
    def audit(self) -> SqlAuditRepository:
        return self._audit

    @property
    def queue(self) -> SqlQueueRepository:
        return self._queue

    @property
    def mailboxes(self) -> SqlMailboxRepository:
        return self._mailboxes

    @property
    def quarantine(self) -> SqlQuarantineRepository:
        return self._quarantine

    @property
    def contacts(self) -> SqlContactRepository:
        return self._contacts

    @property
    def policy_rules(self) -> SqlPolicyRuleRepository:
        return self._policy_rules

    @property
    def zero_access(self) -> SqlZeroAccessRepository:
        return self._zero_access

    @property
    def auth_failures(self) -> SqlAuthFailureRepository:
        return self._auth_failures


class SqlStore:
    """:class:`~postseal.store.ports.Store` on an SQLAlchemy async engine.

    Build it with :func:`open_store`. On SQLite every transaction takes the write lock at
    its start (``BEGIN IMMEDIATE``) and waits up to 10 s for another process to finish.
    The mailbox read path (:attr:`reads`) of a SQLite file has read-only connections of
    its own (:mod:`~postseal.store.sql.sqlite_reads`); elsewhere it runs read-only
    transactions of the engine (ADR 0017).
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        path = sqlite_path(engine.url)
        self._reads: SqliteMailboxReads | EngineMailboxReads = (
            EngineMailboxReads(engine) if path is None else SqliteMailboxReads(engine.url, path)
        )
        self._inline = None if path is None else SqliteInline(engine.url, path)

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._engine.dialect.name

    @asynccontextmanager
    async def begin(self, *, readonly: bool = False) -> AsyncIterator[SqlTransaction]:
        """A transaction: commit on normal exit, roll back on exception.

        ``readonly`` transactions only read: on SQLite they do not take the write lock
        (they run beside a writer), on PostgreSQL they are READ ONLY. Losing the database
        (or waiting too long for SQLite's lock) raises StoreError.
        """
        async with transaction(self._engine, doing="use", readonly=readonly) as connection:
            yield SqlTransaction(connection)

    @asynccontextmanager
    async def peek(self) -> AsyncIterator[SqlTransaction]:
        """A read-only transaction for a few point reads (rows by key, never a scan).

        On SQLite it runs on the calling thread without suspending (ADR 0023,
        :mod:`~postseal.store.sql.sqlite_inline`); on PostgreSQL it is
        ``begin(readonly=True)``. Writing in it fails."""
        if self._inline is None:
            async with self.begin(readonly=True) as tx:
                yield tx
            return
        async with self._inline.read() as connection:
            yield SqlTransaction(connection)

    @asynccontextmanager
    async def begin_batch(self) -> AsyncIterator[SqlTransaction]:
        """A write transaction for the group commit, as :meth:`begin`. On SQLite its
        statements run on the calling thread and only the commit waits in a worker
        (ADR 0023, :mod:`~postseal.store.sql.sqlite_inline`)."""
        if self._inline is None:
            async with self.begin() as tx:
                yield tx
            return
        async with self._inline.write() as connection:
            yield SqlTransaction(connection)

    @property
    def reads(self) -> SqliteMailboxReads | EngineMailboxReads:
        """:class:`~postseal.store.ports.mailbox_reads.MailboxReads`: each read a call of
        its own, outside any transaction (the sessions' per-command reads)."""
        return self._reads

    async def close(self) -> None:
        """Close every pooled connection; the store cannot be used afterwards."""
        try:
            await self._reads.close()
        finally:
            if self._inline is not None:
                self._inline.close()
            await self._engine.dispose()


async def open_store(url: str, *, migrate: bool = False) -> SqlStore:
    """Open the store at ``url`` for use.

    With ``migrate`` the schema is first brought to head (creating the database file for
    SQLite); without it the schema must already be at head, else StoreError says what
    to run. ConfigError for an unsupported URL scheme; StoreError when unreachable.
    """
    parsed = parse_url(url)
    path = sqlite_path(parsed)
    if not migrate and path is not None and not path.exists():
        raise StoreError(
            f"the store is not initialised: there is no SQLite database at {path}",
            hint="run `postseal init`, or check store.url",
        )
    require_sqlite_directory(parsed)
    engine = create_engine(parsed)
    try:
        if migrate:
            await upgrade_engine(engine)
        else:
            await require_head(engine)
    except BaseException:
        await engine.dispose()
        raise
    return SqlStore(engine)


async def upgrade(url: str) -> str:
    """Bring the store at ``url`` to this postseal's head revision and return it.

    Idempotent; creates the SQLite file (not its directory) when missing.
    """
    parsed = parse_url(url)
    require_sqlite_directory(parsed)
    engine = create_engine(parsed)
    try:
        return await upgrade_engine(engine)
    finally:
        await engine.dispose()


async def check(url: str) -> SchemaStatus:
    """The store's schema revision next to this postseal's head; changes nothing.

    A SQLite file that does not exist reports ``current=None`` without being created.
    """
    parsed = parse_url(url)
    path = sqlite_path(parsed)
    if path is not None and not path.exists():
        return SchemaStatus(current=None, head=head_revision())
    engine = create_engine(parsed)
    try:
        return await read_status(engine)
    finally:
        await engine.dispose()


if TYPE_CHECKING:
    # mypy proves here that the adapter satisfies every port Protocol.
    def _satisfies_ports(
        store: SqlStore, tx: SqlTransaction
    ) -> tuple[ports.Store, ports.Transaction]:
        return store, tx
