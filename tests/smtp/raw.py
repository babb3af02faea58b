"""A raw SMTP client over asyncio streams, for the bytes no polite client would send."""

from __future__ import annotations

import asyncio
import contextlib
import ssl


class RawClient:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def connect(
        cls, port: int, *, tls: ssl.SSLContext | None = None, greet: bool = True
    ) -> RawClient:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=tls, server_hostname="localhost" if tls else None
        )
        client = cls(reader, writer)
        if greet:
            code, text = await client.reply()
            assert code == 220, text
        return client

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def reply(self, wait: float = 5.0) -> tuple[int, str]:
        """One complete (possibly multi-line) reply: its code and its lines joined by \\n."""
        lines: list[str] = []
        while True:
            raw = await asyncio.wait_for(self.reader.readline(), wait)
            if not raw:
                raise ConnectionError(f"connection closed after {lines!r}")
            line = raw.decode().rstrip("\r\n")
            lines.append(line)
            if line[3:4] != "-":
                return int(line[:3]), "\n".join(lines)

    async def command(self, line: str | bytes) -> tuple[int, str]:
        await self.send((line.encode() if isinstance(line, str) else line) + b"\r\n")
        return await self.reply()

    async def ehlo(self) -> str:
        code, text = await self.command("EHLO client.example.net")
        assert code == 250, text
        return text

    async def closed(self, wait: float = 5.0) -> bool:
        """True when the server has closed the connection (EOF)."""
        data = await asyncio.wait_for(self.reader.read(), wait)
        return data == b""

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, ssl.SSLError):
            await self.writer.wait_closed()
