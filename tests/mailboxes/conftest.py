"""Fixtures of the mailbox service tests: the contract suite's stores (SQLite and
PostgreSQL), a master key, two users and the service under test."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest

from postseal.custody import MasterKey
from postseal.services.mailboxes import MailboxService
from postseal.store.ports import NewUser, Store, UserRecord
from tests.contract import conftest as contract

pg_database = contract.pg_database
url = contract.url
store = contract.store

T0 = datetime(2026, 3, 2, 8, 0, 0, tzinfo=UTC)


class StepClock:
    """A clock that moves one second per call, so ids and dates differ."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def message(subject: str, body: str = "hello", *, sender: str = "alice@example.org") -> bytes:
    return (
        f"From: {sender}\r\nTo: bob@example.org\r\nSubject: {subject}\r\n"
        f"Message-ID: <{subject.replace(' ', '.')}@example.org>\r\n"
        f"Date: Mon, 02 Mar 2026 08:00:00 +0000\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    ).encode()


async def add_user(store: Store, address: str) -> UserRecord:
    async with store.begin() as tx:
        return await tx.users.add(
            NewUser(address=address, display_name=address.split("@")[0], template="User")
        )


@pytest.fixture
def master() -> MasterKey:
    return MasterKey(os.urandom(32))


@pytest.fixture
def service(store: Store, master: MasterKey) -> MailboxService:
    return MailboxService(store, master, clock=StepClock(), max_message_size=1_000_000)


@pytest.fixture
async def bob(store: Store, service: MailboxService) -> UserRecord:
    user = await add_user(store, "bob@example.org")
    await service.ensure_defaults(user)
    return user


@pytest.fixture
async def carol(store: Store, service: MailboxService) -> UserRecord:
    user = await add_user(store, "carol@example.org")
    await service.ensure_defaults(user)
    return user
