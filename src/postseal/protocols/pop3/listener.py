"""Binding and running one POP3 listener: ``pop3`` (110, STLS per RFC 2595) or
``pop3s`` (995, implicit TLS per RFC 8314 §3.3).

The socket is bound here, not inside asyncio, so that "address in use" becomes a
:class:`~postseal.errors.ConfigError` naming the address; the composition root starts and
stops every listener alike.
"""

from __future__ import annotations

import asyncio
import logging
import ssl

from postseal.errors import ConfigError
from postseal.protocols.tls import start_line_server
from postseal.services.mailboxes import MailboxService
from postseal.services.throttle import AuthThrottle

from .context import Authenticate, Pop3Limits, SessionContext
from .grammar import err
from .session import Pop3Session

__all__ = ["KINDS", "Pop3Listener"]

log = logging.getLogger("postseal.pop3")
KINDS = ("pop3", "pop3s")


class Pop3Listener:
    """One listening socket serving POP3 sessions on the user's INBOX.

    ``authenticate(user, password, client_address)`` returns the user or raises
    AuthenticationError; ``throttle``, when given, refuses guessing before the password is
    checked (the server's ``authenticate`` is throttled itself, by the store-backed
    throttle every protocol shares: ADR 0027). ``tls`` is the server context
    (``protocols.tls.server_context`` builds one for every listener).
    """

    def __init__(
        self,
        kind: str,
        *,
        service: MailboxService,
        authenticate: Authenticate,
        host: str,
        port: int,
        hostname: str,
        tls: ssl.SSLContext,
        limits: Pop3Limits | None = None,
        throttle: AuthThrottle | None = None,
        shutdown_grace: float = 5.0,
    ) -> None:
        if kind not in KINDS:
            raise ConfigError(f"unknown POP3 listener {kind!r}; expected pop3 or pop3s")
        if tls.protocol != ssl.PROTOCOL_TLS_SERVER or tls.minimum_version < ssl.TLSVersion.TLSv1_2:
            raise ConfigError("the POP3 TLS context must be a TLS 1.2+ server context")
        self._kind = kind
        self._host = host
        self._port = port
        self._tls = tls
        self._grace = shutdown_grace
        self._context = SessionContext(
            service=service,
            authenticate=authenticate,
            throttle=throttle,
            hostname=hostname,
            limits=limits or Pop3Limits(),
            starttls=None if kind == "pop3s" else tls,
        )
        self._server: asyncio.Server | None = None

    @property
    def kind(self) -> str:
        return self._kind

    @property
    def port(self) -> int:
        """The bound port (the real one when constructed with port 0)."""
        if self._server is None or not self._server.sockets:
            return self._port
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        limits = self._context.limits
        self._server = await start_line_server(
            self._serve,
            name=self._kind,
            host=self._host,
            port=self._port,
            tls=self._tls if self._kind == "pop3s" else None,
            handshake_timeout=limits.tls_handshake_timeout,
            line_limit=limits.max_line_length,
        )
        log.info("%s listening on %s:%d", self._kind, self._host, self.port)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        ctx = self._context
        peer = writer.get_extra_info("peername")
        client = str(peer[0]) if isinstance(peer, tuple) else "unknown"
        task = asyncio.current_task()
        assert task is not None
        if (
            ctx.stopping
            or len(ctx.tasks) >= ctx.limits.max_connections
            or ctx.clients[client] >= ctx.limits.max_connections_per_client
        ):
            writer.write(err("too many connections; try again later", code="SYS/TEMP"))
            writer.close()
            return
        ctx.tasks.add(task)
        ctx.clients[client] += 1
        try:
            await Pop3Session(ctx, reader, writer, tls=self._kind == "pop3s").run()
        finally:
            ctx.tasks.discard(task)
            ctx.clients[client] -= 1
            if ctx.clients[client] <= 0:
                del ctx.clients[client]

    async def stop(self) -> None:
        """Stop accepting, then end every session: without UPDATE, so nothing a client
        marked is deleted (RFC 1939 §6)."""
        server, self._server = self._server, None
        if server is None:
            return
        self._context.stopping = True
        server.close()
        tasks = list(self._context.tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=self._grace)
        await server.wait_closed()
        log.info("%s stopped", self._kind)
