"""Reading back what the runner did: queue states, mailboxes, DSNs, raw database files."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from postseal.custody import MasterKey
from postseal.services.mailbox_writer import read_mailbox
from postseal.store.ports import QueuedRecipient, QueueEntry, Store
from postseal.store.sql import SqlStore


async def entry(store: Store, message_id: str) -> QueueEntry:
    async with store.begin() as tx:
        found = await tx.queue.get(message_id)
    assert found is not None
    return found


async def recipient(store: Store, message_id: str, address: str) -> QueuedRecipient:
    found = await entry(store, message_id)
    return next(r for r in found.recipients if r.address == address)


async def all_entries(store: Store) -> list[QueueEntry]:
    async with store.begin() as tx:
        return list(await tx.queue.list(limit=1000))


async def inbox(store: Store, master: MasterKey, address: str) -> list[bytes]:
    return await read_mailbox(store, master, address)


def parse(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def dsn_fields(data: bytes) -> tuple[EmailMessage, list[dict[str, str]]]:
    """The DSN and its delivery-status blocks (per-message first) as dicts."""
    report = parse(data)
    assert report.get_content_type() == "multipart/report"
    assert report.get_param("report-type") == "delivery-status"
    parts = list(report.iter_parts())
    assert parts[1].get_content_type() == "message/delivery-status"
    blocks = parts[1].get_payload()
    assert isinstance(blocks, list)
    return report, [{k: str(v) for k, v in block.items()} for block in blocks]


async def raw_files(url: str, store: SqlStore) -> dict[str, bytes]:
    """Every file of the database as stored (SQLite's .db/-wal/-shm; PostgreSQL's files
    of this database and its WAL after a checkpoint)."""
    parsed = make_url(url)
    if store.dialect == "sqlite":
        directory = Path(str(parsed.database)).parent
        return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}
    connection = await asyncpg.connect(
        host=parsed.host, port=parsed.port, user=parsed.username, database=parsed.database
    )
    try:
        await connection.execute("CHECKPOINT")
        oid = await connection.fetchval(
            "SELECT oid FROM pg_database WHERE datname = current_database()"
        )
        names = [f"base/{oid}/{n}" for n in await _ls(connection, f"base/{oid}")]
        names += [f"pg_wal/{n}" for n in await _ls(connection, "pg_wal")]
        files = {}
        for name in names:
            data = await connection.fetchval(
                "SELECT pg_read_binary_file($1, 0, (pg_stat_file($1, true)).size, true)", name
            )
            files[name] = bytes(data or b"")
        return files
    finally:
        await connection.close()


async def _ls(connection: asyncpg.Connection, directory: str) -> list[str]:
    rows = await connection.fetch(
        "SELECT name FROM pg_ls_dir($1) AS name"
        " WHERE NOT coalesce((pg_stat_file($1 || '/' || name, true)).isdir, true)",
        directory,
    )
    return [row["name"] for row in rows]
