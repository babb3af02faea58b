"""A small authoritative DNS server on 127.0.0.1 (UDP, dnspython) for tests of MX lookup
and direct delivery: answers from a dict, and can refuse (SERVFAIL) or stay silent."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset


@dataclass
class Zone:
    """``records[(name, type)]`` = rdata texts; names without the final dot, lower-case.
    A name with no record of any type is NXDOMAIN; one with other types is NOERROR/empty."""

    records: Mapping[tuple[str, str], Sequence[str]]
    servfail: frozenset[str] = frozenset()
    silent: frozenset[str] = frozenset()
    queries: list[tuple[str, str]] = field(default_factory=list)

    def answer(self, wire: bytes) -> bytes | None:
        query = dns.message.from_wire(wire)
        question = query.question[0]
        name = question.name.to_text(omit_final_dot=True).lower()
        kind = dns.rdatatype.to_text(question.rdtype)
        self.queries.append((name, kind))
        if name in self.silent:
            return None
        response = dns.message.make_response(query)
        if name in self.servfail:
            response.set_rcode(dns.rcode.SERVFAIL)
        elif not any(known == name for known, _ in self.records):
            response.set_rcode(dns.rcode.NXDOMAIN)
        else:
            texts = self.records.get((name, kind), ())
            if texts:
                response.answer.append(
                    dns.rrset.from_text_list(question.name, 60, "IN", kind, list(texts))
                )
        return response.to_wire()


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, zone: Zone) -> None:
        self.zone = zone
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a datagram transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = self.zone.answer(data)
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)


@contextlib.asynccontextmanager
async def serve_dns(zone: Zone) -> AsyncIterator[int]:
    """Serve ``zone`` on 127.0.0.1 over UDP; yields the port."""
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(
        lambda: _Protocol(zone), local_addr=("127.0.0.1", 0)
    )
    try:
        yield transport.get_extra_info("sockname")[1]
    finally:
        transport.close()
