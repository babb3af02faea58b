"""The smart-host relay: :class:`~postseal.services.ports.Relay` over SMTP with aiosmtplib.

One mail transaction (RFC 5321 §3.3) per :meth:`SmtpRelay.send`: EHLO, STARTTLS
(RFC 3207), EHLO again, MAIL FROM, one RCPT TO per recipient, DATA. With ``reuse`` a
connection whose transaction ended cleanly is kept (up to ``reuse`` of them) and the next
send starts with RSET on it (RFC 5321 §4.1.1.5) instead of a new connection, TLS
handshake and two EHLOs: when the RSET fails (the server timed it out, closed it), the
send opens a fresh connection, having sent nothing. :meth:`SmtpRelay.close_idle` ends the
kept connections with QUIT (the queue runner calls it after each pass, so none outlives
the burst it served); a connection serves at most ``max_transactions`` messages.
Replies map to outcomes per recipient (RFC 5321 §4.2.1): 2yz delivered, 4yz deferred,
5yz failed. A RCPT reply concerns its recipient only; a MAIL or DATA reply concerns every
recipient still open. A connection that fails or times out at any point defers every
recipient without a final answer — if DATA was sent but its reply lost, the message may
arrive twice, the at-least-once nature of SMTP (RFC 5321 §6.1).

With ``require_tls`` (the default) the relay never sends in clear: a server that does not
offer STARTTLS, or whose certificate does not verify against ``ca_file`` (or the system
store) for ``host``, defers every recipient with the reason. Without it, STARTTLS is
still used when offered, unauthenticated (opportunistic, RFC 7435). Non-ASCII addresses
need the server's SMTPUTF8 (RFC 6531 §3.4); without it they fail with 5.6.7. Dot-stuffing (RFC 5321
§4.5.2) and CRLF line ends are aiosmtplib's. Logs name hosts and replies, never content.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Mapping, Sequence

import aiosmtplib

from postseal.services.ports import Relay, RelayOutcome

__all__ = ["SmtpRelay"]

log = logging.getLogger(__name__)
_Outcomes = dict[str, tuple[RelayOutcome, str]]


class SmtpRelay(Relay):
    """Sends through one smart host. ``ca_file`` is a PEM bundle path or a ready client
    :class:`ssl.SSLContext`; ``None`` uses the system trust store."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        require_tls: bool = True,
        ca_file: str | ssl.SSLContext | None = None,
        helo_name: str,
        timeout: float = 60.0,
        reuse: int = 0,
        max_transactions: int = 100,
    ) -> None:
        if reuse < 0 or max_transactions < 1:
            raise ValueError("reuse must be >= 0 and max_transactions >= 1")
        self._reuse = reuse
        self._max_transactions = max_transactions
        self._idle: list[tuple[aiosmtplib.SMTP, int]] = []  # connection, transactions done
        self._host = host
        self._port = port
        self._require_tls = require_tls
        self._helo = helo_name
        self._timeout = timeout
        if isinstance(ca_file, ssl.SSLContext):
            self._tls = ca_file
        else:
            self._tls = ssl.create_default_context(cafile=ca_file or None)
            self._tls.minimum_version = ssl.TLSVersion.TLSv1_2
        if not require_tls:
            # opportunistic (RFC 7435 §1.3): encrypt when offered, without authenticating
            self._tls = ssl.create_default_context()
            self._tls.check_hostname = False
            self._tls.verify_mode = ssl.CERT_NONE

    @property
    def name(self) -> str:
        return f"{self._host}:{self._port}"

    async def send(
        self, *, mail_from: str, rcpt_tos: Sequence[str], data: bytes
    ) -> Mapping[str, tuple[RelayOutcome, str]]:
        """Per recipient, the outcome and the reply (``"550 5.1.1 …"``) or the reason."""
        outcomes: _Outcomes = {}
        client, done = await self._kept()
        clean = False
        try:
            if client is None:
                client, done = self._client(), 0
                await self._open(client)
            await self._transaction(client, mail_from, rcpt_tos, data, outcomes)
            clean = True
        except (aiosmtplib.SMTPSenderRefused, aiosmtplib.SMTPDataError) as exc:
            # a reply to MAIL or DATA concerns every recipient still open
            self._settle(outcomes, rcpt_tos, exc.code, exc.message)
        except (_NotSecure, aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            # greeting, EHLO, STARTTLS or the connection: the smart host's problem, not
            # the recipients' — retry later whatever the reply code
            reason = str(exc) if isinstance(exc, _NotSecure) else _describe(self.name, exc)
            log.warning("relay through %s deferred: %s", self.name, reason)
            self._settle(outcomes, rcpt_tos, 0, reason)
        finally:
            if client is not None:
                await self._release(client, done + 1, clean=clean)
        return outcomes

    async def close_idle(self) -> None:
        """End every kept connection (QUIT, then close)."""
        idle, self._idle = self._idle, []
        for client, _ in idle:
            await _quit(client)

    def _client(self) -> aiosmtplib.SMTP:
        return aiosmtplib.SMTP(
            hostname=self._host,
            port=self._port,
            local_hostname=self._helo,
            timeout=self._timeout,
            start_tls=False,
            tls_context=self._tls,
        )

    async def _kept(self) -> tuple[aiosmtplib.SMTP | None, int]:
        """A kept connection that answered RSET, with its count of transactions; or
        (None, 0). One that does not answer is closed: nothing was sent on it."""
        while self._idle:
            client, done = self._idle.pop()
            try:
                await client.rset()
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                _close(client)
                continue
            return client, done
        return None, 0

    async def _release(self, client: aiosmtplib.SMTP, done: int, *, clean: bool) -> None:
        if (
            clean
            and client.is_connected
            and len(self._idle) < self._reuse
            and done < self._max_transactions
        ):
            self._idle.append((client, done))
        elif clean:
            await _quit(client)
        else:
            _close(client)

    async def _open(self, client: aiosmtplib.SMTP) -> None:
        """Connect, EHLO, STARTTLS (verified when required) and EHLO again."""
        await client.connect()
        await client.ehlo()
        if client.supports_extension("starttls"):
            try:
                await client.starttls(server_hostname=self._host, tls_context=self._tls)
            except ssl.SSLCertVerificationError as exc:
                raise _NotSecure(
                    f"the TLS certificate of smart host {self.name} does not verify: "
                    f"{exc.verify_message}; nothing was sent (give relay.ca_file the CA "
                    "that issued it)"
                ) from None
            await client.ehlo()
        elif self._require_tls:
            raise _NotSecure(
                f"smart host {self.name} does not offer STARTTLS and relay.require_tls is on; "
                "nothing was sent in clear (fix the smart host, or set relay.require_tls = false)"
            )

    async def _transaction(
        self,
        client: aiosmtplib.SMTP,
        mail_from: str,
        rcpt_tos: Sequence[str],
        data: bytes,
        outcomes: _Outcomes,
    ) -> None:
        options = []
        if client.supports_extension("size"):
            options.append(f"SIZE={len(data)}")
        if client.supports_extension("8bitmime") and not data.isascii():
            options.append("BODY=8BITMIME")  # RFC 6152 §2
        encoding = "ascii"
        if not all(address.isascii() for address in (mail_from, *rcpt_tos)):
            if not client.supports_extension("smtputf8"):
                message = "5.6.7 the smart host does not support SMTPUTF8 (RFC 6531 §3.2)"
                self._settle(outcomes, rcpt_tos, 553, message)
                return
            options.append("SMTPUTF8")
            encoding = "utf-8"
        await client.mail(mail_from, options=options, encoding=encoding)
        accepted = []
        for rcpt in rcpt_tos:
            try:
                await client.rcpt(rcpt, encoding=encoding)
            except aiosmtplib.SMTPRecipientRefused as exc:
                self._settle(outcomes, [rcpt], exc.code, exc.message)
            else:
                accepted.append(rcpt)
        if not accepted:
            await client.rset()
            return
        reply = await client.data(data)
        self._settle(outcomes, accepted, reply.code, reply.message)
        log.info("relayed to %s for %d recipient(s): %s", self.name, len(accepted), reply.code)

    @staticmethod
    def _settle(outcomes: _Outcomes, rcpts: Sequence[str], code: int, message: str) -> None:
        """Record ``code`` (0: no reply) for each recipient in ``rcpts`` that has no
        outcome yet."""
        text = " ".join(message.split())
        if code:
            text = f"{code} {text}"
        if 200 <= code < 300:
            outcome = RelayOutcome.DELIVERED
        elif 500 <= code < 600:
            outcome = RelayOutcome.FAILED
        else:
            outcome = RelayOutcome.DEFERRED
        for rcpt in rcpts:
            outcomes.setdefault(rcpt, (outcome, text))


class _NotSecure(Exception):
    """The smart host cannot be reached over verified TLS although it is required."""


def _describe(name: str, exc: BaseException) -> str:
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        return f"smart host {name} answered {exc.code} {' '.join(exc.message.split())}"
    if isinstance(exc, TimeoutError):
        return f"smart host {name} timed out" + (f" ({exc})" if str(exc) else "")
    if isinstance(exc, ssl.SSLError):
        return f"TLS with smart host {name} failed: {exc.reason or exc}"
    return f"cannot talk to smart host {name}: {exc or type(exc).__name__}"


def _close(client: aiosmtplib.SMTP) -> None:
    if client.is_connected:
        client.close()


async def _quit(client: aiosmtplib.SMTP) -> None:
    """QUIT (RFC 5321 §4.1.1.10) and close; a server that does not answer is closed."""
    try:
        await client.quit()
    except (aiosmtplib.SMTPException, OSError, TimeoutError):
        pass
    finally:
        _close(client)
