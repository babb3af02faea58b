"""A raw IMAP client over asyncio streams: it sends exactly the bytes a test writes and
returns the server's responses, literals included, as they came."""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl
from dataclasses import dataclass

_LITERAL = re.compile(rb"\{(\d+)\}\r\n\Z")


@dataclass
class Reply:
    untagged: list[bytes]
    tagged: bytes

    @property
    def status(self) -> str:
        return self.tagged.split(b" ", 2)[1].decode()

    def has(self, fragment: bytes | str) -> bool:
        needle = fragment.encode() if isinstance(fragment, str) else fragment
        return any(needle in line for line in [*self.untagged, self.tagged])

    def lines(self, fragment: bytes | str) -> list[bytes]:
        needle = fragment.encode() if isinstance(fragment, str) else fragment
        return [line for line in self.untagged if needle in line]


class RawImap:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.greeting = b""
        self._tag = 0

    @classmethod
    async def connect(cls, port: int, *, tls: ssl.SSLContext | None = None) -> RawImap:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=tls, server_hostname="localhost" if tls else None, limit=2**24
        )
        client = cls(reader, writer)
        client.greeting = await client.response()
        return client

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def response(self, wait: float = 5.0) -> bytes:
        """One response: a line and the literals it announces, joined."""
        out = b""
        while True:
            line = await asyncio.wait_for(self.reader.readline(), wait)
            if not line:
                raise ConnectionError(f"connection closed after {out!r}")
            out += line
            found = _LITERAL.search(line)
            if found is None:
                return out
            out += await asyncio.wait_for(self.reader.readexactly(int(found.group(1))), wait)

    def next_tag(self) -> str:
        self._tag += 1
        return f"a{self._tag:03d}"

    async def command(self, text: str | bytes, *, wait: float = 5.0) -> Reply:
        """Send ``TAG text`` and read until the tagged response. Literals in ``text``
        must be non-synchronizing (``{n+}``) or sent with :meth:`send`."""
        tag = self.next_tag()
        data = text.encode() if isinstance(text, str) else text
        await self.send(tag.encode() + b" " + data + b"\r\n")
        return await self.until(tag, wait=wait)

    async def until(self, tag: str, *, wait: float = 5.0) -> Reply:
        untagged: list[bytes] = []
        while True:
            line = await self.response(wait)
            if line.startswith(tag.encode() + b" "):
                return Reply(untagged, line)
            untagged.append(line)

    async def login(self, user: str = "alice@example.org", password: str = "alice-pw") -> None:  # noqa: S107
        reply = await self.command(f'LOGIN {user} "{password}"')
        assert reply.status == "OK", reply

    async def closed(self, wait: float = 5.0) -> bool:
        try:
            data = await asyncio.wait_for(self.reader.read(), wait)
        except (ConnectionError, ssl.SSLError):
            return True
        return data == b"" or data.startswith(b"* BYE") or b"* BYE" in data

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError, TimeoutError):
            await asyncio.wait_for(self.writer.wait_closed(), 2)
