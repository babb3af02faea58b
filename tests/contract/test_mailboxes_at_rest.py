"""Mailbox data at rest: sealed summaries never reach the disk readable, and migration
0004 keeps every mailbox and message of a 0003 store."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from datetime import timedelta

from alembic import command
from sqlalchemy import text
from sqlalchemy.engine import Connection
from test_mailboxes import T0, _bob, _raw_files

from postseal.custody import MasterKey
from postseal.custody.sealing import (
    SealedBlob,
    new_container_key,
    new_id,
    open_sealed,
    seal,
    wrap_container_key,
)
from postseal.store.ports import MAX_UID, NewMailbox, NewStoredMessage, NewUser, SealedBody
from postseal.store.sql import SqlStore, open_store
from postseal.store.sql.engine import create_engine, parse_url, transaction
from postseal.store.sql.schema import alembic_config


def _sealed(blob: SealedBlob) -> SealedBody:
    return SealedBody(blob.wrapped_key, blob.ciphertext)


async def test_no_summary_text_reaches_the_disk(
    url: str, store: SqlStore, new_user: Callable[..., NewUser]
) -> None:
    marker = f"MARKER-{uuid.uuid4().hex}"
    control = f"CONTROL-{uuid.uuid4().hex}"
    message = f"Subject: Merger {marker}\r\n\r\nConfidential {marker}\r\n".encode()
    summary = f'("Thu, 15 Jan 2026" "Merger {marker}" (("Alice" NIL "alice" "x")))'.encode()
    master = MasterKey(os.urandom(32))
    bob = await _bob(store, new_user)
    box_id, email_id = new_id(T0), new_id(T0)
    box_key = new_container_key()
    wrapped = wrap_container_key(master, box_key, container=box_id)

    def sealed(data: bytes, label: str) -> SealedBody:
        return _sealed(seal(box_key, data, container=box_id, label=label))

    async with store.begin() as tx:
        await tx.meta.set("control", control)
        inbox = await tx.mailboxes.create(NewMailbox(box_id, bob.id, "INBOX", wrapped, T0))
        body = sealed(message, email_id)
        stored = NewStoredMessage(
            email_id, T0, len(message), body, summary=sealed(summary, f"{email_id}/summary")
        )
        await tx.mailboxes.append(inbox.id, stored)
        await tx.mailboxes.append(inbox.id, NewStoredMessage(f"{email_id}2", T0, 9, body))
        later = sealed(summary + b" again", f"{email_id}2/summary")
        await tx.mailboxes.put_summary(inbox.id, 2, later)
    async with store.begin() as tx:
        found = await tx.mailboxes.summaries(inbox.id, [(1, MAX_UID)])
    first = SealedBlob(found[1].wrapped_key, found[1].ciphertext)
    label = f"{email_id}/summary"
    assert open_sealed(box_key, first, container=box_id, label=label) == summary

    files = await _raw_files(url, store)
    assert any(control.encode() in data for data in files.values())
    assert [name for name, data in files.items() if marker.encode() in data] == []
    assert [name for name, data in files.items() if b"Merger" in data] == []


def _upgrade_to(connection: Connection, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


async def test_migration_0004_keeps_the_mailboxes_and_messages_of_a_0003_store(
    url: str,
) -> None:
    engine = create_engine(parse_url(url))
    try:
        async with transaction(engine, doing="upgrade") as connection:
            await connection.run_sync(_upgrade_to, "0003")
            statements = [
                "INSERT INTO users (id, address, display_name, enabled, template, created_at,"
                " updated_at) VALUES (7, 'bob@example.org', 'Bob', true, 'smime-user',"
                " :t, :t)",
                "INSERT INTO mailboxes (id, user_id, name, uidvalidity, uidnext, created_at,"
                " wrapped_key) VALUES ('01JOLD', 7, 'INBOX', 1768469400, 3, :t, :k)",
                "INSERT INTO mailbox_messages (mailbox_id, uid, email_id, internal_date, size,"
                " flags, message_id_hash, wrapped_key, ciphertext) VALUES"
                " ('01JOLD', 2, '01JMSGOLD', :t, 42, '\\Seen', NULL, :k, :c)",
            ]
            values = {"t": T0.replace(tzinfo=None), "k": b"wrapped", "c": b"\x00sealed"}
            for statement in statements:
                await connection.execute(text(statement), values)
    finally:
        await engine.dispose()

    store = await open_store(url, migrate=True)
    try:
        async with store.begin() as tx:
            box = await tx.mailboxes.get("01JOLD")
            assert box is not None
            assert (box.user_id, box.name, box.uidnext, box.highestmodseq) == (7, "INBOX", 3, 1)
            (old,) = await tx.mailboxes.messages(box.id)
            assert (old.uid, old.email_id, old.flags, old.modseq) == (
                2,
                "01JMSGOLD",
                ("\\Seen",),
                1,
            )
            assert await tx.mailboxes.body(box.id, 2) == SealedBody(b"wrapped", b"\x00sealed")
            new = await tx.mailboxes.append(
                box.id, NewStoredMessage("01JNEW", T0, 1, SealedBody(b"k", b"c"))
            )
            assert (new.uid, new.modseq) == (3, 2)
            other = await tx.mailboxes.create(NewMailbox("01JNEWBOX", 7, "Sent", b"k", T0))
            assert other.uidvalidity == box.uidvalidity + 1
            late = T0 + timedelta(seconds=5)
            later = await tx.mailboxes.create(NewMailbox("01JLATER", 7, "Later", b"k", late))
            assert later.uidvalidity == int(late.timestamp())
        async with store.begin() as tx:  # the rebuilt tables still cascade
            await tx.users.remove(7)
        async with store.begin() as tx:
            assert await tx.mailboxes.body("01JOLD", 2) is None
            assert await tx.mailboxes.list(7) == []
    finally:
        await store.close()
