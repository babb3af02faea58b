"""Fixtures of the POP3 tests: a SQLite store with bob's INBOX, the test CA of the SMTP
tests, and listeners on 127.0.0.1 (port 0) that are always stopped. poplib is blocking,
so tests drive it in a worker thread while the listener runs on the test's loop."""

from __future__ import annotations

import os
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from postseal.custody import MasterKey
from postseal.errors import AuthenticationError
from postseal.protocols.pop3 import Pop3Limits, Pop3Listener
from postseal.services.mailboxes import MailboxService
from postseal.services.throttle import AuthThrottle
from postseal.store.ports import UserRecord
from postseal.store.sql import SqlStore, open_store
from tests.mailboxes.conftest import StepClock, add_user
from tests.smtp import conftest as smtp

pki = smtp.pki
server_tls = smtp.server_tls
PASSWORD = "correct horse"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    opened = await open_store(f"sqlite+aiosqlite:///{tmp_path}/store.db", migrate=True)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
def service(store: SqlStore) -> MailboxService:
    return MailboxService(store, MasterKey(os.urandom(32)), clock=StepClock())


@pytest.fixture
async def bob(store: SqlStore, service: MailboxService) -> UserRecord:
    user = await add_user(store, "bob@example.org")
    await service.ensure_defaults(user)
    return user


@pytest.fixture
def authenticate(bob: UserRecord) -> Callable[[str, str, str], Awaitable[UserRecord]]:
    async def check(name: str, password: str, client: str) -> UserRecord:
        if name.lower() == bob.address and password == PASSWORD:
            return bob
        raise AuthenticationError("wrong address or password")

    return check


StartPop3 = Callable[..., Awaitable[Pop3Listener]]


@pytest.fixture
async def start_pop3(
    service: MailboxService,
    authenticate: Callable[[str, str, str], Awaitable[UserRecord]],
    server_tls: ssl.SSLContext,
) -> AsyncIterator[StartPop3]:
    """``await start_pop3("pop3", max_errors=3, throttle=…)``: limits as keywords."""
    started: list[Pop3Listener] = []

    async def start(
        kind: str = "pop3",
        *,
        port: int = 0,
        throttle: AuthThrottle | None = None,
        **limits: float,
    ) -> Pop3Listener:
        limits.setdefault("auth_failure_delay", 0.0)
        listener = Pop3Listener(
            kind,
            service=service,
            authenticate=authenticate,
            host="127.0.0.1",
            port=port,
            hostname="pop.example.test",
            tls=server_tls,
            limits=Pop3Limits(**limits),  # type: ignore[arg-type]
            throttle=throttle,
        )
        await listener.start()
        started.append(listener)
        return listener

    yield start
    for listener in started:
        await listener.stop()
