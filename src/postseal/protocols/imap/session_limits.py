"""Resource limits of an IMAP listener, and the gate that counts its connections.

Every limit answers with a defined response and changes nothing: a refused connection
gets ``* BYE`` (RFC 3501 §7.1.5) before it is closed, a refused login ``NO [LIMIT]``
(RFC 5530 §3), a literal over the limit ``BAD [TOOBIG]`` (RFC 7889 §4).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from postseal.errors import ConfigError

__all__ = ["ConnectionGate", "ImapLimits"]


@dataclass(frozen=True, slots=True)
class ImapLimits:
    """Per-listener limits; the defaults suit an organisation of 20 to 2,000 people.

    - ``max_line_length``: octets of one command line (literals excluded). RFC 7162 §4
      asks clients to keep lines under 8,192 octets and servers to accept at least that.
    - ``max_literal``: octets of one literal, i.e. of an APPENDed message (advertised as
      ``APPENDLIMIT``, RFC 7889).
    - ``max_command``: octets of a whole command, its lines and literals together.
    - ``max_commands``: commands per connection, then ``* BYE``.
    - ``max_bad_commands``: BAD responses per connection, then ``* BYE``.
    - ``max_auth_failures``: failed LOGIN/AUTHENTICATE per connection, then ``* BYE``.
    - ``auth_failure_delay``: seconds a failed login waits before its ``NO`` — a guess
      then costs the client time as well as a connection.
    - ``idle_timeout`` / ``login_timeout``: seconds without a command once authenticated
      (RFC 3501 §5.4 asks for at least 30 minutes) and before (one minute).
    - ``max_connections``, ``max_connections_per_address``, ``max_connections_per_user``:
      concurrent connections to this listener, from one client address, of one user.
    - ``tls_handshake_timeout``: seconds for a TLS handshake (implicit or STARTTLS).
    """

    max_line_length: int = 65536
    max_literal: int = 50 * 1024 * 1024
    max_command: int = 51 * 1024 * 1024
    max_commands: int = 100_000
    max_bad_commands: int = 50
    max_auth_failures: int = 3
    auth_failure_delay: float = 1.0
    idle_timeout: float = 30 * 60.0
    login_timeout: float = 60.0
    max_connections: int = 1024
    max_connections_per_address: int = 50
    max_connections_per_user: int = 20
    tls_handshake_timeout: float = 30.0

    def __post_init__(self) -> None:
        for name in self.__slots__:
            value = getattr(self, name)
            if value < 0 or (value == 0 and name != "auth_failure_delay"):
                raise ConfigError(f"IMAP limit {name} must be positive, not {value}")
        if self.max_line_length < 1024:
            raise ConfigError(
                f"IMAP limit max_line_length must be at least 1024 octets, not {self.max_line_length}",
                hint="RFC 7162 §4 recommends accepting lines of 8192 octets",
            )


class ConnectionGate:
    """Counts the open connections of one listener: in all, per address, per user."""

    def __init__(self, limits: ImapLimits) -> None:
        self._limits = limits
        self._addresses: Counter[str] = Counter()
        self._users: Counter[int] = Counter()

    @property
    def open_connections(self) -> int:
        return self._addresses.total()

    def admit(self, address: str) -> str | None:
        """Count a new connection from ``address`` in, or say why it is refused."""
        if self._addresses.total() >= self._limits.max_connections:
            return "Too many connections, try again later"
        if self._addresses[address] >= self._limits.max_connections_per_address:
            return "Too many connections from your address, try again later"
        self._addresses[address] += 1
        return None

    def release(self, address: str) -> None:
        self._addresses[address] -= 1
        if self._addresses[address] <= 0:
            del self._addresses[address]

    def login(self, user_id: int) -> bool:
        """Count an authenticated session of ``user_id`` in; False when at the limit."""
        if self._users[user_id] >= self._limits.max_connections_per_user:
            return False
        self._users[user_id] += 1
        return True

    def logout(self, user_id: int) -> None:
        self._users[user_id] -= 1
        if self._users[user_id] <= 0:
            del self._users[user_id]
