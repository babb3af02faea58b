"""One POP3 session over asyncio streams (RFC 1939 §3-§6, RFC 2449, RFC 2595, RFC 5034).

AUTHORIZATION → TRANSACTION → UPDATE. On the ``pop3`` listener nothing that carries a
password is accepted before STLS (RFC 8314 §3.1; CAPA shows neither USER nor SASL until
then). At login the INBOX is snapshot into a :class:`.maildrop.Maildrop`; DELE only marks,
RSET unmarks, and only QUIT from TRANSACTION deletes (sets ``\\Deleted`` on the marked
messages and expunges exactly those UIDs) and marks the retrieved ones ``\\Seen``. A
connection that ends any other way changes nothing (§6). Messages stay on the server
unless deleted (CAPA ``EXPIRE NEVER``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from postseal.errors import AuthenticationError, InputError, PostsealError
from postseal.store.ports import INBOX, Mailbox, StoredMessage

from . import grammar
from .context import SessionContext
from .grammar import Command, err, ok
from .maildrop import Maildrop, uidl
from .replies import refusal

__all__ = ["Pop3Session"]

log = logging.getLogger("postseal.pop3")
_TLS_FIRST = "log in after STLS: passwords are never sent in the clear"
_Handler = Callable[["Pop3Session", Command], Awaitable[None]]


class _Closed(Exception):
    """The session ends (QUIT, too many errors, idle, shutdown)."""


class Pop3Session:
    def __init__(
        self,
        context: SessionContext,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        tls: bool,
    ) -> None:
        self._ctx = context
        self._reader = reader
        self._writer = writer
        self._tls = tls
        peer = writer.get_extra_info("peername")
        self._client = str(peer[0]) if isinstance(peer, tuple) else "unknown"
        self._pending_user: str | None = None
        self._drop: Maildrop | None = None
        self._inbox: Mailbox | None = None
        self._errors = 0
        self._commands = 0

    # -- the loop --------------------------------------------------------------------------

    async def run(self) -> None:
        limits = self._ctx.limits
        try:
            await self._send(ok(f"{self._ctx.hostname} POP3 server ready"))
            while not self._ctx.stopping:
                line = await self._read_line()
                self._commands += 1
                if self._commands > limits.max_commands:
                    await self._send(err("too many commands; closing", code="SYS/TEMP"))
                    return
                if line is None:
                    await self._fail(err(f"line longer than {limits.max_line_length} octets"))
                    continue
                try:
                    command = grammar.parse_command(line)
                except InputError as exc:
                    await self._fail(err(exc.message))
                    continue
                await self._dispatch(command)
            await self._send(err("server shutting down; try again later", code="SYS/TEMP"))
        except _Closed:
            pass
        except (ConnectionError, asyncio.IncompleteReadError, TimeoutError):
            pass
        finally:
            self._writer.close()

    async def _read_line(self) -> bytes | None:
        """The next line, None if it was too long (and was skipped). Idle for
        ``idle_timeout`` → autologout without UPDATE (RFC 1939 §3)."""
        overlong = False
        while True:
            try:
                async with asyncio.timeout(self._ctx.limits.idle_timeout):
                    line = await self._reader.readuntil(b"\n")
            except asyncio.LimitOverrunError as exc:
                await self._reader.readexactly(exc.consumed)
                overlong = True
                continue
            except TimeoutError:
                await self._send(err("idle for too long; closing"))
                raise _Closed from None
            return None if overlong else line

    async def _send(self, data: bytes) -> None:
        self._writer.write(data)
        await self._writer.drain()

    async def _fail(self, reply: bytes) -> None:
        self._errors += 1
        await self._send(reply)
        if self._errors >= self._ctx.limits.max_errors:
            await self._send(err("too many errors; closing"))
            raise _Closed

    async def _dispatch(self, command: Command) -> None:
        authorised = self._drop is not None
        table = _TRANSACTION if authorised else _AUTHORIZATION
        handler = table.get(command.verb) or _ANY.get(command.verb)
        if handler is None:
            state = "after login" if authorised else "before login"
            await self._fail(err(f"{command.verb} is not allowed {state}"))
            return
        try:
            await handler(self, command)
        except (_Closed, ConnectionError, asyncio.IncompleteReadError):
            raise
        except Exception as exc:
            if not isinstance(exc, PostsealError):
                log.exception("%s: %s failed", self._client, command.verb)
            await self._fail(refusal(exc))

    # -- any state -------------------------------------------------------------------------

    async def _capa(self, _: Command) -> None:
        """RFC 2449 §5; USER and SASL only once a password may be sent."""
        lines = ["TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "EXPIRE NEVER"]
        if self._drop is None:
            if self._tls:
                lines += ["USER", "SASL PLAIN"]
            elif self._ctx.starttls is not None:
                lines.append("STLS")
        lines.append("IMPLEMENTATION postseal")
        await self._send(
            ok("capability list follows") + grammar.multiline("\r\n".join(lines).encode())
        )

    async def _quit(self, _: Command) -> None:
        if self._drop is not None and self._inbox is not None:
            await self._update(self._inbox, self._drop)
        await self._send(ok(f"{self._ctx.hostname} signing off"))
        raise _Closed

    async def _update(self, inbox: Mailbox, drop: Maildrop) -> None:
        """The UPDATE state (RFC 1939 §6): remove the marked, flag the retrieved."""
        service = self._ctx.service
        seen = [(u, u) for u in drop.uid_of(drop.retrieved - drop.deleted)]
        if seen:
            await service.set_flags(inbox, seen, add=["\\Seen"])
        doomed = [(u, u) for u in drop.uid_of(drop.deleted)]
        if doomed:
            await service.set_flags(inbox, doomed, add=["\\Deleted"])
            await service.expunge(inbox, doomed)

    # -- AUTHORIZATION (RFC 1939 §4, RFC 2595 §4, RFC 5034) ----------------------------------

    async def _stls(self, _: Command) -> None:
        if self._tls or self._ctx.starttls is None:
            await self._fail(err("TLS is already active"))
            return
        if self._reader.at_eof() or _buffered(self._reader):
            # RFC 2595 §4 / CVE-2011-0411: nothing sent before the handshake may count
            await self._send(err("data sent after STLS before the TLS handshake; closing"))
            raise _Closed
        await self._send(ok("begin TLS negotiation"))
        await self._writer.start_tls(
            self._ctx.starttls, ssl_handshake_timeout=self._ctx.limits.tls_handshake_timeout
        )
        self._tls = True
        self._pending_user = None

    async def _user_cmd(self, command: Command) -> None:
        if not self._tls:
            await self._fail(err(_TLS_FIRST, code="AUTH"))
            return
        self._pending_user = command.args[0]
        await self._send(ok("send your password"))

    async def _pass(self, command: Command) -> None:
        if not self._tls:
            await self._fail(err(_TLS_FIRST, code="AUTH"))
            return
        name, self._pending_user = self._pending_user, None
        if name is None:
            await self._fail(err("send USER first"))
            return
        await self._login(name, command.args[0])

    async def _auth(self, command: Command) -> None:
        if not command.args:  # the mechanism list some clients ask for (pre-RFC 5034)
            await self._send(ok("SASL mechanisms follow") + grammar.multiline(b"PLAIN"))
            return
        if not self._tls:
            await self._fail(err(_TLS_FIRST, code="AUTH"))
            return
        if command.args[0].upper() != "PLAIN":
            await self._fail(err(f"SASL mechanism {command.args[0]} is not supported; use PLAIN"))
            return
        response = command.args[1] if len(command.args) > 1 else None
        if response is None:
            await self._send(b"+ \r\n")
            line = await self._read_line()
            response = (line or b"").rstrip(b"\r\n").decode("ascii", "replace")
            if response == "*":
                await self._fail(err("authentication cancelled"))
                return
        name, password = grammar.decode_plain("" if response == "=" else response)
        await self._login(name, password)

    async def _apop(self, _: Command) -> None:
        await self._fail(err("APOP is not supported; use STLS and USER/PASS or AUTH PLAIN"))

    async def _login(self, name: str, password: str) -> None:
        ctx = self._ctx
        try:
            if ctx.throttle is not None:
                await ctx.throttle.check(address=self._client, account=name)
            user = await ctx.authenticate(name, password, self._client)
        except AuthenticationError as exc:
            if ctx.throttle is not None:
                await ctx.throttle.failed(address=self._client, account=name)
            log.info("%s: failed POP3 login for %r", self._client, name)
            await asyncio.sleep(ctx.limits.auth_failure_delay)
            await self._fail(refusal(exc))
            return
        if ctx.throttle is not None:
            await ctx.throttle.succeeded(account=name)
        await ctx.service.ensure_defaults(user)
        inbox = await ctx.service.find(user, INBOX)
        self._drop = Maildrop(inbox.uidvalidity, await ctx.service.messages(inbox))
        self._inbox = inbox
        count, size = self._drop.stat()
        log.info("%s: %s logged in over POP3 (%d messages)", self._client, user.address, count)
        await self._send(ok(f"{user.address} has {count} messages ({size} octets)"))

    # -- TRANSACTION (RFC 1939 §5, §7) -------------------------------------------------------

    def _maildrop(self) -> Maildrop:
        assert self._drop is not None
        return self._drop

    async def _stat(self, _: Command) -> None:
        count, size = self._maildrop().stat()
        await self._send(ok(f"{count} {size}"))

    async def _list(self, command: Command) -> None:
        await self._scan(command, lambda n, m: f"{n} {m.size}")

    async def _uidl(self, command: Command) -> None:
        drop = self._maildrop()
        await self._scan(command, lambda n, m: f"{n} {uidl(drop.uidvalidity, m.uid)}")

    async def _scan(self, command: Command, show: Callable[[int, StoredMessage], str]) -> None:
        drop = self._maildrop()
        if command.args:
            number = grammar.parse_number(command.args[0])
            await self._send(ok(show(number, drop.get(number))))
            return
        listing = "\r\n".join(show(n, m) for n, m in drop.live()).encode()
        await self._send(ok("listing follows") + grammar.multiline(listing))

    async def _retr(self, command: Command) -> None:
        number = grammar.parse_number(command.args[0])
        await self._send_message(number, None)

    async def _top(self, command: Command) -> None:
        number = grammar.parse_number(command.args[0])
        await self._send_message(number, grammar.parse_number(command.args[1], zero=True))

    async def _send_message(self, number: int, lines: int | None) -> None:
        drop = self._maildrop()
        message = drop.get(number)
        assert self._inbox is not None
        data = await self._ctx.service.body(self._inbox, message.uid, email_id=message.email_id)
        if lines is None:
            drop.retrieved.add(number)
        else:
            data = grammar.top(data, lines)
        await self._send(ok(f"{message.size} octets") + grammar.multiline(data))

    async def _dele(self, command: Command) -> None:
        drop = self._maildrop()
        number = grammar.parse_number(command.args[0])
        drop.get(number)
        drop.deleted.add(number)
        await self._send(ok(f"message {number} deleted"))

    async def _rset(self, _: Command) -> None:
        drop = self._maildrop()
        drop.deleted.clear()
        count, size = drop.stat()
        await self._send(ok(f"maildrop has {count} messages ({size} octets)"))

    async def _noop(self, _: Command) -> None:
        await self._send(ok())


def _buffered(reader: asyncio.StreamReader) -> bool:
    """Whether plaintext is waiting after STLS (asyncio keeps it in ``_buffer``)."""
    return bool(getattr(reader, "_buffer", b""))


_ANY: dict[str, _Handler] = {"CAPA": Pop3Session._capa, "QUIT": Pop3Session._quit}
_AUTHORIZATION: dict[str, _Handler] = {
    "STLS": Pop3Session._stls,
    "USER": Pop3Session._user_cmd,
    "PASS": Pop3Session._pass,
    "AUTH": Pop3Session._auth,
    "APOP": Pop3Session._apop,
}
_TRANSACTION: dict[str, _Handler] = {
    "STAT": Pop3Session._stat,
    "LIST": Pop3Session._list,
    "UIDL": Pop3Session._uidl,
    "RETR": Pop3Session._retr,
    "TOP": Pop3Session._top,
    "DELE": Pop3Session._dele,
    "RSET": Pop3Session._rset,
    "NOOP": Pop3Session._noop,
}
