"""Alembic environment: runs the migrations on the connection given in ``config.attributes``.

postseal never runs alembic from the command line; :func:`postseal.store.sql.schema.upgrade`
opens an async connection, calls ``connection.run_sync`` and puts the sync connection in
``config.attributes["connection"]``. Offline (SQL script) mode is not supported.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from postseal.store.sql.tables import metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("postseal's store migrations run online only: use `postseal db upgrade`")

_connection = context.config.attributes.get("connection")
if not isinstance(_connection, Connection):
    raise RuntimeError(
        "postseal's store migrations need config.attributes['connection']: "
        "run them through postseal.store.sql.schema.upgrade"
    )
_run(_connection)
