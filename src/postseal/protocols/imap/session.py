"""One IMAP connection: framing, states, dispatch, limits, shutdown (RFC 3501 §2.2, §3, §5).

A session reads one command at a time — its line, then each literal it announces
(``+ Ready`` for a synchronizing one, RFC 3501 §7.5; none for LITERAL+, RFC 7888) — and
hands the bytes to the pure grammar (:func:`~postseal.protocols.imap.parse_command`).
The command's handler (``commands_*`` modules, one per family) sends untagged responses
and returns the tagged one; before that, the session tells the client what other
sessions changed in the selected mailbox (:mod:`.selected`). Commands are answered in
order, one at a time, which RFC 3501 §5.5 permits.

Nothing the client sends raises out of here: malformed input gets ``BAD``, a failing
service call ``NO`` with a response code (:mod:`.replies`), an unexpected exception
``NO [SERVERBUG]`` and a log entry; the session ends with ``* BYE`` when a limit is hit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from typing import Protocol

from postseal.errors import NotFoundError, PostsealError
from postseal.protocols.imap import BadCommand, Code, Continuation, Tagged, Untagged
from postseal.protocols.imap.commands import (
    Check,
    Command,
    Expunge,
    Fetch,
    Idle,
    Noop,
    Search,
    Store,
)
from postseal.protocols.imap.grammar import Incomplete, NeedLiteral, parse_command
from postseal.services.mailbox_changes import RECHECK_SECONDS
from postseal.store.ports import UserRecord

from . import (
    commands_any,
    commands_auth,
    commands_fetch,
    commands_list,
    commands_mailbox,
    commands_message,
    commands_search,
)
from .replies import reply_for_error
from .selected import SelectedMailbox
from .session_context import ListenerContext
from .session_handlers import Handler, Need

__all__ = ["ImapSession"]

log = logging.getLogger("postseal.imap")

_HANDLERS: dict[type[Command], Handler] = {
    **commands_any.HANDLERS,
    **commands_auth.HANDLERS,
    **commands_mailbox.HANDLERS,
    **commands_list.HANDLERS,
    **commands_message.HANDLERS,
    **commands_fetch.HANDLERS,
    **commands_search.HANDLERS,
}
_BASE_CAPABILITIES = ("IMAP4rev1", "SASL-IR", "LITERAL+", "ID", "ENABLE", "IDLE")
_AUTHENTICATED_CAPABILITIES = (
    "NAMESPACE",
    "UNSELECT",
    "UIDPLUS",
    "MOVE",
    "CHILDREN",
    "LIST-EXTENDED",
    "LIST-STATUS",
    "SPECIAL-USE",
    "CREATE-SPECIAL-USE",
    "CONDSTORE",
    "ESEARCH",
    "UTF8=ACCEPT",
)
_FLUSH_AT = 256 * 1024
_ALWAYS_CHECK = (Noop, Check, Idle, Expunge)
"""Commands after which the store is always asked for others' changes (NOOP and CHECK
are how clients poll, RFC 3501 §6.1.2, §6.4.1)."""


class Response(Protocol):
    def to_bytes(self, *, utf8: bool = False) -> bytes: ...


class LineTooLong(Exception):
    pass


class ImapSession:
    """Serves one connection; :meth:`run` returns when it is closed."""

    def __init__(
        self,
        context: ListenerContext,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.ctx = context
        self.reader = reader
        self.writer = writer
        peer = writer.get_extra_info("peername")
        self.client = str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"
        self.tls_active = writer.get_extra_info("sslcontext") is not None
        self.user: UserRecord | None = None
        self.selected: SelectedMailbox | None = None
        self.utf8 = False
        self.condstore = False
        self.auth_failures = 0
        self.closing = False
        self.pending_tls: ssl.SSLContext | None = None
        self._out: list[bytes] = []
        self._buffered = 0
        self._waiting = False
        self._commands = 0
        self._bad = 0
        self._closed = asyncio.get_running_loop().create_future()

    # -- output ----------------------------------------------------------------------

    def send(self, response: Response) -> None:
        """Queue a response (anything with ``to_bytes(utf8=…)``)."""
        chunk = response.to_bytes(utf8=self.utf8)
        self._out.append(chunk)
        self._buffered += len(chunk)
        if self._buffered >= _FLUSH_AT:
            self._write_buffered()

    def _write_buffered(self) -> None:
        if self._out and not self.writer.is_closing():
            self.writer.write(b"".join(self._out))
        self._out.clear()
        self._buffered = 0

    async def flush(self) -> None:
        self._write_buffered()
        if not self.writer.is_closing():
            with contextlib.suppress(ConnectionError):
                await self.writer.drain()

    # -- capabilities and states -----------------------------------------------------

    def capabilities(self) -> tuple[str, ...]:
        if self.user is not None:
            limit = f"APPENDLIMIT={self.ctx.limits.max_literal}"
            return (*_BASE_CAPABILITIES, *_AUTHENTICATED_CAPABILITIES, limit)
        if self.tls_active:
            return (*_BASE_CAPABILITIES, "AUTH=PLAIN")
        return (*_BASE_CAPABILITIES, "STARTTLS", "LOGINDISABLED")

    def login(self, user: UserRecord) -> bool:
        """Enter the authenticated state; False when the user has too many sessions."""
        if not self.ctx.gate.login(user.id):
            return False
        self.user = user
        return True

    async def start_tls(self, context: ssl.SSLContext) -> bool:
        """Upgrade to TLS (RFC 3501 §6.2.1). Octets the client pipelined after STARTTLS
        arrived in plaintext and are refused (RFC 2595 §3.1): the session ends."""
        if self.reader._buffer:  # type: ignore[attr-defined]
            self.send(Untagged("BYE", "Commands after STARTTLS must wait for TLS"))
            return False
        try:
            await self.writer.start_tls(
                context, ssl_handshake_timeout=self.ctx.limits.tls_handshake_timeout
            )
        except (ssl.SSLError, ConnectionError, TimeoutError, OSError) as exc:
            log.info("%s: TLS handshake failed: %s", self.client, exc)
            return False
        self.tls_active = True
        return True

    async def sync(self, *, expunge: bool = True, force: bool = True) -> None:
        """Queue untagged responses for what changed in the selected mailbox since the
        session last looked (EXISTS, EXPUNGE, FETCH FLAGS; RFC 3501 §5.2).

        Without ``force`` the store is not asked when the service's in-process change
        counter has not moved and the last store check is under ``RECHECK_SECONDS`` old
        (ADR 0014, "Change notifications"): no write of this process can have changed
        the mailbox, and other processes' writes are seen at the next check."""
        view = self.selected
        if view is None:
            return
        service = self.ctx.mailboxes
        now = time.monotonic()
        version = service.change_version(view.mailbox.id)
        if not force and version == view.version and now - view.checked_at < RECHECK_SECONDS:
            if expunge and view.gone:
                for response in view.flush_expunges():
                    self.send(response)
            return
        try:
            highest = await service.highest_modseq(view.mailbox.id)
            view.version, view.checked_at = version, now
            if highest > view.modseq:
                changes = await service.changes_since(view.mailbox, view.modseq)
            elif expunge and view.gone:
                for response in view.flush_expunges():
                    self.send(response)
                return
            else:
                return
        except NotFoundError:
            self.send(Untagged("BYE", "The selected mailbox was deleted, reconnect"))
            self.closing = True
            return
        for response in view.apply(changes, expunge=expunge, condstore=self.condstore):
            self.send(response)

    # -- input -----------------------------------------------------------------------

    async def read_line(self, wait: float) -> bytes | None:
        """One line (up to LF), None at end of stream; LineTooLong when over the limit
        (the rest of the line is discarded)."""
        self._waiting = True
        try:
            # asyncio.timeout rather than wait_for: no task per line (one per command)
            async with asyncio.timeout(wait):
                return await self._line()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            return None
        finally:
            self._waiting = False

    async def _line(self) -> bytes:
        try:
            return await self.reader.readuntil(b"\n")
        except asyncio.LimitOverrunError as exc:
            await self.reader.readexactly(exc.consumed)
            while True:
                try:
                    await self.reader.readuntil(b"\n")
                    break
                except asyncio.LimitOverrunError as more:
                    await self.reader.readexactly(more.consumed)
            raise LineTooLong from None

    async def _read_command(self) -> Command | BadCommand | None:
        limits = self.ctx.limits
        timeout = limits.idle_timeout if self.user else limits.login_timeout
        buffer = b""
        while True:
            line = await self.read_line(timeout)
            if line is None:
                return None
            buffer += line
            result = parse_command(buffer, utf8=self.utf8, max_literal=limits.max_literal)
            if isinstance(result, Incomplete):
                continue
            if not isinstance(result, NeedLiteral):
                return result
            if len(buffer) + result.size > limits.max_command:
                return BadCommand("*", "command too large", close=result.non_synchronizing)
            if not result.non_synchronizing:
                self.send(Continuation("Ready"))
                await self.flush()
            try:
                buffer += await asyncio.wait_for(self.reader.readexactly(result.size), timeout)
            except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
                return None

    # -- the loop --------------------------------------------------------------------

    async def run(self) -> None:
        refusal = self.ctx.gate.admit(self.client)
        try:
            if refusal is not None:
                self.send(Untagged("BYE", refusal, Code("UNAVAILABLE")))
                return
            self.ctx.sessions.add(self)
            try:
                await self._serve()
            finally:
                self.ctx.sessions.discard(self)
                self.ctx.gate.release(self.client)
                if self.user is not None:
                    self.ctx.gate.logout(self.user.id)
        except Exception:
            log.exception("%s: IMAP session failed", self.client)
        finally:
            await self._close()

    async def _serve(self) -> None:
        greeting = f"{self.ctx.hostname} postseal IMAP4rev1 ready"
        self.send(Untagged("OK", greeting, Code.capability(self.capabilities())))
        await self.flush()
        while not self.closing:
            try:
                command = await self._read_command()
            except LineTooLong:
                self._bad_command(BadCommand("*", "command line too long"))
                await self.flush()
                continue
            except TimeoutError:
                self.send(Untagged("BYE", "Autologout, idle for too long"))
                return
            if command is None:
                return
            if isinstance(command, BadCommand):
                self._bad_command(command)
            else:
                await self._execute(command)
            if self.ctx.stopping and not self.closing:
                self.send(Untagged("BYE", "Server shutting down, reconnect later"))
                self.closing = True
            await self.flush()
            if self.pending_tls is not None and not self.closing:
                context, self.pending_tls = self.pending_tls, None
                if not await self.start_tls(context):
                    return

    def _bad_command(self, bad: BadCommand) -> None:
        self._bad += 1
        if bad.tag == "*":
            self.send(Untagged("BAD", bad.message))
        else:
            code = Code("TOOBIG") if bad.message.startswith("literal too large") else None
            self.send(Tagged(bad.tag, "BAD", bad.message, code))
        if bad.close or self._bad > self.ctx.limits.max_bad_commands:
            self.send(Untagged("BYE", "Too many errors, closing the connection"))
            self.closing = True

    async def _execute(self, command: Command) -> None:
        self._commands += 1
        if self._commands > self.ctx.limits.max_commands:
            self.send(Untagged("BYE", "Too many commands on one connection, reconnect"))
            self.closing = True
            return
        handler = _HANDLERS.get(type(command))
        if handler is None:
            self._bad_command(BadCommand(command.tag, "command not supported"))
            return
        refusal = self._state_refusal(handler.need)
        if refusal is not None:
            self._bad_command(BadCommand(command.tag, refusal))
            return
        by_number = isinstance(command, Fetch | Store | Search) and not command.uid
        force = isinstance(command, _ALWAYS_CHECK)
        try:
            tagged = await handler.run(self, command)
        except PostsealError as exc:
            tagged = reply_for_error(command.tag, exc, handler.stage)
        except Exception as exc:
            log.exception("%s: %s failed", self.client, type(command).__name__.upper())
            tagged = reply_for_error(command.tag, exc, handler.stage)
        if tagged.status == "BAD":
            self._bad += 1
        if not self.closing:
            try:
                await self.sync(expunge=not by_number, force=force)
            except Exception:
                log.exception("%s: mailbox update failed", self.client)
        self.send(tagged)

    def _state_refusal(self, need: Need) -> str | None:
        if need is Need.NOT_AUTHENTICATED and self.user is not None:
            return "already authenticated"
        if need in (Need.AUTHENTICATED, Need.SELECTED) and self.user is None:
            return "log in first"
        if need is Need.SELECTED and self.selected is None:
            return "select a mailbox first"
        return None

    # -- shutdown --------------------------------------------------------------------

    def shutdown(self) -> None:
        """Say BYE and close if the session waits for the client; otherwise it closes
        after the command it is running (the listener is stopping)."""
        if self._waiting and not self.writer.is_closing():
            self._out.clear()
            self.writer.write(Untagged("BYE", "Server shutting down, reconnect later").to_bytes())
            self.writer.close()

    async def wait_closed(self) -> None:
        await asyncio.shield(self._closed)

    def abort(self) -> None:
        self.writer.transport.abort()

    async def _close(self) -> None:
        with contextlib.suppress(Exception):
            await self.flush()
        self.writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.writer.wait_closed(), 5.0)
        if not self._closed.done():
            self._closed.set_result(None)

    @property
    def idle_deadline(self) -> float:
        return time.monotonic() + self.ctx.limits.idle_timeout
