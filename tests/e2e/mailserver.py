"""A real ``postseal serve`` process with its SMTP listeners, for end-to-end mail tests."""

from __future__ import annotations

import asyncio
import signal
import smtplib
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from postseal.config import load_settings
from postseal.runtime import open_services
from postseal.services.mailbox_writer import read_mailbox
from tests.e2e.cli import Org, clean_environ

STARTUP_TIMEOUT = 30
STOP_TIMEOUT = 15


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    org: Org
    ports: dict[str, int]
    process: subprocess.Popen[bytes]
    errors: Path

    def tls_context(self) -> ssl.SSLContext:
        """A client context trusting the organisation's root (the TLS chain's anchor)."""
        root = self.org.ok("ca", "export").stdout_bytes.split(b"-----END CERTIFICATE-----")[0]
        context = ssl.create_default_context(
            cadata=(root + b"-----END CERTIFICATE-----\n").decode()
        )
        context.check_hostname = False  # the certificate names mail.example.org, we dial 127.0.0.1
        return context

    def submit(self, sender: str, password: str, recipients: list[str], message: bytes) -> None:
        with smtplib.SMTP("127.0.0.1", self.ports["submission"], timeout=30) as client:
            client.starttls(context=self.tls_context())
            client.login(sender, password)
            client.sendmail(sender, recipients, message)


def start(org: Org, listen: dict[str, int], log_dir: Path) -> Server:
    command = [sys.executable, "-m", "postseal", "--data-dir", str(org.data_dir), "serve"]
    for name, port in listen.items():
        command += ["--listen", f"{name}=127.0.0.1:{port}"]
    run = len(list(log_dir.glob("serve-*.out")))
    out, errors = log_dir / f"serve-{run}.out", log_dir / f"serve-{run}.err"
    with out.open("wb") as stdout, errors.open("wb") as stderr:
        # faulthandler: a hung shutdown is dumped (SIGABRT below) instead of guessed at.
        env = clean_environ({"PYTHONFAULTHANDLER": "1"})
        process = subprocess.Popen(command, stdout=stdout, stderr=stderr, env=env)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"serve exited with {process.returncode}: {errors.read_text()}")
        if "postseal serving" in out.read_text():
            return Server(org, listen, process, errors)
        time.sleep(0.05)
    process.kill()
    raise AssertionError(f"serve did not start within {STARTUP_TIMEOUT}s: {errors.read_text()}")


def stop(server: Server) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
    try:
        status = server.process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        server.process.send_signal(signal.SIGABRT)
        server.process.wait(timeout=STOP_TIMEOUT)
        raise AssertionError(
            f"serve ignored SIGTERM for {STOP_TIMEOUT}s:\n{server.errors.read_text()[-6000:]}"
        ) from None
    assert status == 0, f"serve exited with {status}: {server.errors.read_text()}"


@contextmanager
def running(org: Org, listen: dict[str, int], log_dir: Path) -> Iterator[Server]:
    server = start(org, listen, log_dir)
    try:
        yield server
    finally:
        stop(server)
    assert "Traceback" not in server.errors.read_text(), server.errors.read_text()


def inbox(org: Org, address: str) -> list[bytes]:
    """The opened messages of a user's INBOX, read straight from the store."""

    async def read() -> list[bytes]:
        settings = load_settings(org.data_dir, environ={})
        async with open_services(settings, {}) as services:
            return await read_mailbox(services.store, services.master, address)

    return asyncio.run(read())


def wait_for(predicate: object, *, timeout: float = 30.0, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
