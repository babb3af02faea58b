"""Listener life: binding errors, port 0, graceful stop, configuration checks."""

from __future__ import annotations

import asyncio
import socket
import ssl
from pathlib import Path

import pytest

from postseal.errors import CertificateFormatError, ConfigError
from postseal.protocols.smtp import Limits, SmtpListener, server_context
from postseal.services.ports import Listener

from .conftest import HOSTNAME, SmtpPki, StartListener
from .fakes import FakeIntake
from .raw import RawClient


async def test_address_in_use_is_a_config_error(
    intake: FakeIntake, server_tls: ssl.SSLContext
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        listener = SmtpListener(
            "submission", intake, host="127.0.0.1", port=port, hostname=HOSTNAME, tls=server_tls
        )
        with pytest.raises(ConfigError, match=rf"submission on 127.0.0.1:{port}"):
            await listener.start()
        await listener.stop()  # stopping a listener that never started is harmless


def test_unknown_listener_name(intake: FakeIntake, server_tls: ssl.SSLContext) -> None:
    with pytest.raises(ConfigError, match="unknown SMTP listener 'lmtp'"):
        SmtpListener("lmtp", intake, host="127.0.0.1", port=0, hostname=HOSTNAME, tls=server_tls)


def test_weak_tls_context_is_refused(intake: FakeIntake) -> None:
    weak = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    weak.minimum_version = ssl.TLSVersion.TLSv1_2
    weak.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    with pytest.raises(ConfigError, match="TLS context allows"):
        SmtpListener(Listener.SMTP, intake, host="127.0.0.1", port=0, hostname=HOSTNAME, tls=weak)
    client_side = ssl.create_default_context()
    with pytest.raises(ConfigError, match="server context"):
        SmtpListener(
            Listener.SMTP, intake, host="127.0.0.1", port=0, hostname=HOSTNAME, tls=client_side
        )


def test_limits_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="max_recipients must be positive"):
        Limits(max_recipients=0)


def test_server_context_from_files(pki: SmtpPki, tmp_path: Path) -> None:
    (tmp_path / "chain.pem").write_bytes(pki.chain_pem)
    (tmp_path / "key.pem").write_bytes(pki.key_pem)
    context = server_context(cert_chain=tmp_path / "chain.pem", key=tmp_path / "key.pem")
    assert context.minimum_version is ssl.TLSVersion.TLSv1_2
    assert context.options & ssl.OP_NO_COMPRESSION


def test_server_context_refuses_bad_or_mismatched_keys(pki: SmtpPki) -> None:
    with pytest.raises(CertificateFormatError, match="not an unencrypted PEM private key"):
        server_context(cert_chain=pki.chain_pem, key=b"not a key")
    with pytest.raises(CertificateFormatError, match="cannot load"):
        server_context(cert_chain=pki.ca_pem, key=pki.key_pem)  # the CA's cert, the leaf's key


async def test_port_zero_reports_the_bound_port(mx: SmtpListener) -> None:
    assert mx.port != 0
    client = await RawClient.connect(mx.port)
    await client.command("QUIT")
    await client.close()


async def test_stop_lets_a_message_being_accepted_finish(
    start_listener: StartListener, intake: FakeIntake
) -> None:
    listener = await start_listener(Listener.SMTP)
    intake.accept_delay = 0.3
    client = await RawClient.connect(listener.port)
    await client.ehlo()
    await client.command("MAIL FROM:<carol@remote.example>")
    await client.command("RCPT TO:<bob@example.test>")
    await client.command("DATA")
    await client.send(b"Subject: x\r\n\r\nbody\r\n.\r\n")
    await asyncio.sleep(0.1)
    await listener.stop()
    assert (await client.reply())[1] == "250 2.0.0 OK queued as Q0001"
    assert (await client.reply())[0] == 421
    await client.close()
    assert len(intake.accepted) == 1
    with pytest.raises(ConnectionRefusedError):
        await RawClient.connect(listener.port)
