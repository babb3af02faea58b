"""Binding and running one SMTP listener: ``smtp`` (25), ``submission`` (587) or
``submissions`` (465, implicit TLS per RFC 8314 §3.3).

The socket is bound here, not inside asyncio, so that "address in use" becomes a
:class:`~postseal.errors.ConfigError` naming the address, and the composition root owns
start-up and shutdown of every listener alike.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl

from postseal.errors import ConfigError
from postseal.protocols.shutdown import drain_sessions
from postseal.protocols.tls import bind_listening_socket, check_server_context
from postseal.services.ports import Listener, MailIntake

from .connection import SessionContext
from .limits import ConnectionGate, Limits
from .session import SmtpSession

__all__ = ["SmtpListener"]

log = logging.getLogger("postseal.smtp")


class SmtpListener:
    """One listening socket serving SMTP sessions of one :class:`Listener` kind.

    ``tls`` is the server context (see :func:`.tls.server_context`): offered with STARTTLS
    on ``smtp``, required before AUTH or MAIL on ``submission``, implicit on
    ``submissions``. ``hostname`` is the name in the greeting and EHLO reply.
    ``shutdown_grace`` bounds how long :meth:`stop` waits for messages being accepted.
    With ``sock`` it serves an already listening socket (one inherited from the process
    that bound it, ADR 0024) instead of binding ``host``:``port``; :meth:`fileno` gives
    the listening socket's descriptor to pass on.
    """

    def __init__(
        self,
        kind: Listener | str,
        intake: MailIntake,
        *,
        host: str,
        port: int,
        hostname: str,
        tls: ssl.SSLContext,
        limits: Limits | None = None,
        shutdown_grace: float = 10.0,
        sock: socket.socket | None = None,
    ) -> None:
        try:
            self._kind = Listener(kind)
        except ValueError:
            names = ", ".join(member.value for member in Listener)
            raise ConfigError(f"unknown SMTP listener {kind!r}; expected one of {names}") from None
        check_server_context(tls, protocol="SMTP")
        self._host = host
        self._port = port
        self._tls = tls
        self._grace = shutdown_grace
        limits = limits or Limits()
        implicit = self._kind is Listener.SUBMISSIONS
        self._context = SessionContext(
            kind=self._kind,
            intake=intake,
            hostname=hostname,
            limits=limits,
            gate=ConnectionGate(
                total=limits.max_connections, per_client=limits.max_connections_per_client
            ),
            starttls=None if implicit else tls,
        )
        self._server: asyncio.Server | None = None
        self._sock = sock
        if sock is not None:  # named after the socket it serves, for the logs
            self._host, self._port = sock.getsockname()[:2]

    @property
    def kind(self) -> Listener:
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

    def fileno(self) -> int:
        """The listening socket's descriptor (started listeners only)."""
        if self._server is None or not self._server.sockets:
            raise RuntimeError(f"the {self._kind} listener is not started")
        return int(self._server.sockets[0].fileno())

    async def start(self) -> None:
        sock = self._sock or bind_listening_socket(str(self._kind), self._host, self._port)
        implicit = self._kind is Listener.SUBMISSIONS
        loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_server(
                lambda: SmtpSession(self._context),
                sock=sock,
                ssl=self._tls if implicit else None,
                ssl_handshake_timeout=(
                    self._context.limits.tls_handshake_timeout if implicit else None
                ),
            )
        except BaseException:
            sock.close()
            raise
        log.info("%s listening on %s:%d", self._kind, self._host, self.port)

    async def stop(self) -> None:
        """Stop accepting, let messages being committed finish (up to ``shutdown_grace``
        seconds), answer ``421 4.3.2`` to every other session and close it."""
        server, self._server = self._server, None
        if server is None:
            return
        context = self._context
        context.stopping = True
        server.close()
        await drain_sessions(str(self._kind), context.sessions, grace=self._grace)
        if context.accepts:
            await asyncio.wait(set(context.accepts), timeout=self._grace)
        await server.wait_closed()
        log.info("%s stopped", self._kind)
