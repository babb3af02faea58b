"""Resource limits of an SMTP listener, and the gate that counts its connections.

Every limit answers with a defined reply and changes nothing: a refused message is never
half-accepted, a refused connection gets ``421 4.7.0`` (RFC 5321 §3.8) before it is closed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from postseal.errors import ConfigError

__all__ = ["ConnectionGate", "Limits"]


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-listener limits; the defaults suit an organisation of 20 to 2,000 people.

    - ``max_message_size``: octets of message data after dot-unstuffing, advertised as
      ``SIZE`` (RFC 1870); over it → ``552 5.3.4`` at MAIL (declared) or after DATA.
    - ``max_recipients``: RCPTs per transaction; RFC 5321 §4.5.3.1.8 asks for at least 100.
      The next one gets ``452 4.5.3`` so the client sends the rest in another transaction.
    - ``max_line_length``: octets per message line including CRLF, 1000 by RFC 5321
      §4.5.3.1.6. Longer lines are refused (``554 5.6.0``), never folded: folding would
      break S/MIME signatures.
    - ``max_commands``: commands per connection, then ``421 4.7.0`` and close.
    - ``max_errors``: 5xx replies per connection (bad commands, refused recipients, failed
      AUTH), then ``421 4.7.0`` and close — bounds dictionary and password guessing.
    - ``idle_timeout``: seconds without a command (or, in DATA, without data), RFC 5321
      §4.5.3.2.7 recommends 5 minutes.
    - ``max_connections`` / ``max_connections_per_client``: concurrent connections to this
      listener in all and from one client address; over → ``421 4.7.0`` on connect.
    - ``tls_handshake_timeout``: seconds for the implicit-TLS handshake (port 465).
    """

    max_message_size: int = 25 * 1024 * 1024
    max_recipients: int = 100
    max_line_length: int = 1000
    max_commands: int = 1000
    max_errors: int = 20
    idle_timeout: float = 300.0
    max_connections: int = 256
    max_connections_per_client: int = 20
    tls_handshake_timeout: float = 30.0

    def __post_init__(self) -> None:
        for name in self.__slots__:
            value = getattr(self, name)
            if value <= 0:
                raise ConfigError(f"SMTP limit {name} must be positive, not {value}")
        if self.max_line_length < 80:
            raise ConfigError(
                f"SMTP limit max_line_length must be at least 80 octets, not {self.max_line_length}",
                hint="RFC 5321 §4.5.3.1.6 requires 1000",
            )


class ConnectionGate:
    """Counts the open connections of one listener, in all and per client address."""

    def __init__(self, *, total: int, per_client: int) -> None:
        self._total = total
        self._per_client = per_client
        self._open: Counter[str] = Counter()

    @property
    def open_connections(self) -> int:
        return self._open.total()

    def admit(self, client: str) -> str | None:
        """Count ``client`` in and return ``None``, or return why it is refused."""
        if self._open.total() >= self._total:
            return "Too many connections, try again later"
        if self._open[client] >= self._per_client:
            return "Too many connections from your address, try again later"
        self._open[client] += 1
        return None

    def release(self, client: str) -> None:
        self._open[client] -= 1
        if self._open[client] <= 0:
            del self._open[client]
