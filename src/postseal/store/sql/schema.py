"""Schema revisions of the SQL store: upgrade to head, report, and refuse a stale store.

Alembic runs in-process with a configuration built in code (no ``alembic.ini``): the
script location is the :mod:`postseal.store.migrations` package, and ``env.py`` receives
the open connection in ``config.attributes["connection"]``. The upgrade runs in one
transaction (``BEGIN IMMEDIATE`` on SQLite), so two processes upgrading at once queue
and the second finds nothing to do.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from postseal.errors import StoreError
from postseal.store.sql.engine import transaction

__all__ = [
    "SchemaStatus",
    "alembic_config",
    "head_revision",
    "read_status",
    "require_head",
    "upgrade_engine",
]

# The migration tree ships as the package postseal.store.migrations, next to this one.
_MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    """Where a database stands: its revision (``None`` when never initialised) and head."""

    current: str | None
    head: str

    @property
    def is_current(self) -> bool:
        return self.current == self.head


def alembic_config() -> Config:
    """The alembic configuration of postseal's migration tree, built without a file."""
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.set_main_option("path_separator", "os")
    return config


def head_revision() -> str:
    """This postseal's newest schema revision."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the tree always has 0001
        raise RuntimeError("postseal's migration tree has no revision")
    return head


def _known_revisions() -> frozenset[str]:
    script = ScriptDirectory.from_config(alembic_config())
    return frozenset(revision.revision for revision in script.walk_revisions())


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def _upgrade(connection: Connection) -> str | None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
    return _current(connection)


async def upgrade_engine(engine: AsyncEngine) -> str:
    """Bring the database to head; idempotent. Returns the revision now current."""
    async with transaction(engine, doing="upgrade") as connection:
        revision = await connection.run_sync(_upgrade)
    if revision is None:  # pragma: no cover - command.upgrade always stamps
        raise StoreError("the store upgrade left no revision behind")
    return revision


async def read_status(engine: AsyncEngine) -> SchemaStatus:
    """The database's revision next to this postseal's head."""
    async with transaction(engine, doing="read the schema of", readonly=True) as connection:
        current = await connection.run_sync(_current)
    return SchemaStatus(current=current, head=head_revision())


async def require_head(engine: AsyncEngine) -> None:
    """:class:`StoreError` unless the database is at this postseal's head revision."""
    # Read-only: opening the store must not queue for the write lock behind a busy server.
    async with transaction(engine, doing="open", readonly=True) as connection:
        current = await connection.run_sync(_current)
        has_tables = current is not None or bool(
            await connection.run_sync(lambda sync: inspect(sync).get_table_names())
        )
    head = head_revision()
    if current == head:
        return
    if current is None:
        if has_tables:
            raise StoreError(
                "the database holds tables but no postseal schema revision",
                hint="point store.database_url at postseal's own database",
            )
        raise StoreError("the store is not initialised", hint="run `postseal init` to create it")
    if current not in _known_revisions():
        raise StoreError(
            f"the store is at revision {current}, which this postseal ({head}) does not know",
            hint="a newer postseal upgraded it: run that version",
        )
    raise StoreError(
        f"the store is at revision {current}, this postseal needs {head}",
        hint="run `postseal db upgrade`",
    )
