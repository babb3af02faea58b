"""Statement building that differs between SQLite and PostgreSQL, and savepoint guards.

Both dialects spell an upsert ``INSERT … ON CONFLICT (…) DO UPDATE``; SQLAlchemy offers it
per dialect, so :func:`upsert` picks the right one. Statements that may violate a
constraint run in a savepoint (:func:`guarded`): on PostgreSQL a failed statement would
otherwise abort the whole transaction, and the caller could not go on after catching the
:class:`~postseal.errors.ConflictError`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Executable, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import DBAPIError, IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["ConstraintViolation", "execute", "guarded", "upsert"]


class ConstraintViolation(Exception):
    """A statement run by :func:`guarded` broke a constraint; the savepoint is undone."""


def upsert(
    connection: AsyncConnection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    keys: Sequence[str],
) -> Executable:
    """``INSERT`` the rows; where a row's ``keys`` exist, overwrite its other columns (or
    keep the row as it is when there are no other columns)."""
    insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    statement = insert(table).values(list(rows))
    updated = [name for name in rows[0] if name not in keys]
    if not updated:
        return statement.on_conflict_do_nothing(index_elements=list(keys))
    return statement.on_conflict_do_update(
        index_elements=list(keys),
        set_={name: statement.excluded[name] for name in updated},
    )


async def execute(
    connection: AsyncConnection,
    statement: Executable,
    rows: Sequence[Mapping[str, Any]] | None = None,
) -> CursorResult[Any]:
    """Execute — with ``rows``, once per row as one batch (``executemany``: compiled
    once, however many rows); a value a column type refuses (a naive datetime) raises its
    ``ValueError`` instead of SQLAlchemy's wrapper, which would quote the statement."""
    try:
        return await connection.execute(statement, rows)
    except StatementError as exc:
        if isinstance(exc.orig, ValueError | TypeError) and not isinstance(exc, DBAPIError):
            raise exc.orig from None
        raise


async def guarded(connection: AsyncConnection, statement: Executable) -> CursorResult[Any]:
    """Execute in a savepoint; :class:`ConstraintViolation` (without the SQL) if it breaks a
    unique, foreign-key or check constraint. The transaction stays usable either way."""
    try:
        async with connection.begin_nested():
            return await execute(connection, statement)
    except IntegrityError:
        raise ConstraintViolation from None
