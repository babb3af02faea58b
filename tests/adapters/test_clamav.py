"""ClamdScanner against a real clamd, and against fake servers that misbehave.

The real clamd (see ``tests/adapters/clamd.py``) knows one signature, EICAR. The fake
servers cover what a real clamd rarely does on demand: never answering, answering
garbage, closing mid-reply.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest

from postseal.adapters import ClamdScanner
from postseal.errors import ConfigError
from postseal.services.ports import Scanner, ScanVerdict
from tests.adapters.clamd import EICAR, EICAR_SIGNATURE, STREAM_MAX_BYTES, Clamd, free_port

CLEAN = b"From: alice@example.test\r\nSubject: lunch\r\n\r\nSee you at noon.\r\n"


def _scanner(clamd: Clamd, transport: str, **options: float) -> ClamdScanner:
    if transport == "unix":
        return ClamdScanner(unix_path=clamd.unix_path, **options)  # type: ignore[arg-type]
    return ClamdScanner(host=clamd.host, port=clamd.port, **options)  # type: ignore[arg-type]


def _mime_with_attachment(payload: bytes) -> bytes:
    encoded = base64.encodebytes(payload).replace(b"\n", b"\r\n")
    return (
        b"From: mallory@outside.example\r\nTo: bob@example.test\r\n"
        b"Subject: invoice\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
        b"--b1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nPlease see attached.\r\n"
        b"--b1\r\nContent-Type: application/octet-stream\r\n"
        b"Content-Transfer-Encoding: base64\r\n"
        b'Content-Disposition: attachment; filename="invoice.com"\r\n\r\n' + encoded + b"--b1--\r\n"
    )


def test_the_eicar_bytes_are_the_standard_test_file() -> None:
    assert (
        hashlib.md5(EICAR, usedforsecurity=False).hexdigest() == "44d88612fea8a8f36de82e1278abb02f"
    )


def test_the_adapter_satisfies_the_scanner_port() -> None:
    scanner: Scanner = ClamdScanner(unix_path="/nonexistent")
    assert scanner is not None


@pytest.mark.parametrize(
    "options",
    [{}, {"unix_path": "/a", "host": "127.0.0.1"}, {"unix_path": "/a", "timeout": 0}],
)
def test_misuse_is_a_config_error(options: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match="clamd:"):
        ClamdScanner(**options)  # type: ignore[arg-type]


@pytest.mark.parametrize("transport", ["unix", "tcp"])
async def test_clean_message(clamd: Clamd, transport: str) -> None:
    result = await _scanner(clamd, transport).scan(CLEAN)
    assert result.verdict is ScanVerdict.CLEAN
    assert result.signature is None


@pytest.mark.parametrize("transport", ["unix", "tcp"])
async def test_eicar_is_infected(clamd: Clamd, transport: str) -> None:
    result = await _scanner(clamd, transport).scan(EICAR)
    assert result.verdict is ScanVerdict.INFECTED
    assert result.signature == EICAR_SIGNATURE
    assert EICAR_SIGNATURE in result.detail


async def test_eicar_as_base64_mime_attachment_is_found(clamd: Clamd) -> None:
    result = await _scanner(clamd, "unix").scan(_mime_with_attachment(EICAR))
    assert result.verdict is ScanVerdict.INFECTED
    assert result.signature == EICAR_SIGNATURE


async def test_chunk_boundaries_do_not_change_the_stream(clamd: Clamd) -> None:
    # A hash signature matches only the exact file: any framing slip would hide it.
    result = await _scanner(clamd, "tcp", chunk=7).scan(EICAR)
    assert result.verdict is ScanVerdict.INFECTED


async def test_concurrent_scans_each_get_their_own_answer(clamd: Clamd) -> None:
    scanner = _scanner(clamd, "unix")
    payloads = [EICAR if i % 3 == 0 else CLEAN + bytes([65 + i]) for i in range(24)]
    results = await asyncio.gather(*(scanner.scan(p) for p in payloads))
    for payload, result in zip(payloads, results, strict=True):
        expected = ScanVerdict.INFECTED if payload == EICAR else ScanVerdict.CLEAN
        assert result.verdict is expected


@pytest.mark.parametrize("transport", ["unix", "tcp"])
async def test_over_clamd_stream_limit_is_an_error_naming_the_limit(
    clamd: Clamd, transport: str
) -> None:
    scanner = _scanner(clamd, transport, max_bytes=64 * STREAM_MAX_BYTES)
    result = await scanner.scan(b"A" * (3 * STREAM_MAX_BYTES))
    assert result.verdict is ScanVerdict.ERROR
    assert "StreamMaxLength" in result.detail


async def test_over_own_limit_is_not_sent() -> None:
    scanner = ClamdScanner(unix_path="/nonexistent/clamd.sock", max_bytes=10)
    result = await scanner.scan(b"x" * 11)
    assert result.verdict is ScanVerdict.ERROR
    assert "11 bytes is over the scanner limit of 10 bytes" in result.detail


async def test_ping_and_version(clamd: Clamd) -> None:
    for transport in ("unix", "tcp"):
        scanner = _scanner(clamd, transport)
        assert await scanner.ping() is True
        version = await scanner.version()
        assert version is not None
        assert version.startswith("ClamAV ")


@pytest.mark.parametrize(
    "scanner",
    [
        ClamdScanner(unix_path="/nonexistent/clamd.sock"),
        ClamdScanner(host="127.0.0.1", port=free_port()),
    ],
    ids=["missing-socket", "refused-port"],
)
async def test_clamd_not_running_is_an_error_at_once(scanner: ClamdScanner) -> None:
    started = time.monotonic()
    result = await scanner.scan(CLEAN)
    assert result.verdict is ScanVerdict.ERROR
    assert "cannot talk to clamd" in result.detail
    assert await scanner.ping() is False
    assert await scanner.version() is None
    assert time.monotonic() - started < 2.0


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def fake_clamd(handler: Handler) -> AsyncIterator[int]:
    """A TCP server on 127.0.0.1 running ``handler`` per connection; yields its port."""
    tasks: set[asyncio.Task[None]] = set()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await handler(reader, writer)
        except OSError:
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()
        if tasks:
            await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 5)


async def _read_until_terminator(reader: asyncio.StreamReader) -> None:
    await reader.readuntil(b"\0")
    while True:
        size = int.from_bytes(await reader.readexactly(4), "big")
        if size == 0:
            return
        await reader.readexactly(size)


async def test_a_server_that_never_answers_times_out() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client gives up and closes

    async with fake_clamd(silent) as port:
        scanner = ClamdScanner(host="127.0.0.1", port=port, timeout=0.5)
        started = time.monotonic()
        result = await scanner.scan(CLEAN)
        elapsed = time.monotonic() - started
        assert await scanner.ping() is False
    assert result.verdict is ScanVerdict.ERROR
    assert "did not answer within 0.5 s" in result.detail
    assert elapsed < 2.0


async def test_a_server_that_stops_reading_times_out() -> None:
    release = asyncio.Event()

    async def stuck(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await release.wait()  # never reads: the client's send blocks on a full buffer

    async with fake_clamd(stuck) as port:
        scanner = ClamdScanner(host="127.0.0.1", port=port, timeout=0.5)
        result = await scanner.scan(b"A" * (16 * 1024 * 1024))
        release.set()
    assert result.verdict is ScanVerdict.ERROR
    assert "did not answer" in result.detail


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (b"", "closed the connection without a reply"),
        (b"stream: OK", "truncated reply"),
        (b"hello world\0", "answered garbage"),
        (b"stream: FOUND\0", "answered garbage"),
        (b"\xff\xfe OK\0", "non-ASCII reply"),
        (b"stream: Evil\x1b[2J FOUND\0", "control characters"),
        (b"A" * 10_000, "over-long reply"),
        (b"Can't allocate memory ERROR\0", "failed: Can't allocate memory ERROR"),
    ],
    ids=["eof", "unterminated", "garbage", "no-name", "non-ascii", "escape", "long", "error"],
)
async def test_a_misbehaving_server_is_an_error(reply: bytes, expected: str) -> None:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_until_terminator(reader)
        writer.write(reply)
        await writer.drain()

    async with fake_clamd(answer) as port:
        result = await ClamdScanner(host="127.0.0.1", port=port, timeout=2).scan(CLEAN)
    assert result.verdict is ScanVerdict.ERROR
    assert expected in result.detail
    assert "\x1b" not in result.detail
