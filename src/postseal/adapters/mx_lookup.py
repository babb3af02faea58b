"""Where mail for a domain goes: MX lookup with dnspython (RFC 5321 §5.1, RFC 7505).

:meth:`MxLookup.hosts` returns the SMTP servers to try for a domain, in order:

- its MX records, lowest preference first, hosts of equal preference in random order
  (RFC 5321 §5.1, to spread the load), at most :data:`MAX_HOSTS`;
- no MX record but an address record: the domain itself (the "implicit MX");
- a null MX (a single MX with the root as exchange, RFC 7505 §3): :class:`NoMailDomain`,
  permanent — the domain accepts no mail;
- a domain that does not exist (NXDOMAIN), or has neither MX nor address: ``NoMailDomain``;
- a lookup that fails or times out (SERVFAIL, no answer within ``timeout``):
  :class:`LookupFailed`, temporary — the queue retries later.

:meth:`MxLookup.addresses` resolves one host to its IPv6 and IPv4 addresses (at most
:data:`MAX_ADDRESSES`). Nameservers are the system's (``/etc/resolv.conf``) unless
``nameservers`` are given as ``HOST`` or ``HOST:PORT`` (a lab, or the tests).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

import dns.asyncresolver
import dns.exception
import dns.name
import dns.rdatatype
import dns.resolver

__all__ = ["MAX_ADDRESSES", "MAX_HOSTS", "LookupFailed", "MxHost", "MxLookup", "NoMailDomain"]

MAX_HOSTS = 10
MAX_ADDRESSES = 4


class NoMailDomain(Exception):
    """The domain accepts no mail (null MX, NXDOMAIN, nothing to connect to): permanent."""

    def __init__(self, domain: str, reason: str, status: str) -> None:
        super().__init__(f"{domain}: {reason}")
        self.domain = domain
        self.reason = reason
        self.status = status  # RFC 3463 enhanced status code for the DSN


class LookupFailed(Exception):
    """DNS did not answer (SERVFAIL, timeout, no nameserver): temporary."""


@dataclass(frozen=True, slots=True)
class MxHost:
    preference: int
    host: str  # without the trailing dot; "" never occurs (null MX raises)


class MxLookup:
    """MX and address lookups on a dnspython asynchronous resolver."""

    def __init__(self, nameservers: Sequence[str] = (), *, timeout: float = 10.0) -> None:
        if nameservers:
            resolver = dns.asyncresolver.Resolver(configure=False)
            resolver.nameservers = []
            ports: dict[str, int] = {}
            for entry in nameservers:
                host, port = _split(entry)
                resolver.nameservers.append(host)
                ports[host] = port
            resolver.nameserver_ports = ports
        else:
            resolver = dns.asyncresolver.Resolver()
        resolver.lifetime = timeout
        resolver.timeout = min(timeout, 3.0)
        self._resolver = resolver
        self._rng = random.SystemRandom()  # shuffles equal preferences (RFC 5321 §5.1)

    async def hosts(self, domain: str) -> list[MxHost]:
        """The servers to try for ``domain`` (an A-label domain), best first."""
        try:
            answer = await self._resolver.resolve(domain, "MX", search=False)
        except dns.resolver.NXDOMAIN:
            raise NoMailDomain(domain, "the domain does not exist", "5.1.2") from None
        except dns.resolver.NoAnswer:
            # RFC 5321 §5.1: no MX, so the domain itself, if it has an address
            if not await self.addresses(domain):
                raise NoMailDomain(domain, "the domain has no MX and no address", "5.1.2") from None
            return [MxHost(0, domain.rstrip("."))]
        except (dns.exception.Timeout, dns.resolver.NoNameservers) as exc:
            raise LookupFailed(f"MX lookup for {domain} failed: {_why(exc)}") from None
        except dns.exception.DNSException as exc:
            raise LookupFailed(f"MX lookup for {domain} failed: {_why(exc)}") from None
        records = [(int(r.preference), r.exchange) for r in answer]
        if any(exchange == dns.name.root for _, exchange in records):
            # RFC 7505 §3: a null MX, alone by definition; any root exchange means "no mail"
            raise NoMailDomain(domain, "the domain accepts no mail (null MX, RFC 7505)", "5.1.10")
        self._rng.shuffle(records)
        records.sort(key=lambda r: r[0])  # stable: equal preferences stay shuffled
        return [MxHost(pref, exchange.to_text(omit_final_dot=True)) for pref, exchange in records][
            :MAX_HOSTS
        ]

    async def addresses(self, host: str) -> list[str]:
        """The host's IPv6 then IPv4 addresses; [] when it has none. LookupFailed when
        DNS cannot say."""
        found: list[str] = []
        failures: list[str] = []
        for kind in ("AAAA", "A"):
            try:
                answer = await self._resolver.resolve(host, kind, search=False)
            except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
                continue
            except dns.exception.DNSException as exc:
                failures.append(_why(exc))
                continue
            found.extend(r.to_text() for r in answer)
        if not found and failures:
            raise LookupFailed(f"address lookup for {host} failed: {failures[0]}")
        return found[:MAX_ADDRESSES]


def _split(entry: str) -> tuple[str, int]:
    if entry.startswith("["):  # [::1]:5353
        host, _, port = entry[1:].partition("]:")
        return host, int(port or 53)
    if entry.count(":") == 1:
        host, _, port = entry.partition(":")
        return host, int(port)
    return entry, 53


def _why(exc: BaseException) -> str:
    if isinstance(exc, dns.exception.Timeout):
        return "no answer in time"
    if isinstance(exc, dns.resolver.NoNameservers):
        return "no nameserver answered (SERVFAIL)"
    return str(exc) or type(exc).__name__
