"""The durable mail queue: sealed messages, their recipients, and runners' leases.

A runner leases recipients with :meth:`SqlQueueRepository.claim_due`. On PostgreSQL the
due rows are read with ``SELECT … FOR UPDATE SKIP LOCKED``: a second node skips rows the
first is leasing instead of waiting for them, and a row whose lease committed meanwhile
fails the re-checked ``WHERE``. On SQLite every transaction holds the write lock from its
``BEGIN IMMEDIATE``, so claims are serial. Every ``mark_*`` is one ``UPDATE`` guarded by
``status = 'pending' AND lease_owner = :owner``; when it matches no row, nothing changed
and the reason is read back for the error.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Row,
    and_,
    case,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    tuple_,
    type_coerce,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from postseal.errors import ConflictError, NotFoundError
from postseal.store.ports import (
    ClaimedMessage,
    NewRecipient,
    QueuedMessage,
    QueuedRecipient,
    QueueEntry,
    RecipientKind,
    RecipientStatus,
    SealedBody,
)
from postseal.store.sql.statements import execute
from postseal.store.sql.tables import queue_messages, queue_recipients
from postseal.store.sql.types import UtcDateTime

__all__ = ["SqlQueueRepository"]

_PENDING = RecipientStatus.PENDING.value
_ENVELOPE = [c for c in queue_messages.c if c.name not in ("wrapped_key", "ciphertext")]
# The id is the only constraint a queued message can break; ON CONFLICT DO NOTHING lets
# the row count tell, without the savepoint a guarded insert costs (two statements more
# per message on the intake's hot path).
_INSERT_MESSAGE = {
    "sqlite": sqlite.insert(queue_messages).on_conflict_do_nothing(index_elements=["id"]),
    "postgresql": postgresql.insert(queue_messages).on_conflict_do_nothing(index_elements=["id"]),
}
_INSERT_RECIPIENTS = insert(queue_recipients)
# Keys in one IN (...) list: far below SQLite's limit of 32,766 bound parameters
_KEYS_PER_STATEMENT = 1000


class SqlQueueRepository:
    """:class:`~postseal.store.ports.QueueRepository` on SQL.

    Messages are listed by id, which is time-ordered; recipients by address.
    """

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def enqueue(
        self, message: QueuedMessage, body: SealedBody, recipients: Sequence[NewRecipient]
    ) -> None:
        (refused,) = await self.enqueue_many([(message, body, recipients)])
        if refused is not None:
            raise refused

    async def enqueue_many(
        self, entries: Sequence[tuple[QueuedMessage, SealedBody, Sequence[NewRecipient]]]
    ) -> list[Exception | None]:
        refused: list[Exception | None] = [None] * len(entries)
        rows: dict[str, dict[str, Any]] = {}
        for n, (message, body, recipients) in enumerate(entries):
            try:
                _check(message, recipients)
            except ValueError as exc:
                refused[n] = exc
                continue
            if message.id in rows:
                refused[n] = _exists(message.id)
                continue
            row = {c.name: getattr(message, c.name) for c in _ENVELOPE}
            row.update(wrapped_key=bytes(body.wrapped_key), ciphertext=bytes(body.ciphertext))
            rows[message.id] = row
        if not rows:
            return refused
        statement = _INSERT_MESSAGE[self._connection.dialect.name].returning(queue_messages.c.id)
        result = await execute(self._connection, statement, list(rows.values()))
        inserted = set(result.scalars())
        recipient_rows = []
        for n, (message, _, recipients) in enumerate(entries):
            if refused[n] is not None:
                continue
            if message.id not in inserted:
                refused[n] = _exists(message.id)
                continue
            recipient_rows += [
                {
                    "message_id": message.id,
                    "address": r.address,
                    "kind": RecipientKind(r.kind).value,
                    "status": _PENDING,
                    "attempts": 0,
                    "next_attempt_at": message.received_at,
                    "notify": r.notify,
                    "orcpt": r.orcpt,
                }
                for r in recipients
            ]
        if recipient_rows:
            await execute(self._connection, _INSERT_RECIPIENTS, recipient_rows)
        return refused

    async def release_leases(self, *, owner_prefix: str) -> int:
        if not owner_prefix:
            raise ValueError("releasing every runner's leases needs an explicit owner prefix")
        pattern = owner_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        result = await execute(
            self._connection,
            update(queue_recipients)
            .where(
                queue_recipients.c.status == _PENDING,
                queue_recipients.c.lease_owner.like(pattern, escape="\\"),
            )
            .values(lease_owner=None, lease_until=None),
        )
        return int(result.rowcount or 0)

    async def claim_due(
        self, now: datetime, *, owner: str, lease_seconds: float, limit: int = 100
    ) -> Sequence[ClaimedMessage]:
        if lease_seconds <= 0 or limit < 1:
            raise ValueError("a claim needs a positive lease and a limit of at least 1")
        query = (
            select(queue_recipients.c.message_id, queue_recipients.c.address)
            .where(
                queue_recipients.c.status == _PENDING,
                queue_recipients.c.next_attempt_at <= now,
                or_(
                    queue_recipients.c.lease_until.is_(None), queue_recipients.c.lease_until <= now
                ),
            )
            .order_by(
                queue_recipients.c.next_attempt_at,
                queue_recipients.c.message_id,
                queue_recipients.c.address,
            )
            .limit(limit)
        )
        if self._connection.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        keys = [tuple(row) for row in (await execute(self._connection, query)).all()]
        if not keys:
            return []
        chosen = tuple_(queue_recipients.c.message_id, queue_recipients.c.address).in_(keys)
        await execute(
            self._connection,
            update(queue_recipients)
            .where(chosen)
            .values(
                lease_owner=owner,
                lease_until=now + timedelta(seconds=lease_seconds),
                attempts=queue_recipients.c.attempts + 1,
            ),
        )
        leased: dict[str, list[QueuedRecipient]] = {}
        for row in await self._connection.execute(select(queue_recipients).where(chosen)):
            leased.setdefault(row.message_id, []).append(_recipient(row))
        found = await self._connection.execute(
            select(queue_messages)
            .where(queue_messages.c.id.in_(list(leased)))
            .order_by(queue_messages.c.id)
        )
        return [
            ClaimedMessage(
                message=_message(row),
                body=SealedBody(wrapped_key=row.wrapped_key, ciphertext=row.ciphertext),
                recipients=tuple(sorted(leased[row.id], key=lambda r: r.address)),
            )
            for row in found
        ]

    async def mark_delivered(
        self, message_id: str, address: str, *, owner: str, at: datetime
    ) -> None:
        changes = {"status": RecipientStatus.DELIVERED.value, "finished_at": at}
        await self._move(message_id, address, owner, changes, doing="delivered")

    async def mark_delivered_many(
        self, keys: Sequence[tuple[str, str]], *, owner: str, at: datetime
    ) -> list[Exception | None]:
        refused: list[Exception | None] = [None] * len(keys)
        if len(set(keys)) != len(keys):
            raise ValueError("mark_delivered_many names a recipient twice")
        changes = {
            "status": RecipientStatus.DELIVERED.value,
            "finished_at": at,
            "next_attempt_at": None,
            "lease_owner": None,
            "lease_until": None,
        }
        done: set[tuple[str, str]] = set()
        for start in range(0, len(keys), _KEYS_PER_STATEMENT):
            chunk = list(keys[start : start + _KEYS_PER_STATEMENT])
            statement = (
                update(queue_recipients)
                .where(
                    tuple_(queue_recipients.c.message_id, queue_recipients.c.address).in_(chunk),
                    queue_recipients.c.status == _PENDING,
                    queue_recipients.c.lease_owner == owner,
                )
                .values(**changes)
                .returning(queue_recipients.c.message_id, queue_recipients.c.address)
            )
            result = await execute(self._connection, statement)
            done.update((row.message_id, row.address) for row in result)
        for n, (message_id, address) in enumerate(keys):
            if (message_id, address) not in done:
                refused[n] = await self._refusal(message_id, address, owner, doing="delivered")
        return refused

    async def mark_deferred(
        self, message_id: str, address: str, *, owner: str, error: str, next_attempt_at: datetime
    ) -> None:
        changes = {"last_error": error, "next_attempt_at": next_attempt_at}
        await self._move(message_id, address, owner, changes, doing="deferred")

    async def mark_failed(
        self, message_id: str, address: str, *, owner: str, error: str, at: datetime
    ) -> None:
        changes = {"status": RecipientStatus.FAILED.value, "finished_at": at, "last_error": error}
        await self._move(message_id, address, owner, changes, doing="failed")

    async def mark_expired(
        self, message_id: str, address: str, *, owner: str, at: datetime
    ) -> None:
        changes = {"status": RecipientStatus.EXPIRED.value, "finished_at": at}
        await self._move(message_id, address, owner, changes, doing="expired")

    async def _move(
        self, message_id: str, address: str, owner: str, changes: dict[str, Any], *, doing: str
    ) -> None:
        if "finished_at" in changes:
            changes["next_attempt_at"] = None
        statement = (
            update(queue_recipients)
            .where(
                queue_recipients.c.message_id == message_id,
                queue_recipients.c.address == address,
                queue_recipients.c.status == _PENDING,
                queue_recipients.c.lease_owner == owner,
            )
            .values(**changes, lease_owner=None, lease_until=None)
        )
        if (await execute(self._connection, statement)).rowcount == 1:
            return
        raise await self._refusal(message_id, address, owner, doing=doing)

    async def _refusal(
        self, message_id: str, address: str, owner: str, *, doing: str
    ) -> NotFoundError | ConflictError:
        """Why a guarded transition matched no row, read back from the recipient."""
        query = select(queue_recipients).where(
            queue_recipients.c.message_id == message_id, queue_recipients.c.address == address
        )
        row = (await self._connection.execute(query)).first()
        if row is None:
            return NotFoundError(f"queued message {message_id} has no recipient {address}")
        what = f"cannot mark {address} of queued message {message_id} {doing}"
        if row.status != _PENDING:
            return ConflictError(f"{what}: it is {row.status} already")
        holder = f"runner {row.lease_owner}" if row.lease_owner else "no runner"
        return ConflictError(
            f"{what}: it is leased to {holder}, not to {owner}",
            hint="the lease ran out and another runner took the recipient over",
        )

    async def get(self, message_id: str) -> QueueEntry | None:
        entries = await self._entries(select(*_ENVELOPE).where(queue_messages.c.id == message_id))
        return entries[0] if entries else None

    async def body(self, message_id: str) -> SealedBody | None:
        query = select(queue_messages.c.wrapped_key, queue_messages.c.ciphertext).where(
            queue_messages.c.id == message_id
        )
        row = (await self._connection.execute(query)).first()
        return None if row is None else SealedBody(row.wrapped_key, row.ciphertext)

    async def list(
        self, *, status: RecipientStatus | None = None, limit: int = 100
    ) -> Sequence[QueueEntry]:
        query = select(*_ENVELOPE).order_by(queue_messages.c.id).limit(limit)
        if status is not None:
            query = query.where(_having(queue_recipients.c.status == RecipientStatus(status).value))
        return await self._entries(query)

    async def retry(self, message_id: str, *, now: datetime) -> int:
        statement = (
            update(queue_recipients)
            .where(
                queue_recipients.c.message_id == message_id, queue_recipients.c.status == _PENDING
            )
            .values(next_attempt_at=now)
        )
        count = (await execute(self._connection, statement)).rowcount
        if count == 0:
            known = select(exists().where(queue_messages.c.id == message_id))
            if not (await self._connection.execute(known)).scalar():
                raise _no_message(message_id)
        return count

    async def delete(self, message_id: str) -> None:
        statement = delete(queue_messages).where(queue_messages.c.id == message_id)
        if (await self._connection.execute(statement)).rowcount == 0:
            raise _no_message(message_id)

    async def next_due(self) -> datetime | None:
        later = type_coerce(
            case(
                (
                    queue_recipients.c.lease_until > queue_recipients.c.next_attempt_at,
                    queue_recipients.c.lease_until,
                ),
                else_=queue_recipients.c.next_attempt_at,
            ),
            UtcDateTime,
        )
        query = select(func.min(later, type_=UtcDateTime)).where(
            queue_recipients.c.status == _PENDING
        )
        value: datetime | None = (await self._connection.execute(query)).scalar()
        return value

    async def finished(self, *, limit: int = 100) -> Sequence[QueueEntry]:
        query = select(*_ENVELOPE).where(~_having(queue_recipients.c.status == _PENDING))
        return await self._entries(query.order_by(queue_messages.c.id).limit(limit))

    async def purge_finished(self, before: datetime) -> int:
        statement = delete(queue_messages).where(
            ~_having(
                or_(queue_recipients.c.status == _PENDING, queue_recipients.c.finished_at >= before)
            )
        )
        return (await execute(self._connection, statement)).rowcount

    async def _entries(self, query: Any) -> Sequence[QueueEntry]:
        rows = (await self._connection.execute(query)).all()
        if not rows:
            return []
        found: dict[str, list[QueuedRecipient]] = {row.id: [] for row in rows}
        query = (
            select(queue_recipients)
            .where(queue_recipients.c.message_id.in_(list(found)))
            .order_by(queue_recipients.c.message_id, queue_recipients.c.address)
        )
        for row in await self._connection.execute(query):
            found[row.message_id].append(_recipient(row))
        return [QueueEntry(_message(row), tuple(found[row.id])) for row in rows]


def _check(message: QueuedMessage, recipients: Sequence[NewRecipient]) -> None:
    """ValueError for what the store refuses before writing anything."""
    addresses = [r.address for r in recipients]
    if not addresses:
        raise ValueError(f"queued message {message.id} has no recipient")
    if len(set(addresses)) != len(addresses):
        twice = sorted({a for a in addresses if addresses.count(a) > 1})
        raise ValueError(f"queued message {message.id} lists {', '.join(twice)} twice")
    for moment in (message.received_at, message.expires_at):
        if moment.utcoffset() is None:
            # the column type says the same, but only once the whole batch is sent
            raise ValueError(f"naive datetime {moment.isoformat()} given to the store: use UTC")


def _exists(message_id: str) -> ConflictError:
    return ConflictError(f"a queued message with id {message_id} already exists")


def _having(condition: Any) -> Any:
    """The queued message has a recipient meeting ``condition``."""
    return exists().where(and_(queue_recipients.c.message_id == queue_messages.c.id, condition))


def _no_message(message_id: str) -> NotFoundError:
    return NotFoundError(
        f"there is no queued message {message_id}",
        hint="`postseal queue list` shows the queued messages",
    )


def _message(row: Row[Any]) -> QueuedMessage:
    return QueuedMessage(**{c.name: getattr(row, c.name) for c in _ENVELOPE})


def _recipient(row: Row[Any]) -> QueuedRecipient:
    return QueuedRecipient(
        message_id=row.message_id,
        address=row.address,
        kind=RecipientKind(row.kind),
        status=RecipientStatus(row.status),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
        finished_at=row.finished_at,
        notify=row.notify,
        orcpt=row.orcpt,
        lease_owner=row.lease_owner,
        lease_until=row.lease_until,
    )
