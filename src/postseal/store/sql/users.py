"""Users, their groups and their two directory certificate attributes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, and_, delete, exists, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from postseal.errors import ConflictError, NotFoundError
from postseal.store.ports import DirectoryAttribute, DirectoryEntry, NewUser, UserRecord
from postseal.store.sql.statements import ConstraintViolation, execute, guarded, upsert
from postseal.store.sql.tables import directory_attributes, user_groups, users
from postseal.store.sql.tables import groups as groups_table

__all__ = ["SqlDirectoryRepository", "SqlUserRepository"]


def _no_user(user_id: int) -> NotFoundError:
    return NotFoundError(f"there is no user with id {user_id}")


async def _user_exists(connection: AsyncConnection, user_id: int) -> bool:
    result = await connection.execute(select(exists().where(users.c.id == user_id)))
    return bool(result.scalar())


class SqlUserRepository:
    """:class:`~postseal.store.ports.UserRepository` on SQL.

    Addresses and extensions are compared exactly as given; callers normalise them
    first. ``list`` is ordered by address, ``groups`` of a record by name. Ids are never
    reused, so certificates of a removed user stay with that user's id only.
    """

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, user: NewUser) -> UserRecord:
        now = datetime.now(UTC)
        statement = (
            insert(users)
            .values(
                address=user.address,
                display_name=user.display_name,
                enabled=user.enabled,
                password_hash=user.password_hash,
                template=user.template,
                extension=user.extension,
                created_at=now,
                updated_at=now,
            )
            .returning(users.c.id)
        )
        try:
            result = await guarded(self._connection, statement)
        except ConstraintViolation:
            raise await self._conflict(address=user.address, extension=user.extension) from None
        record = await self.get_by_id(result.scalar_one())
        assert record is not None
        return record

    async def get(self, address: str) -> UserRecord | None:
        return await self._one(users.c.address == address)

    async def get_by_id(self, user_id: int) -> UserRecord | None:
        return await self._one(users.c.id == user_id)

    async def get_by_extension(self, extension: str) -> UserRecord | None:
        return await self._one(users.c.extension == extension)

    async def list(self, *, enabled_only: bool = False) -> Sequence[UserRecord]:
        query = select(users).order_by(users.c.address)
        if enabled_only:
            query = query.where(users.c.enabled.is_(True))
        rows = (await self._connection.execute(query)).all()
        memberships = await self._groups_of([row.id for row in rows])
        return [_user(row, memberships.get(row.id, ())) for row in rows]

    async def update(
        self,
        user_id: int,
        *,
        display_name: str | None = None,
        enabled: bool | None = None,
        password_hash: str | None = None,
        template: str | None = None,
        extension: str | None = None,
    ) -> UserRecord:
        changes: dict[str, Any] = {
            name: value
            for name, value in (
                ("display_name", display_name),
                ("enabled", enabled),
                ("password_hash", password_hash),
                ("template", template),
                ("extension", extension),
            )
            if value is not None
        }
        changes["updated_at"] = datetime.now(UTC)
        statement = update(users).where(users.c.id == user_id).values(**changes)
        try:
            result = await guarded(self._connection, statement)
        except ConstraintViolation:
            raise await self._conflict(extension=extension, user_id=user_id) from None
        if result.rowcount == 0:
            raise _no_user(user_id)
        record = await self.get_by_id(user_id)
        assert record is not None
        return record

    async def set_groups(self, user_id: int, groups: Sequence[str]) -> None:
        """Replace the user's groups with ``groups`` (created as needed); NotFoundError
        if the user is absent."""
        if not await _user_exists(self._connection, user_id):
            raise _no_user(user_id)
        names = sorted(set(groups))
        await self._connection.execute(delete(user_groups).where(user_groups.c.user_id == user_id))
        if not names:
            return
        await execute(
            self._connection,
            upsert(self._connection, groups_table, [{"name": n} for n in names], keys=["name"]),
        )
        chosen = select(literal(user_id), groups_table.c.id).where(groups_table.c.name.in_(names))
        await self._connection.execute(
            insert(user_groups).from_select(["user_id", "group_id"], chosen)
        )

    async def remove(self, user_id: int) -> None:
        """Delete the user with groups and directory attributes (cascade); certificates stay
        with their ``user_id``. NotFoundError if the user is absent."""
        result = await self._connection.execute(delete(users).where(users.c.id == user_id))
        if result.rowcount == 0:
            raise _no_user(user_id)

    async def _one(self, condition: Any) -> UserRecord | None:
        row = (await self._connection.execute(select(users).where(condition))).first()
        if row is None:
            return None
        memberships = await self._groups_of([row.id])
        return _user(row, memberships.get(row.id, ()))

    async def _groups_of(self, user_ids: Iterable[int]) -> dict[int, tuple[str, ...]]:
        ids = list(user_ids)
        if not ids:
            return {}
        query = (
            select(user_groups.c.user_id, groups_table.c.name)
            .join(groups_table, groups_table.c.id == user_groups.c.group_id)
            .where(user_groups.c.user_id.in_(ids))
            .order_by(user_groups.c.user_id, groups_table.c.name)
        )
        found: dict[int, list[str]] = {}
        for user_id, name in (await self._connection.execute(query)).all():
            found.setdefault(user_id, []).append(name)
        return {user_id: tuple(names) for user_id, names in found.items()}

    async def _conflict(
        self, *, address: str | None = None, extension: str | None, user_id: int | None = None
    ) -> ConflictError:
        if address is not None and await self.get(address) is not None:
            return ConflictError(
                f"a user with address {address} already exists",
                hint="choose another address or change the existing user",
            )
        holder = await self.get_by_extension(extension) if extension is not None else None
        if holder is not None and holder.id != user_id:
            return ConflictError(
                f"the phone extension {extension} already belongs to {holder.address}",
                hint="choose another extension",
            )
        return ConflictError("the user conflicts with an existing one")


def _user(row: Row[Any], group_names: tuple[str, ...]) -> UserRecord:
    return UserRecord(
        id=row.id,
        address=row.address,
        display_name=row.display_name,
        enabled=bool(row.enabled),
        password_hash=row.password_hash,
        template=row.template,
        extension=row.extension,
        groups=group_names,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


class SqlDirectoryRepository:
    """:class:`~postseal.store.ports.DirectoryRepository` on SQL: one row per set attribute.

    Every method raises :class:`~postseal.errors.NotFoundError` for an unknown user id,
    so that a removed user cannot be mistaken for one without certificates.
    """

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def published(self, addresses: Sequence[str]) -> dict[str, DirectoryEntry]:
        wanted = list(dict.fromkeys(addresses))
        if not wanted:
            return {}
        query = (
            select(users.c.address, directory_attributes.c.attribute, directory_attributes.c.der)
            .select_from(
                users.outerjoin(directory_attributes, directory_attributes.c.user_id == users.c.id)
            )
            .where(users.c.address.in_(wanted), users.c.enabled.is_(True))
        )
        values: dict[str, dict[str, bytes]] = {}
        for row in await self._connection.execute(query):
            found = values.setdefault(row.address, {})
            if row.attribute is not None:
                found[row.attribute] = row.der
        return {
            address: DirectoryEntry(
                user_certificate=found.get(DirectoryAttribute.USER_CERTIFICATE.value),
                user_smime_certificate=found.get(DirectoryAttribute.USER_SMIME_CERTIFICATE.value),
            )
            for address, found in values.items()
        }

    async def get(self, user_id: int) -> DirectoryEntry:
        await self._require_user(user_id)
        query = select(directory_attributes.c.attribute, directory_attributes.c.der).where(
            directory_attributes.c.user_id == user_id
        )
        values = {row.attribute: row.der for row in await self._connection.execute(query)}
        return DirectoryEntry(
            user_certificate=values.get(DirectoryAttribute.USER_CERTIFICATE.value),
            user_smime_certificate=values.get(DirectoryAttribute.USER_SMIME_CERTIFICATE.value),
        )

    async def set(self, user_id: int, attribute: DirectoryAttribute, der: bytes | None) -> None:
        await self._write(user_id, (DirectoryAttribute(attribute),), der)

    async def publish(self, user_id: int, der: bytes | None) -> None:
        await self._write(user_id, tuple(DirectoryAttribute), der)

    async def _write(
        self, user_id: int, attributes: tuple[DirectoryAttribute, ...], der: bytes | None
    ) -> None:
        await self._require_user(user_id)
        if der is None:
            statement: Any = delete(directory_attributes).where(
                and_(
                    directory_attributes.c.user_id == user_id,
                    directory_attributes.c.attribute.in_([a.value for a in attributes]),
                )
            )
        else:
            rows = [
                {"user_id": user_id, "attribute": a.value, "der": bytes(der)} for a in attributes
            ]
            statement = upsert(
                self._connection, directory_attributes, rows, keys=["user_id", "attribute"]
            )
        try:
            await guarded(self._connection, statement)
        except ConstraintViolation:
            # The user was removed by a concurrent transaction after the check above.
            raise _no_user(user_id) from None

    async def _require_user(self, user_id: int) -> None:
        if not await _user_exists(self._connection, user_id):
            raise _no_user(user_id)
