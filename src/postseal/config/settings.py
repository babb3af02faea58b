"""Frozen, typed settings. Built only by :mod:`postseal.config.loader`.

Each section is handed on its own to the part that needs it; nothing in the core ever
receives the whole :class:`Settings`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "ListenAddress",
    "LogSettings",
    "MailSettings",
    "PkiSettings",
    "QueueSettings",
    "RelaySettings",
    "Settings",
    "StoreSettings",
]


@dataclass(frozen=True, slots=True)
class ListenAddress:
    """One listener: a name (``http``, ``smtp``, …) bound to a host and port."""

    name: str
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.name}={host}:{self.port}"


@dataclass(frozen=True, slots=True)
class StoreSettings:
    database_url: str


@dataclass(frozen=True, slots=True)
class PkiSettings:
    revocation_fail_open: bool = False
    crl_validity_days: int = 7
    crl_refresh_hours: int = 24
    enroll_interval_minutes: int = 60


@dataclass(frozen=True, slots=True)
class MailSettings:
    """The SMTP side: which domains are local, limits, antivirus."""

    local_domains: tuple[str, ...] = ()  # empty: the organisation's domain
    max_message_bytes: int = 25 * 1024 * 1024
    max_recipients: int = 100
    clamd: str = ""  # "unix:/path", "tcp:HOST:PORT", or "" for none
    agents: tuple[str, ...] = ("disclaimer", "subject-tag")  # transport agents, in order
    agent_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    smtp_processes: int = 1  # processes accepting on the SMTP listeners (ADR 0024)


@dataclass(frozen=True, slots=True)
class RelaySettings:
    """Outbound delivery: through a smart host (RFC 6409 §3.1 relay) or directly to the
    recipients' MX hosts (``direct``); never both."""

    smart_host: str = ""  # "HOST:PORT"; "" = direct delivery if ``direct``, else none
    require_tls: bool = True  # STARTTLS required, certificate verified
    ca_file: str = ""  # extra CA bundle (PEM) to verify the smart host
    direct: bool = False  # no smart host: deliver to the recipients' MX (RFC 5321 §5.1)
    dns_servers: tuple[str, ...] = ()  # "HOST" or "HOST:PORT"; () = /etc/resolv.conf
    mx_port: int = 25  # the port of MX hosts; another only in a lab or a test


@dataclass(frozen=True, slots=True)
class QueueSettings:
    retry_initial_seconds: int = 60  # first retry; doubles each time
    retry_max_seconds: int = 4 * 3600
    expire_hours: int = 120  # then a DSN to the sender (RFC 3464)
    lease_seconds: int = 300  # a runner's hold on a recipient
    poll_seconds: float = 1.0
    node_id: str = ""  # names this node's queue leases; "" = the host name


@dataclass(frozen=True, slots=True)
class LogSettings:
    level: str = "INFO"


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path
    store: StoreSettings
    pki: PkiSettings
    log: LogSettings
    listen: tuple[ListenAddress, ...]
    mail: MailSettings = field(default_factory=MailSettings)
    relay: RelaySettings = field(default_factory=RelaySettings)
    queue: QueueSettings = field(default_factory=QueueSettings)
    policy: Mapping[str, Any] = field(default_factory=dict)
    """The raw ``[policy]`` table; :func:`postseal.policy.load_rules` parses it."""
    sources: Mapping[str, str] = field(default_factory=dict)
    """For each dotted key, where its value came from: ``default``, ``file PATH``,
    ``env NAME`` or ``option --flag``."""
