"""The SQL adapter of the store ports: SQLAlchemy Core on asyncio, SQLite or PostgreSQL.

Open a store with :func:`open_store`; manage its schema with :func:`upgrade` and
:func:`check`. See :mod:`postseal.store.sql.store` for the contract and
``docs/adr/0002-store.md`` for the reasons.
"""

from postseal.store.sql.schema import SchemaStatus
from postseal.store.sql.store import SqlStore, SqlTransaction, check, open_store, upgrade

__all__ = ["SchemaStatus", "SqlStore", "SqlTransaction", "check", "open_store", "upgrade"]
