"""Fixtures of the SMTP edge tests: a throw-away CA and server certificate, the fake
intake, and listeners on 127.0.0.1 with port 0 that are always stopped."""

from __future__ import annotations

import ipaddress
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from postseal.protocols.smtp import Limits, SmtpListener, server_context
from postseal.services.ports import Listener

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


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> SmtpPki:
    now = datetime.now(UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("postseal test CA"))
        .issuer_name(_name("postseal test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem = ca.public_bytes(serialization.Encoding.PEM)
    ca_path = tmp_path_factory.mktemp("smtp-pki") / "ca.pem"
    ca_path.write_bytes(ca_pem)
    return SmtpPki(
        ca_pem=ca_pem,
        ca_path=ca_path,
        chain_pem=leaf.public_bytes(serialization.Encoding.PEM) + ca_pem,
        key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
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
