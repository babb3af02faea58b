"""Fixtures of the IMAP session tests: the real MailboxService on a SQLite store in
tmp_path, two users, an authenticator throttled by AuthThrottle, the SMTP tests'
throw-away CA, and listeners on 127.0.0.1 port 0 that are always stopped."""

from __future__ import annotations

import os
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from postseal.custody import MasterKey
from postseal.errors import AuthenticationError
from postseal.protocols.imap.listener import ImapLimits, ImapListener
from postseal.services.clock import system_clock
from postseal.services.mailboxes import MailboxService
from postseal.services.throttle import AuthThrottle
from postseal.store.ports import NewUser, UserRecord
from postseal.store.sql import SqlStore, open_store
from tests.smtp.conftest import SmtpPki, pki, server_tls

from .client import RawImap

__all__ = ["pki", "server_tls"]

PASSWORDS = {"alice@example.org": "alice-pw", "bob@example.org": "bob-pw"}


def message(subject: str, body: str = "hello", *, sender: str = "carol@example.net") -> bytes:
    return (
        f"From: Carol <{sender}>\r\nTo: alice@example.org\r\nSubject: {subject}\r\n"
        f"Message-ID: <{subject.replace(' ', '.')}@example.net>\r\n"
        f"Date: Mon, 02 Mar 2026 08:00:00 +0000\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    ).encode()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    opened = await open_store(f"sqlite+aiosqlite:///{tmp_path}/store.db", migrate=True)
    yield opened
    await opened.close()


@pytest.fixture
def service(store: SqlStore) -> MailboxService:
    return MailboxService(store, MasterKey(os.urandom(32)), clock=system_clock)


@dataclass
class Users:
    alice: UserRecord
    bob: UserRecord


@pytest.fixture
async def users(store: SqlStore, service: MailboxService) -> Users:
    made = []
    async with store.begin() as tx:
        for address in PASSWORDS:
            made.append(
                await tx.users.add(NewUser(address=address, display_name=address, template="User"))
            )
    for user in made:
        await service.ensure_defaults(user)
    return Users(*made)


@pytest.fixture
def throttle() -> AuthThrottle:
    return AuthThrottle(per_address=20, per_account=5)


@pytest.fixture
def authenticate(
    users: Users, throttle: AuthThrottle
) -> Callable[[str, str, str], Awaitable[UserRecord]]:
    by_address = {users.alice.address: users.alice, users.bob.address: users.bob}

    async def check(username: str, password: str, client: str) -> UserRecord:
        await throttle.check(address=client, account=username)
        user = by_address.get(username.lower())
        if user is None or PASSWORDS.get(user.address) != password:
            await throttle.failed(address=client, account=username)
            raise AuthenticationError("authentication failed")
        await throttle.succeeded(account=username)
        return user

    return check


StartListener = Callable[..., Awaitable[ImapListener]]


@pytest.fixture
async def start_listener(
    service: MailboxService,
    authenticate: Callable[[str, str, str], Awaitable[UserRecord]],
    server_tls: ssl.SSLContext,
) -> AsyncIterator[StartListener]:
    """``await start_listener("imaps", mailboxes=…, max_auth_failures=2, …)``."""
    started: list[ImapListener] = []

    async def start(kind: str = "imaps", *, mailboxes: Any = None, **limits: Any) -> ImapListener:
        limits.setdefault("auth_failure_delay", 0.0)
        listener = ImapListener(
            kind,
            mailboxes=mailboxes or service,
            authenticate=authenticate,
            host="127.0.0.1",
            port=0,
            hostname="imap.example.org",
            tls=server_tls,
            limits=ImapLimits(**limits),
            shutdown_grace=2.0,
        )
        await listener.start()
        started.append(listener)
        return listener

    yield start
    for listener in started:
        await listener.stop()


@pytest.fixture
async def imaps(start_listener: StartListener) -> ImapListener:
    return await start_listener("imaps")


Connect = Callable[..., Awaitable[RawImap]]


@pytest.fixture
async def connect(imaps: ImapListener, pki: SmtpPki) -> AsyncIterator[Connect]:
    """``await connect()``: a raw client on the imaps listener, logged in as alice
    unless ``login=None``."""
    clients: list[RawImap] = []

    async def open_client(
        login: str | None = "alice@example.org", port: int | None = None
    ) -> RawImap:
        client = await RawImap.connect(port or imaps.port, tls=pki.client_context())
        clients.append(client)
        if login is not None:
            await client.login(login, PASSWORDS[login])
        return client

    yield open_client
    for client in clients:
        await client.close()
