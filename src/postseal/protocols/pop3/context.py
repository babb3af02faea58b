"""What every session of one POP3 listener shares: the service, the login callable, the
throttle, the limits, the TLS context and the open sessions."""

from __future__ import annotations

import asyncio
import ssl
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from postseal.errors import ConfigError
from postseal.services.mailboxes import MailboxService
from postseal.services.throttle import AuthThrottle
from postseal.store.ports import UserRecord

__all__ = ["Authenticate", "Pop3Limits", "SessionContext"]

Authenticate = Callable[[str, str, str], Awaitable[UserRecord]]
"""``authenticate(user, password, client_address)``: the user, or AuthenticationError."""


@dataclass(frozen=True, slots=True)
class Pop3Limits:
    """Per-listener limits.

    - ``max_line_length``: octets per command line with CRLF. RFC 2449 §4 caps commands
      at 255, but SASL responses (RFC 5034 §4) are longer; a longer line gets ``-ERR``
      and is skipped.
    - ``max_commands``: commands per connection, then ``-ERR [SYS/TEMP]`` and close.
    - ``max_errors``: ``-ERR`` replies per connection (bad commands, failed logins), then
      close — bounds password guessing per connection.
    - ``idle_timeout``: seconds without a command; RFC 1939 §3 asks for at least 10
      minutes before the autologout.
    - ``auth_failure_delay``: seconds before a failed login is answered.
    - ``max_connections`` / ``max_connections_per_client``: refused with ``-ERR
      [SYS/TEMP]`` on connect when over.
    - ``tls_handshake_timeout``: seconds for the TLS handshake (STLS and ``pop3s``).
    """

    max_line_length: int = 1024
    max_commands: int = 100_000
    max_errors: int = 10
    idle_timeout: float = 600.0
    auth_failure_delay: float = 2.0
    max_connections: int = 256
    max_connections_per_client: int = 20
    tls_handshake_timeout: float = 30.0

    def __post_init__(self) -> None:
        for name in self.__slots__:
            value = getattr(self, name)
            if value < 0 or (value == 0 and name != "auth_failure_delay"):
                raise ConfigError(f"POP3 limit {name} must be positive, not {value}")
        if self.max_line_length < 255:
            raise ConfigError(
                f"POP3 limit max_line_length must be at least 255, not {self.max_line_length}",
                hint="RFC 2449 §4 allows 255-octet command lines",
            )


@dataclass(eq=False)
class SessionContext:
    service: MailboxService
    authenticate: Authenticate
    throttle: AuthThrottle | None
    hostname: str
    limits: Pop3Limits
    starttls: ssl.SSLContext | None  # None on pop3s, where TLS is implicit
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    clients: Counter[str] = field(default_factory=Counter)
    stopping: bool = False
