"""A private, real clamd for tests: one-signature database, unix and TCP sockets.

freshclam cannot reach the internet here (../shared/INTEROP.md, "ClamAV without the
internet"), so the database is a single MD5 hash signature for the EICAR test file,
written at set-up in the ``.hdb`` format ``sigtool --md5`` prints (``MD5:SIZE:NAME``);
clamd reports it as ``eicar.com.UNOFFICIAL``. Other suites that need a real scanner can
use :func:`start_clamd` too.
"""

from __future__ import annotations

import hashlib
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.peers import require_tool

# Assembled from two halves so that a scanner running over the source tree ignores it.
EICAR = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-" + b"ANTIVIRUS-TEST-FILE!$H+H*"
EICAR_SIGNATURE = "eicar.com.UNOFFICIAL"
STREAM_MAX_BYTES = 1024 * 1024
_START_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class Clamd:
    unix_path: str
    host: str
    port: int
    log: Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _pong(unix_path: str) -> bool:
    try:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(1.0)
            sock.connect(unix_path)
            sock.sendall(b"zPING\0")
            return sock.recv(16) == b"PONG\0"
    except OSError:
        return False


@contextmanager
def start_clamd(workdir: Path) -> Iterator[Clamd]:
    """Run ``clamd --foreground`` on a private config in ``workdir`` until the block ends.

    Skips (naming the Debian package) when clamd is not installed; fails with the tail of
    clamd's log when it does not answer PING within 30 s.
    """
    clamd = require_tool("clamd", package="clamav-daemon")
    database = workdir / "db"
    database.mkdir()
    (database / "test.hdb").write_text(
        f"{hashlib.md5(EICAR, usedforsecurity=False).hexdigest()}:{len(EICAR)}:eicar.com\n",
        encoding="ascii",
    )
    instance = Clamd(str(workdir / "clamd.sock"), "127.0.0.1", free_port(), workdir / "clamd.log")
    config = workdir / "clamd.conf"
    config.write_text(
        f"DatabaseDirectory {database}\n"
        f"LocalSocket {instance.unix_path}\n"
        f"TCPSocket {instance.port}\n"
        f"TCPAddr {instance.host}\n"
        "Foreground yes\n"
        f"PidFile {workdir / 'clamd.pid'}\n"
        f"LogFile {instance.log}\n"
        f"StreamMaxLength {STREAM_MAX_BYTES}\n",
        encoding="ascii",
    )
    process = subprocess.Popen(
        [clamd, "--foreground", f"--config-file={config}"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + _START_TIMEOUT
        while not _pong(instance.unix_path):
            if process.poll() is not None or time.monotonic() > deadline:
                log = instance.log.read_text(errors="replace") if instance.log.exists() else ""
                pytest.fail(f"clamd did not start (exit {process.poll()}); log:\n{log[-2000:]}")
            time.sleep(0.05)
        yield instance
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
