"""Binding and running one IMAP listener: ``imap`` (143, STARTTLS, RFC 3501 §6.2.1) or
``imaps`` (993, implicit TLS, RFC 8314 §3.3).

The socket is bound here, not inside asyncio, so that "address in use" becomes a
:class:`~postseal.errors.ConfigError` naming the address, as for the SMTP listeners.
"""

from __future__ import annotations

import asyncio
import logging
import ssl

from postseal.errors import ConfigError
from postseal.protocols.shutdown import drain_sessions
from postseal.protocols.tls import check_server_context, start_line_server

from .session import ImapSession
from .session_context import Authenticator, ListenerContext, MailboxAccess
from .session_limits import ConnectionGate, ImapLimits

__all__ = ["KINDS", "ImapLimits", "ImapListener"]

log = logging.getLogger("postseal.imap")
KINDS = ("imap", "imaps")


class ImapListener:
    """One listening socket serving IMAP sessions.

    ``tls`` is the server context (``protocols.tls.server_context``): offered with
    STARTTLS on ``imap`` — where no password is taken before it — and implicit on
    ``imaps``. ``authenticate(username, password, client_address)`` returns the user or
    raises AuthenticationError / ThrottledError. ``hostname`` names the server in the
    greeting. ``shutdown_grace`` bounds how long :meth:`stop` waits for running commands.
    """

    def __init__(
        self,
        kind: str,
        *,
        mailboxes: MailboxAccess,
        authenticate: Authenticator,
        host: str,
        port: int,
        hostname: str,
        tls: ssl.SSLContext,
        limits: ImapLimits | None = None,
        shutdown_grace: float = 10.0,
    ) -> None:
        if kind not in KINDS:
            raise ConfigError(f"unknown IMAP listener {kind!r}; expected imap or imaps")
        check_server_context(tls, protocol="IMAP")
        self._kind = kind
        self._host = host
        self._port = port
        self._tls = tls
        self._grace = shutdown_grace
        limits = limits or ImapLimits()
        self._context = ListenerContext(
            kind=kind,
            mailboxes=mailboxes,
            authenticate=authenticate,
            hostname=hostname,
            limits=limits,
            gate=ConnectionGate(limits),
            starttls=None if kind == "imaps" else tls,
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

    @property
    def open_connections(self) -> int:
        return self._context.gate.open_connections

    async def start(self) -> None:
        limits = self._context.limits
        self._server = await start_line_server(
            self._serve,
            name=self._kind,
            host=self._host,
            port=self._port,
            tls=self._tls if self._kind == "imaps" else None,
            handshake_timeout=limits.tls_handshake_timeout,
            line_limit=limits.max_line_length,
        )
        log.info("%s listening on %s:%d", self._kind, self._host, self.port)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await ImapSession(self._context, reader, writer).run()

    async def stop(self) -> None:
        """Stop accepting; say ``* BYE`` to every session waiting for its client, let the
        others finish their command (up to ``shutdown_grace`` seconds), then close all."""
        server, self._server = self._server, None
        if server is None:
            return
        context = self._context
        context.stopping = True
        server.close()
        await drain_sessions(str(self._kind), context.sessions, grace=self._grace)
        await server.wait_closed()
        log.info("%s stopped", self._kind)
