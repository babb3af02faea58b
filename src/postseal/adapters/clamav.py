"""A ClamAV ``clamd`` client: the real :class:`~postseal.services.ports.Scanner`.

clamd's protocol has no RFC; it is described in ``man 8 clamd``. This client uses only
null-terminated commands (the ``z`` prefix), one command per connection:

- ``zPING\\0`` → ``PONG\\0``; ``zVERSION\\0`` → ``ClamAV 1.4.6/27000/…\\0``.
- ``zINSTREAM\\0`` then chunks, each a 4-byte big-endian length and that many bytes, then a
  zero-length chunk. The reply is ``stream: OK``, ``stream: NAME FOUND``, or ``… ERROR``
  (``INSTREAM size limit exceeded. ERROR`` when the stream passes clamd's
  ``StreamMaxLength``; clamd then closes the connection while we may still be sending).

Contract of :meth:`ClamdScanner.scan`: it never raises for a scanner failure and never
hangs. Connection refused, a missing socket, a timeout (``timeout`` bounds the whole
exchange, connect included), a reply that is truncated, unterminated, too long or not one
of the forms above all become ``ScanResult(ScanVerdict.ERROR, detail=…)``; the policy
(``policy.on_scan_error``, see :func:`postseal.policy.decide_antivirus`) decides what
happens to the message.

The stream is sent with the event loop's raw ``sock_*`` calls rather than asyncio streams:
when clamd stops reading at ``StreamMaxLength`` our next send fails with ``EPIPE``, and a
stream transport then discards the reply clamd already sent; the raw socket keeps it in
its receive queue, so the caller learns *why* the scan failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from typing import Any

from postseal.errors import ConfigError
from postseal.services.ports import ScanResult, ScanVerdict

__all__ = ["ClamdScanner"]

_MAX_REPLY = 4096  # a real reply is one short line; more is garbage, not a reason to wait
_SIZE_LIMIT = "INSTREAM size limit exceeded"


class _ProtocolError(Exception):
    """clamd answered something this client does not understand."""


class ClamdScanner:
    """Scans messages with a clamd reached over a unix socket or TCP.

    Give exactly one of ``unix_path`` or ``host`` (with ``port``, clamd's ``TCPSocket``).
    ``max_bytes`` should not exceed clamd's ``StreamMaxLength``: a larger message is not
    sent at all and scans as ``ERROR``. ``chunk`` is the INSTREAM chunk size.
    """

    def __init__(
        self,
        *,
        unix_path: str | None = None,
        host: str | None = None,
        port: int = 3310,
        timeout: float = 30.0,
        max_bytes: int = 25 * 1024 * 1024,
        chunk: int = 64 * 1024,
    ) -> None:
        if (unix_path is None) == (host is None):
            raise ConfigError("clamd: give exactly one of a unix socket path or a TCP host")
        if timeout <= 0 or max_bytes <= 0 or not 0 < chunk < 1 << 32:
            raise ConfigError("clamd: timeout, max_bytes and chunk must be positive")
        self._unix_path = unix_path
        self._host = host
        self._port = port
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._chunk = chunk

    @property
    def where(self) -> str:
        """The socket this scanner talks to, for messages and logs."""
        if self._unix_path is not None:
            return f"unix:{self._unix_path}"
        return f"{self._host}:{self._port}"

    async def scan(self, data: bytes) -> ScanResult:
        """Scan ``data`` with INSTREAM; see the module docstring for the contract."""
        if len(data) > self._max_bytes:
            return ScanResult(
                ScanVerdict.ERROR,
                detail=f"not scanned: {len(data)} bytes is over the scanner limit of "
                f"{self._max_bytes} bytes",
            )
        try:
            reply = await self._exchange(b"zINSTREAM\0", data)
        except _Failure as failure:
            return ScanResult(ScanVerdict.ERROR, detail=str(failure))
        return _parse_scan_reply(reply, self.where)

    async def ping(self) -> bool:
        """True when clamd answers ``PONG`` within the timeout."""
        try:
            return await self._exchange(b"zPING\0", None) == "PONG"
        except _Failure:
            return False

    async def version(self) -> str | None:
        """clamd's version line (``ClamAV 1.4.6/27000/…``), or None when it does not answer."""
        try:
            return await self._exchange(b"zVERSION\0", None)
        except _Failure:
            return None

    async def _exchange(self, command: bytes, stream: bytes | None) -> str:
        try:
            return await asyncio.wait_for(self._talk(command, stream), self._timeout)
        except TimeoutError:
            raise _Failure(
                f"clamd at {self.where} did not answer within {self._timeout:g} s"
            ) from None
        except _ProtocolError as err:
            raise _Failure(f"clamd at {self.where} {err}") from None
        except OSError as err:
            reason = err.strerror or type(err).__name__
            raise _Failure(f"cannot talk to clamd at {self.where}: {reason}") from None

    async def _talk(self, command: bytes, stream: bytes | None) -> str:
        loop = asyncio.get_running_loop()
        sock = await self._connect(loop)
        with sock:
            await loop.sock_sendall(sock, command)
            if stream is not None:
                # clamd stops reading at StreamMaxLength; its reply is still queued.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    await self._send_stream(loop, sock, stream)
            return await _read_reply(loop, sock)

    async def _connect(self, loop: asyncio.AbstractEventLoop) -> socket.socket:
        if self._unix_path is not None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            address: str | tuple[Any, ...] = self._unix_path
        else:
            assert self._host is not None
            infos = await loop.getaddrinfo(self._host, self._port, type=socket.SOCK_STREAM)
            family, _, _, _, sockaddr = infos[0]
            sock = socket.socket(family, socket.SOCK_STREAM)
            address = sockaddr
        sock.setblocking(False)
        try:
            await loop.sock_connect(sock, address)
        except BaseException:
            sock.close()
            raise
        return sock

    async def _send_stream(
        self, loop: asyncio.AbstractEventLoop, sock: socket.socket, data: bytes
    ) -> None:
        view = memoryview(data)
        for start in range(0, len(view), self._chunk):
            piece = view[start : start + self._chunk]
            await loop.sock_sendall(sock, struct.pack(">I", len(piece)))
            await loop.sock_sendall(sock, piece)
        await loop.sock_sendall(sock, struct.pack(">I", 0))


class _Failure(Exception):
    """Any reason the exchange produced no usable reply; the text is the detail."""


async def _read_reply(loop: asyncio.AbstractEventLoop, sock: socket.socket) -> str:
    buffer = bytearray()
    while True:
        try:
            data = await loop.sock_recv(sock, _MAX_REPLY)
        except ConnectionResetError:
            data = b""
        if not data:
            if not buffer:
                raise _ProtocolError("closed the connection without a reply")
            raise _ProtocolError(f"sent a truncated reply {_show(bytes(buffer))}")
        buffer += data
        end = buffer.find(b"\0")
        if end >= 0:
            line = bytes(buffer[:end])
            break
        if len(buffer) > _MAX_REPLY:
            raise _ProtocolError(f"sent an over-long reply starting {_show(bytes(buffer[:60]))}")
    try:
        text = line.decode("ascii")
    except UnicodeDecodeError:
        raise _ProtocolError(f"sent a non-ASCII reply {_show(line)}") from None
    if not text.isprintable():
        raise _ProtocolError(f"sent a reply with control characters {_show(line)}")
    return text


def _parse_scan_reply(reply: str, where: str) -> ScanResult:
    if reply == "stream: OK":
        return ScanResult(ScanVerdict.CLEAN, detail=f"clamd at {where}: no threat found")
    if reply.startswith("stream: ") and reply.endswith(" FOUND"):
        name = reply[len("stream: ") : -len(" FOUND")].strip()
        if name:
            return ScanResult(
                ScanVerdict.INFECTED, signature=name, detail=f"clamd at {where} found {name}"
            )
    if reply.startswith(_SIZE_LIMIT):
        return ScanResult(
            ScanVerdict.ERROR,
            detail=f"not scanned: the message is over the StreamMaxLength of clamd at {where} "
            "— raise StreamMaxLength in clamd.conf or lower the scanner's max_bytes",
        )
    if reply.endswith(" ERROR"):
        return ScanResult(ScanVerdict.ERROR, detail=f"clamd at {where} failed: {reply[:200]}")
    return ScanResult(
        ScanVerdict.ERROR, detail=f"clamd at {where} answered garbage: {_show(reply)}"
    )


def _show(value: bytes | str) -> str:
    # repr() escapes control bytes, so a hostile reply cannot forge log lines.
    return repr(value[:80])
