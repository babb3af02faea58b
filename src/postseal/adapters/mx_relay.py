"""Direct delivery: :class:`~postseal.services.ports.Relay` to each recipient domain's MX.

For ``relay.direct = true`` (and no smart host). The recipients of a message are grouped
by domain; for each domain the MX hosts are tried in order (:mod:`postseal.adapters.mx_lookup`:
preference, shuffled ties, implicit MX, null MX) and, for each host, its addresses, until
one answers — one SMTP transaction there (:class:`~postseal.adapters.smtp_relay.SmtpRelay`,
STARTTLS when offered, RFC 7435 opportunistic: MX hosts are not authenticated without
DANE or MTA-STS, which postseal does not implement yet; a deployment that must never send
in clear uses a smart host with ``relay.require_tls``).

Outcomes per recipient (RFC 5321 §4.2.1 and §5.1):

- a host answered: its reply decides (2yz delivered, 4yz deferred, 5yz failed); the next
  MX is tried only when a host could not be reached or spoke no SMTP;
- the domain accepts no mail: failed at once with ``556 5.1.10`` (null MX, RFC 7505 §4.2)
  or ``550 5.1.2`` (no such domain), so the sender's DSN says why;
- DNS failed, or no host could be reached: deferred, with the last reason; the queue
  retries with backoff and bounces at expiry.

At most :data:`MAX_ATTEMPTS` connections per domain and delivery, and
:data:`MAX_DOMAINS_AT_ONCE` domains in parallel, so a message to many dead domains
cannot hold a queue runner for long.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence

from postseal.adapters.mx_lookup import LookupFailed, MxLookup, NoMailDomain
from postseal.adapters.smtp_relay import SmtpRelay
from postseal.services.ports import Relay, RelayOutcome

__all__ = ["MAX_ATTEMPTS", "MAX_DOMAINS_AT_ONCE", "MxRelay"]

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 5
MAX_DOMAINS_AT_ONCE = 8
_Outcomes = dict[str, tuple[RelayOutcome, str]]


class MxRelay(Relay):
    """Sends each domain's share of a message to that domain's MX."""

    def __init__(
        self,
        lookup: MxLookup,
        *,
        helo_name: str,
        port: int = 25,
        timeout: float = 60.0,
    ) -> None:
        self._lookup = lookup
        self._helo = helo_name
        self._port = port
        self._timeout = timeout

    @property
    def name(self) -> str:
        return "direct (MX)"

    async def send(
        self, *, mail_from: str, rcpt_tos: Sequence[str], data: bytes
    ) -> Mapping[str, tuple[RelayOutcome, str]]:
        """Per recipient, the outcome and the reply or the reason."""
        by_domain: dict[str, list[str]] = {}
        for rcpt in rcpt_tos:
            by_domain.setdefault(rcpt.rpartition("@")[2].lower(), []).append(rcpt)
        outcomes: _Outcomes = {}
        slots = asyncio.Semaphore(MAX_DOMAINS_AT_ONCE)

        async def one(domain: str, rcpts: list[str]) -> None:
            async with slots:
                outcomes.update(await self._domain(domain, rcpts, mail_from, data))

        await asyncio.gather(*(one(d, r) for d, r in by_domain.items()))
        return outcomes

    async def _domain(
        self, domain: str, rcpts: list[str], mail_from: str, data: bytes
    ) -> _Outcomes:
        try:
            hosts = await self._lookup.hosts(domain)
        except NoMailDomain as exc:
            code = 556 if exc.status == "5.1.10" else 550
            reply = f"{code} {exc.status} {exc}"
            log.info("no delivery to %s: %s", domain, exc.reason)
            return dict.fromkeys(rcpts, (RelayOutcome.FAILED, reply))
        except LookupFailed as exc:
            return dict.fromkeys(rcpts, (RelayOutcome.DEFERRED, f"4.4.3 {exc}"))
        attempts = 0
        last = "no MX host to try"
        for mx in hosts:
            try:
                addresses = await self._lookup.addresses(mx.host)
            except LookupFailed as exc:
                last = str(exc)
                continue
            if not addresses:
                last = f"MX host {mx.host} has no address"
                continue
            for address in addresses:
                if attempts == MAX_ATTEMPTS:
                    break
                attempts += 1
                relay = SmtpRelay(
                    address,
                    self._port,
                    require_tls=False,
                    helo_name=self._helo,
                    timeout=self._timeout,
                )
                result = await relay.send(mail_from=mail_from, rcpt_tos=rcpts, data=data)
                if not _unreachable(result):
                    log.info("delivered to MX %s [%s] for %s", mx.host, address, domain)
                    return dict(result)
                last = f"MX host {mx.host} [{address}]: " + next(iter(result.values()))[1]
        reason = f"4.4.1 no MX host of {domain} could be reached ({last})"
        log.warning("direct delivery to %s deferred: %s", domain, last)
        return dict.fromkeys(rcpts, (RelayOutcome.DEFERRED, reason))


def _unreachable(result: Mapping[str, tuple[RelayOutcome, str]]) -> bool:
    """True when no SMTP reply was had (connection refused, timeout, TLS failure): the
    next MX may be tried (RFC 5321 §5.1). A 4yz or 5yz reply is the domain's answer."""
    return all(
        outcome is RelayOutcome.DEFERRED and not text[:1].isdigit()
        for outcome, text in result.values()
    )
