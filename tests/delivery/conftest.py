"""Fixtures of the delivery tests: the contract suite's stores (SQLite and PostgreSQL),
a master key, a clock the test moves, and helpers that queue messages the way the intake
does — sealed under the queue key with ``container="queue"``, labelled with the id."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest

from postseal.config.settings import QueueSettings
from postseal.custody import MasterKey, sealing
from postseal.services.delivery import DeliveryService
from postseal.services.ports import Relay
from postseal.store.ports import (
    NewRecipient,
    NewUser,
    QueuedMessage,
    RecipientKind,
    SealedBody,
    Store,
)
from tests.contract import conftest as contract

# the contract suite's fixtures: every test runs on SQLite and on PostgreSQL
pg_database = contract.pg_database
url = contract.url
store = contract.store

T0 = datetime(2026, 3, 2, 8, 0, 0, tzinfo=UTC)
HOST = "mx.example.org"
SETTINGS = QueueSettings(
    retry_initial_seconds=60,
    retry_max_seconds=3600,
    expire_hours=24,
    lease_seconds=300,
    poll_seconds=0.05,
)
LOCAL, REMOTE = RecipientKind.LOCAL, RecipientKind.REMOTE


class FakeClock:
    """A clock the test advances by hand."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@pytest.fixture
def master() -> MasterKey:
    return MasterKey(os.urandom(32))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def message_bytes(subject: str, body: str = "hello", *, sender: str = "alice@example.org") -> bytes:
    return (
        f"From: {sender}\r\nTo: bob@example.org\r\nSubject: {subject}\r\n"
        f"Message-ID: <{subject.replace(' ', '.')}@example.org>\r\n\r\n{body}\r\n"
    ).encode()


@dataclass
class Queue:
    """Queues messages into ``store`` the way the intake does."""

    store: Store
    master: MasterKey
    clock: FakeClock

    async def add(
        self,
        data: bytes,
        recipients: Sequence[NewRecipient | str],
        *,
        mail_from: str = "alice@example.org",
        **envelope: object,
    ) -> str:
        now = self.clock()
        message_id = sealing.new_id(now)
        blob = sealing.seal(
            sealing.queue_key(self.master), data, container="queue", label=message_id
        )
        message = QueuedMessage(
            id=message_id,
            mail_from=mail_from,
            received_at=now,
            expires_at=now + timedelta(hours=SETTINGS.expire_hours),
            size=len(data),
            listener="submission",
            client_address="192.0.2.10",
        )
        message = replace(message, **envelope)  # type: ignore[arg-type]
        rcpts = [
            r if isinstance(r, NewRecipient) else NewRecipient(r, _kind(r)) for r in recipients
        ]
        async with self.store.begin() as tx:
            await tx.queue.enqueue(message, SealedBody(blob.wrapped_key, blob.ciphertext), rcpts)
        return message_id

    async def users(self, *addresses: str) -> None:
        async with self.store.begin() as tx:
            for address in addresses:
                await tx.users.add(
                    NewUser(address=address, display_name=address, template="smime-user")
                )


def _kind(address: str) -> RecipientKind:
    return LOCAL if address.endswith("@example.org") else REMOTE


@pytest.fixture
def queue(store: Store, master: MasterKey, clock: FakeClock) -> Queue:
    return Queue(store, master, clock)


RunnerFactory = Callable[..., DeliveryService]


@pytest.fixture
def runner(store: Store, master: MasterKey, clock: FakeClock) -> RunnerFactory:
    """``runner(relay=…, owner=…, store=…)``: a DeliveryService on the test's clock."""

    def make(*, relay: Relay | None = None, **options: object) -> DeliveryService:
        values: dict[str, object] = {
            "relay": relay,
            "clock": clock,
            "settings": SETTINGS,
            "hostname": HOST,
        }
        values.update(options)
        chosen = values.pop("store", store)
        return DeliveryService(chosen, master, **values)  # type: ignore[arg-type]

    return make
