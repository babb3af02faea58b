"""The SMTP commands postseal answers itself, on top of :class:`.connection.SmtpConnection`.

EHLO advertises PIPELINING (RFC 2920), SIZE (RFC 1870), 8BITMIME (RFC 6152), SMTPUTF8
(RFC 6531), ENHANCEDSTATUSCODES (RFC 2034), DSN (RFC 3461), STARTTLS (RFC 3207) and, on
the submission listeners once TLS is up, AUTH PLAIN LOGIN (RFC 4954). MAIL, RCPT and DATA
ask the :class:`~postseal.services.ports.MailIntake`; 250 after DATA is sent only once
``accept`` has returned, i.e. once the message is committed.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiosmtpd.smtp import SMTP, syntax

from postseal.errors import InputError
from postseal.services.ports import Envelope, Listener

from . import auth, grammar, replies
from .connection import SHUTDOWN_REPLY, SmtpConnection, Transaction
from .data import DataReader
from .replies import Stage

__all__ = ["SmtpSession"]

log = logging.getLogger("postseal.smtp")
_DOT_LINE = b".\r\n"


class SmtpSession(SmtpConnection):
    # -- greeting, TLS, AUTH -------------------------------------------------------------

    @syntax("EHLO hostname")
    async def smtp_EHLO(self, hostname: str | None) -> None:
        if not await self._helo(hostname, extended=True):
            return
        limits = self._ctx.limits
        lines = [self.hostname, "PIPELINING", f"SIZE {limits.max_message_size}", "8BITMIME"]
        lines += ["SMTPUTF8", "ENHANCEDSTATUSCODES", "DSN"]
        if self.tls_context is not None and not self._tls_active():
            lines.append("STARTTLS")
        if self._ctx.kind is not Listener.SMTP and self._tls_active():
            lines.append("AUTH " + " ".join(auth.MECHANISMS))
        # SMTP.push: the EHLO/HELO reply carries no enhanced codes (RFC 2034 §3).
        for line in lines[:-1]:
            await SMTP.push(self, f"250-{line}")
        await SMTP.push(self, f"250 {lines[-1]}")

    @syntax("HELO hostname")
    async def smtp_HELO(self, hostname: str | None) -> None:
        if await self._helo(hostname, extended=False):
            await SMTP.push(self, f"250 {self.hostname}")

    async def _helo(self, arg: str | None, *, extended: bool) -> bool:
        try:
            name = grammar.parse_helo(arg)
        except InputError as exc:
            await self.push(f"501 5.5.4 {exc.message}")
            return False
        self._set_rset_state()
        assert self.session is not None
        self.session.extended_smtp = extended
        self.session.host_name = name
        return True

    @syntax("STARTTLS", when="tls_context")
    async def smtp_STARTTLS(self, arg: str | None) -> None:
        if self._tls_active():  # RFC 3207 §4.2: never a second TLS layer
            await self.push("503 5.5.1 TLS is already active")
            return
        await super().smtp_STARTTLS(arg or "")

    @syntax("AUTH <mechanism>")
    async def smtp_AUTH(self, arg: str | None) -> None:
        """RFC 4954 §4. Not offered on the MX listener: servers relaying to us do not log
        in, and a password prompt on port 25 only invites guessing (ADR 0007)."""
        assert self.session is not None
        if self._ctx.kind is Listener.SMTP:
            await self.push("502 5.5.1 AUTH is not available here; submit on port 587 or 465")
            return
        if not self._tls_active():
            await self.push("538 5.7.11 Encryption required for requested authentication mechanism")
            return
        if self.session.authenticated:
            await self.push("503 5.5.1 Already authenticated")
            return
        if self._txn is not None:  # RFC 4954 §4: not during a mail transaction
            await self.push("503 5.5.1 AUTH is not permitted during a mail transaction")
            return
        mechanism, _, initial = (arg or "").strip().partition(" ")
        if mechanism.upper() not in auth.MECHANISMS:
            await self.push("504 5.5.4 Unrecognized authentication type")
            return
        try:
            credentials = await auth.read_credentials(
                mechanism.upper(), initial.strip() or None, self._challenge
            )
        except InputError as exc:
            await self.push(f"501 5.5.2 {exc.message}")
            return
        if credentials is None:
            return
        user, password = credentials
        try:
            canonical = await self._ctx.intake.authenticate(
                user, password, client_address=self._client
            )
        except Exception as exc:
            await self._refuse(exc, Stage.AUTH)
            return
        self.session.authenticated = True
        self._authenticated_as = canonical
        log.info("%s authenticated as %s", self._client, canonical)
        await self.push("235 2.7.0 Authentication successful")

    async def _challenge(self, prompt: bytes) -> bytes | None:
        answer = await self.challenge_auth(prompt)
        return answer if isinstance(answer, bytes) else None  # MISSING: it has replied

    # -- the mail transaction (RFC 5321 §3.3) ------------------------------------------

    @syntax("MAIL FROM: <address>", extended=" [SP <mail-parameters>]")
    async def smtp_MAIL(self, arg: str | None) -> None:
        if await self.check_helo_needed() or await self.check_auth_needed("MAIL"):
            return
        assert self.session is not None
        if self._txn is not None:
            await self.push("503 5.5.1 Nested MAIL command")
            return
        try:
            command = grammar.parse_mail(arg, extended=self.session.extended_smtp)
        except InputError as exc:
            await self._refuse(exc, Stage.MAIL)
            return
        maximum = self._ctx.limits.max_message_size
        if command.size is not None and command.size > maximum:  # RFC 1870 §6.2
            await self.push(f"552 5.3.4 Message size exceeds the maximum of {maximum} octets")
            return
        try:
            await self._ctx.intake.check_sender(
                listener=self._ctx.kind, auth_user=self._auth_user(), mail_from=command.address
            )
        except Exception as exc:
            await self._refuse(exc, Stage.MAIL)
            return
        self._txn = Transaction(command)
        await self.push("250 2.1.0 Sender OK")

    @syntax("RCPT TO: <address>", extended=" [SP <mail-parameters>]")
    async def smtp_RCPT(self, arg: str | None) -> None:
        if await self.check_helo_needed() or await self.check_auth_needed("RCPT"):
            return
        assert self.session is not None
        txn = self._txn
        if txn is None:
            await self.push("503 5.5.1 Need MAIL command first")
            return
        try:
            command = grammar.parse_rcpt(
                arg, extended=self.session.extended_smtp, smtputf8=txn.mail.smtputf8
            )
        except InputError as exc:
            await self._refuse(exc, Stage.RCPT)
            return
        if len(txn.recipients) >= self._ctx.limits.max_recipients:  # RFC 5321 §4.5.3.1.10
            await self.push("452 4.5.3 Too many recipients")
            return
        try:
            await self._ctx.intake.check_recipient(
                listener=self._ctx.kind, auth_user=self._auth_user(), rcpt_to=command.address
            )
        except Exception as exc:
            await self._refuse(exc, Stage.RCPT)
            return
        if all(known.address != command.address for known in txn.recipients):
            txn.recipients.append(command)
        await self.push("250 2.1.5 Recipient OK")

    @syntax("DATA")
    async def smtp_DATA(self, arg: str | None) -> None:
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        txn = self._txn
        if arg:
            await self.push("501 5.5.4 Syntax: DATA")
            return
        if txn is None:
            await self.push("503 5.5.1 Need MAIL command first")
            return
        if not txn.recipients:  # RFC 2920 §3.1: pipelined DATA after refused RCPTs
            await self.push("554 5.5.1 No valid recipients")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        limits = self._ctx.limits
        reader = DataReader(
            max_size=limits.max_message_size, max_line_length=limits.max_line_length
        )
        if not await self._receive(reader):
            return  # the client went away: nothing is accepted
        self._txn = None
        try:
            envelope = self._envelope(txn, reader.finish())
            queue_id = await self._accept(envelope)
        except Exception as exc:
            await self._refuse(exc, Stage.DATA)
            return
        log.info(
            "%s accepted %s: %d octets for %d recipients",
            self._client,
            queue_id,
            len(envelope.data),
            len(envelope.rcpt_tos),
        )
        await self.push(f"250 2.0.0 OK queued as {replies.one_line(queue_id)}")
        if self._ctx.stopping:
            await self._close_with(SHUTDOWN_REPLY)

    async def _receive(self, reader: DataReader) -> bool:
        """Read DATA until the terminator; ``False`` if the connection ended first.
        A dropped connection cancels this coroutine (aiosmtpd), which also ends it.

        The stream is searched for ``.<CRLF>`` and everything before it goes to the
        reader in as few chunks as the buffer allows (not line by line); the dot line
        ends the message when a CRLF precedes it, the DATA command's own included (RFC
        5321 §4.1.1.4). The stream reader's limit bounds each chunk, so a long message
        is taken in pieces and never buffered beyond it."""
        stream = self._reader
        while self.transport is not None and not self._closing:
            try:
                chunk = await stream.readuntil(_DOT_LINE)
            except asyncio.LimitOverrunError as exc:
                # No dot line within the limit, or only beyond it: take what precedes.
                reader.feed_chunk(await stream.read(exc.consumed))
                self._reset_timeout()
                continue
            except asyncio.IncompleteReadError:
                return False
            self._reset_timeout()
            head = chunk[: -len(_DOT_LINE)]
            if head.endswith(b"\r\n") or (not head and reader.at_line_start):
                reader.feed_chunk(head)
                return True
            reader.feed_chunk(chunk)  # "x.<CRLF>": a line that ends with a dot
        return False

    def _envelope(self, txn: Transaction, data: bytes) -> Envelope:
        assert self.session is not None
        return Envelope(
            listener=self._ctx.kind,
            client_address=self._client,
            helo=self.session.host_name or "",
            auth_user=self._auth_user(),
            mail_from=txn.mail.address,
            rcpt_tos=tuple(rcpt.address for rcpt in txn.recipients),
            data=data,
            smtputf8=txn.mail.smtputf8,
            body_8bit=txn.mail.body_8bit,
            tls=self._tls_active(),
        )

    async def _accept(self, envelope: Envelope) -> str:
        """``intake.accept`` shielded from the session: a client that disconnects while the
        message is being committed must not cancel the commit half-way. Whatever it
        raises after the session is gone is logged, not lost."""
        task = asyncio.ensure_future(self._ctx.intake.accept(envelope))
        self._ctx.accepts.add(task)
        task.add_done_callback(self._ctx.accepts.discard)
        self._accepting = True
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            task.add_done_callback(_log_orphan)
            raise
        finally:
            self._accepting = False


def _log_orphan(task: asyncio.Future[str]) -> None:
    if task.cancelled():
        return
    error = task.exception()
    if error is None:
        log.info("accepted %s after the client disconnected", task.result())
    else:
        log.warning("accept failed after the client disconnected: %s", error)


def _guarded(
    method: Callable[[SmtpSession, Any], Awaitable[None]],
) -> Callable[[SmtpSession, Any], Awaitable[None]]:
    """Count the command against ``max_commands``; a closing session runs nothing more
    (pipelined commands after a 421 must not reach the intake)."""

    @functools.wraps(method)
    async def run(self: SmtpSession, arg: Any) -> None:
        if self._closing:
            return
        self._commands += 1
        if self._commands > self._ctx.limits.max_commands:
            await self._close_with("421 4.7.0 Too many commands, closing connection")
            return
        await method(self, arg)

    return run


# aiosmtpd dispatches every command to an ``smtp_<VERB>`` method: guard them all, the
# ones inherited (NOOP, RSET, VRFY, HELP, QUIT, EXPN) as much as the ones above.
for _name in [name for name in dir(SmtpSession) if name.startswith("smtp_")]:
    setattr(SmtpSession, _name, _guarded(getattr(SmtpSession, _name)))
