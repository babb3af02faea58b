"""One SMTP connection's life: admission, replies, limits, shutdown (no commands here).

aiosmtpd (1.4.x) is the protocol engine: it reads command lines, dispatches
``smtp_<VERB>`` methods, runs STARTTLS (RFC 3207, including discarding plaintext pipelined
after it, §4.2) and the idle timeout. This layer adds what aiosmtpd does not decide the
way postseal needs: admission against the connection limits (``421 4.7.0`` on connect),
every reply passed through :func:`.replies.normalise` (RFC 2034 enhanced codes, no line
breaks), the error budget of :class:`.limits.Limits`, and a graceful shutdown. The
commands themselves are in :mod:`.session`.

It relies on these non-public parts of aiosmtpd, all present since 1.4.0: ``_reader``
(DATA is read here), ``_set_rset_state`` (transaction reset on EHLO/HELO/RSET/STARTTLS)
and ``_reset_timeout`` (data keeps an idle connection alive).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import AnyStr, cast

from aiosmtpd.smtp import SMTP, TLSSetupException

from postseal.errors import PostsealError
from postseal.services.ports import Listener, MailIntake

from . import grammar, replies
from .limits import ConnectionGate, Limits
from .replies import Stage

__all__ = ["SessionContext", "SmtpConnection", "Transaction"]

log = logging.getLogger("postseal.smtp")

# The stream buffer holds one command line: RFC 5321 §4.5.3.1.4 allows 512 octets, which
# SIZE, BODY, SMTPUTF8, RET, ENVID (RFC 3461 §4.4: +100) and ORCPT (+500) extend.
_COMMAND_LIMITS = {"MAIL": 1024, "RCPT": 1100}
_STREAM_BUFFER = 2048
SHUTDOWN_REPLY = "421 4.3.2 Service shutting down, try again later"


class _NoHooks:
    """aiosmtpd's event handler: empty, every hook is a method of the session."""


@dataclass(eq=False)
class SessionContext:
    """What every session of one listener shares."""

    kind: Listener
    intake: MailIntake
    hostname: str
    limits: Limits
    gate: ConnectionGate
    starttls: ssl.SSLContext | None  # None on 465, where TLS is implicit
    sessions: set[SmtpConnection] = field(default_factory=set)
    accepts: set[asyncio.Future[str]] = field(default_factory=set)
    stopping: bool = False


@dataclass(slots=True)
class Transaction:
    mail: grammar.MailCommand
    recipients: list[grammar.RcptCommand] = field(default_factory=list)


class SmtpConnection(SMTP):
    def __init__(self, context: SessionContext) -> None:
        self._ctx = context
        self._client = "unknown"
        self._admitted = False
        self._lost = False
        self._closing = False
        self._greeted = False
        self._accepting = False
        self._commands = 0
        self._errors = 0
        self._txn: Transaction | None = None
        self._authenticated_as: str | None = None
        self._gone: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.line_length_limit = max(_STREAM_BUFFER, context.limits.max_line_length + 2)
        super().__init__(
            _NoHooks(),
            data_size_limit=context.limits.max_message_size,
            enable_SMTPUTF8=True,
            hostname=context.hostname,
            ident="ESMTP postseal",
            tls_context=context.starttls,
            require_starttls=context.kind is Listener.SUBMISSION,
            timeout=context.limits.idle_timeout,
            # AUTH is ours (session.smtp_AUTH); check_auth_needed enforces TLS and AUTH.
            auth_required=False,
            auth_require_tls=False,
            loop=asyncio.get_running_loop(),
        )
        # An instance dict: aiosmtpd's class-level one is shared by all sessions.
        self.command_size_limits = defaultdict(lambda: SMTP.command_size_limit, _COMMAND_LIMITS)

    # -- connection life ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if not self._admitted:  # a second call is the TLS layer after STARTTLS
            peer = transport.get_extra_info("peername")
            self._client = str(peer[0]) if peer else "unknown"
            refusal = self._ctx.gate.admit(self._client)
            if refusal is not None:
                log.warning("refused connection from %s: %s", self._client, refusal)
                if isinstance(transport, asyncio.WriteTransport):
                    transport.write(f"421 4.7.0 {refusal}\r\n".encode())
                transport.close()
                self._lost = True
                self._gone.set_result(None)
                return
            self._admitted = True
            self._ctx.sessions.add(self)
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        if self._lost:
            return
        self._lost = True
        self._ctx.gate.release(self._client)
        self._ctx.sessions.discard(self)
        super().connection_lost(error)
        self._gone.set_result(None)

    def eof_received(self) -> bool | None:
        return None if self._lost else super().eof_received()

    def shutdown(self) -> None:
        """Answer 421 and close, unless a message is being accepted: that one gets its
        reply first and the session closes after it (see smtp_DATA)."""
        transport = self.transport
        if self._accepting or self._closing or transport is None or transport.is_closing():
            return
        self._closing = True
        if isinstance(transport, asyncio.WriteTransport):
            transport.write(f"{SHUTDOWN_REPLY}\r\n".encode())
        transport.close()

    async def wait_closed(self) -> None:
        await asyncio.shield(self._gone)

    def abort(self) -> None:
        # Also after close(): a TLS close_notify exchange may hang on a silent client.
        if isinstance(self.transport, asyncio.WriteTransport):
            self.transport.abort()

    def _set_rset_state(self) -> None:
        # aiosmtpd calls this on HELO, EHLO, RSET and after STARTTLS (RFC 3207 §4.2).
        cast(Callable[[], None], super()._set_rset_state)()
        self._txn = None

    def _tls_active(self) -> bool:
        return (
            self.transport is not None and self.transport.get_extra_info("ssl_object") is not None
        )

    # -- replies -----------------------------------------------------------------------

    async def push(self, status: AnyStr) -> None:
        if self._closing:
            return
        text = status.decode("utf-8", "replace") if isinstance(status, bytes) else status
        if not self._greeted:  # RFC 2034 §3: no enhanced code in the greeting
            self._greeted = True
            await super().push(replies.one_line(text))
            return
        line = replies.normalise(text)
        await super().push(line)
        if line.startswith("5"):
            self._errors += 1
            if self._errors >= self._ctx.limits.max_errors:
                await self._close_with("421 4.7.0 Too many errors, closing connection")

    async def _close_with(self, reply: str) -> None:
        log.info("%s: %s", self._client, reply)
        await super().push(reply)
        self._closing = True
        if self.transport is not None:
            self.transport.close()

    async def _refuse(self, error: Exception, stage: Stage) -> None:
        if isinstance(error, PostsealError):
            log.info("%s %s refused: %s", self._client, stage.value, error)
        else:
            log.error("%s %s failed", self._client, stage.value, exc_info=error)
        await self.push(replies.reply_for_error(error, stage))

    async def handle_exception(self, error: Exception) -> str:
        if isinstance(error, TLSSetupException):
            log.info("%s TLS handshake failed: %s", self._client, error.__cause__)
            return ""  # aiosmtpd closes the connection without sending it
        log.error("%s SMTP session error", self._client, exc_info=error)
        return replies.INTERNAL_ERROR

    # -- state shared by the commands --------------------------------------------------

    async def check_auth_needed(self, caller_method: str) -> bool:
        """aiosmtpd's hook before MAIL/RCPT/DATA/VRFY/HELP: on the submission listeners TLS
        and then AUTH come first (RFC 3207 §4, RFC 4954 §4 "530 5.7.0")."""
        if self._ctx.kind is Listener.SMTP:
            return False
        assert self.session is not None
        if not self._tls_active():
            await self.push("530 5.7.0 Must issue a STARTTLS command first")
            return True
        if not self.session.authenticated:
            await self.push("530 5.7.0 Authentication required")
            return True
        return False

    def _auth_user(self) -> str | None:
        assert self.session is not None
        # aiosmtpd starts a new Session after STARTTLS, clearing ``authenticated``.
        return self._authenticated_as if self.session.authenticated else None
