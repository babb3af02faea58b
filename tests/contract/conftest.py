"""Fixtures of the store contract suite: every test runs on SQLite and on PostgreSQL.

SQLite lives in ``tmp_path``. PostgreSQL is the server on 127.0.0.1:5432 (user
``postgres``, trust authentication): each test gets a database of its own, created
through the ``test`` maintenance database and dropped afterwards. When the server cannot
be reached the PostgreSQL half is skipped with the reason, never silently.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from postseal.store.ports import (
    CertificateRecord,
    CertificateRole,
    NewUser,
    QueuedMessage,
    UserRecord,
)
from postseal.store.sql import SqlStore, open_store

PG_HOST = "127.0.0.1"
PG_PORT = 5432
PG_USER = "postgres"
PG_MAINTENANCE_DB = "test"

_pg_unreachable: str | None = None

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


async def _maintenance() -> asyncpg.Connection:
    global _pg_unreachable
    if _pg_unreachable is not None:
        pytest.skip(_pg_unreachable)
    try:
        return await asyncpg.connect(
            host=PG_HOST, port=PG_PORT, user=PG_USER, database=PG_MAINTENANCE_DB, timeout=5
        )
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        _pg_unreachable = f"PostgreSQL not reachable on {PG_HOST}:{PG_PORT}: {exc}"
        pytest.skip(_pg_unreachable)


@pytest.fixture
async def pg_database() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database; its URL. Dropped after the test."""
    name = f"postseal_contract_{os.getpid()}_{uuid.uuid4().hex[:12]}"
    admin = await _maintenance()
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database of each dialect (never migrated)."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/store.db"
    database: str = request.getfixturevalue("pg_database")
    return database


@pytest.fixture
async def store(url: str) -> AsyncIterator[SqlStore]:
    """An opened store at head revision, closed after the test."""
    opened = await open_store(url, migrate=True)
    try:
        yield opened
    finally:
        await opened.close()


T0 = datetime(2026, 1, 15, 9, 30, 0, 123456, tzinfo=UTC)
"""A fixed instant with microseconds, to prove they survive the round trip."""


def _new_user(address: str = "bob@example.org", **changes: object) -> NewUser:
    values: dict[str, object] = {
        "address": address,
        "display_name": address.split("@")[0].title(),
        "template": "smime-user",
        "password_hash": "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA",
    }
    values.update(changes)
    return NewUser(**values)  # type: ignore[arg-type]


def _certificate(
    serial: str,
    *,
    role: CertificateRole = CertificateRole.USER,
    issuer: str | None = "1551",
    user: UserRecord | None = None,
    days: int = 0,
    **changes: object,
) -> CertificateRecord:
    """A certificate record whose ``not_before`` is ``days`` after T0."""
    values: dict[str, object] = {
        "serial": serial,
        "role": role,
        "subject": f"CN=holder {serial}",
        "email": user.address if user else None,
        "user_id": user.id if user else None,
        "template": "smime-user" if role is CertificateRole.USER else None,
        "issuer_serial": issuer,
        "not_before": T0 + timedelta(days=days),
        "not_after": T0 + timedelta(days=days + 365),
        "fingerprint": f"{int(serial, 16):064x}",
        "der": bytes.fromhex("3082") + serial.encode(),
        "wrapped_key": b"wrapped:" + serial.encode(),
    }
    values.update(changes)
    return CertificateRecord(**values)  # type: ignore[arg-type]


@pytest.fixture
def new_user() -> Callable[..., NewUser]:
    """Build a :class:`NewUser`: ``new_user("carol@example.org", extension="4711")``."""
    return _new_user


@pytest.fixture
def certificate() -> Callable[..., CertificateRecord]:
    """Build a :class:`CertificateRecord`: ``certificate("0A", user=bob, days=3)``."""
    return _certificate


def _queued_message(
    message_id: str = "01JQUEUE0000000000000000AA", **changes: object
) -> QueuedMessage:
    """A queued message received at T0, expiring five days later."""
    values: dict[str, object] = {
        "id": message_id,
        "mail_from": "alice@example.org",
        "received_at": T0,
        "expires_at": T0 + timedelta(days=5),
        "size": 1234,
        "listener": "submission",
        "client_address": "192.0.2.10",
        "auth_user": "alice@example.org",
    }
    values.update(changes)
    return QueuedMessage(**values)  # type: ignore[arg-type]


@pytest.fixture
def queued_message() -> Callable[..., QueuedMessage]:
    """Build a :class:`QueuedMessage`: ``queued_message("01J…", mail_from="")``."""
    return _queued_message
