"""Fixtures of the SMTP edge tests: a throw-away CA and server certificate, the fake
intake, and listeners on 127.0.0.1 with port 0 that are always stopped."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from postseal.protocols.smtp import Limits, SmtpListener, server_context
from postseal.services.ports import Listener
from tests.tls_pki import make_server_pki

from .fakes import FakeIntake

HOSTNAME = "mx.example.test"


@dataclass(frozen=True)
class SmtpPki:
    ca_pem: bytes
    ca_path: Path
    chain_pem: bytes
    key_pem: bytes

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cadata=self.ca_pem.decode())


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> SmtpPki:
    made = make_server_pki("postseal test CA")
    ca_path = tmp_path_factory.mktemp("smtp-pki") / "ca.pem"
    ca_path.write_bytes(made.ca_pem)
    return SmtpPki(
        ca_pem=made.ca_pem, ca_path=ca_path, chain_pem=made.chain_pem, key_pem=made.key_pem
    )


@pytest.fixture(scope="session")
def server_tls(pki: SmtpPki) -> ssl.SSLContext:
    return server_context(cert_chain=pki.chain_pem, key=pki.key_pem)


@pytest.fixture
def intake() -> FakeIntake:
    return FakeIntake()


StartListener = Callable[..., Awaitable[SmtpListener]]


@pytest.fixture
async def start_listener(
    intake: FakeIntake, server_tls: ssl.SSLContext
) -> AsyncIterator[StartListener]:
    """``await start_listener(Listener.SMTP, max_errors=3, …)``: limits as keywords."""
    started: list[SmtpListener] = []

    async def start(
        kind: Listener, *, shutdown_grace: float = 5.0, **limits: float
    ) -> SmtpListener:
        listener = SmtpListener(
            kind,
            intake,
            host="127.0.0.1",
            port=0,
            hostname=HOSTNAME,
            tls=server_tls,
            limits=Limits(**limits),  # type: ignore[arg-type]
            shutdown_grace=shutdown_grace,
        )
        await listener.start()
        started.append(listener)
        return listener

    yield start
    for listener in started:
        await listener.stop()


@pytest.fixture
async def mx(start_listener: StartListener) -> SmtpListener:
    return await start_listener(Listener.SMTP)


@pytest.fixture
async def submission(start_listener: StartListener) -> SmtpListener:
    return await start_listener(Listener.SUBMISSION)


@pytest.fixture
async def submissions(start_listener: StartListener) -> SmtpListener:
    return await start_listener(Listener.SUBMISSIONS)
