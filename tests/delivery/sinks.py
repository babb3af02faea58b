"""Real SMTP peers for the delivery and relay tests.

:func:`start_sink` runs an aiosmtpd server on 127.0.0.1 (port chosen by the kernel) in
the test's own event loop, optionally offering STARTTLS with a certificate from a
throw-away CA; it records every transaction and can answer chosen recipients or DATA with
a given reply. :func:`smtp_sink` starts Postfix's ``smtp-sink`` as a second, independent
peer (INTEROP.md: ``-u nobody`` and a dump directory it can write).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.peers import require_tool
from tests.tls_pki import make_server_pki


@dataclass(frozen=True)
class SinkPki:
    """A CA and a server certificate for ``localhost`` / ``127.0.0.1``."""

    ca_pem: bytes
    ca_path: Path
    server: ssl.SSLContext

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cadata=self.ca_pem.decode())


def make_pki(directory: Path) -> SinkPki:
    made = make_server_pki("postseal delivery test CA")
    (directory / "ca.pem").write_bytes(made.ca_pem)
    (directory / "chain.pem").write_bytes(made.chain_pem)
    (directory / "key.pem").write_bytes(made.key_pem)
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(directory / "chain.pem", directory / "key.pem")
    return SinkPki(ca_pem=made.ca_pem, ca_path=directory / "ca.pem", server=server)


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    tls: bool


@dataclass
class CollectingHandler:
    """Records transactions; ``rcpt_replies`` / ``data_reply`` override the 250s."""

    rcpt_replies: dict[str, str] = field(default_factory=dict)
    data_reply: str | None = None
    received: list[Received] = field(default_factory=list)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        reply = self.rcpt_replies.get(address)
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_reply is not None:
            return self.data_reply
        content = envelope.content
        assert isinstance(content, bytes)
        self.received.append(
            Received(
                str(envelope.mail_from), list(envelope.rcpt_tos), content, session.ssl is not None
            )
        )
        return "250 2.0.0 queued"


@contextlib.asynccontextmanager
async def start_sink(
    handler: CollectingHandler, *, tls: ssl.SSLContext | None = None, smtputf8: bool = False
) -> AsyncIterator[int]:
    """Serve ``handler`` on 127.0.0.1; yields the port. STARTTLS is offered with ``tls``."""
    loop = asyncio.get_running_loop()
    kwargs: dict[str, Any] = {"hostname": "sink.example.test", "enable_SMTPUTF8": smtputf8}
    if tls is not None:
        kwargs["tls_context"] = tls
    server = await loop.create_server(lambda: SMTP(handler, **kwargs), "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


@contextlib.asynccontextmanager
async def start_silent() -> AsyncIterator[int]:
    """A server that accepts connections and never says a word (for timeouts)."""
    writers: list[asyncio.StreamWriter] = []

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        for writer in writers:
            writer.close()
        server.close()
        await server.wait_closed()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class SmtpSink:
    port: int
    dump_dir: Path

    def dumps(self) -> list[bytes]:
        return [p.read_bytes() for p in sorted(self.dump_dir.iterdir()) if p.is_file()]


@contextlib.contextmanager
def smtp_sink() -> Iterator[SmtpSink]:
    """Postfix's smtp-sink on 127.0.0.1, dumping each transaction into a directory of
    its own under /tmp (pytest's tmp_path is private to root, and smtp-sink run as root
    drops to ``nobody``, who must reach the directory)."""
    binary = require_tool("smtp-sink", package="postfix")
    directory = Path(tempfile.mkdtemp(prefix="postseal-smtp-sink-"))
    command = [binary, "-d", f"{directory}/%M.", "-c"]
    if os.geteuid() == 0:
        shutil.chown(directory, "nobody")
        command[1:1] = ["-u", "nobody"]
    port = free_port()
    process = subprocess.Popen(
        [*command, f"127.0.0.1:{port}", "10"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"smtp-sink did not start: {process.stderr.read() if process.stderr else b''!r}"
                )
            time.sleep(0.05)
        yield SmtpSink(port, directory)
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stderr is not None:
            process.stderr.close()
        shutil.rmtree(directory, ignore_errors=True)
