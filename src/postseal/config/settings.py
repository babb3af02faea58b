"""Frozen, typed settings. Built only by :mod:`postseal.config.loader`.

Each section is handed on its own to the part that needs it; nothing in the core ever
receives the whole :class:`Settings`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ListenAddress", "LogSettings", "PkiSettings", "Settings", "StoreSettings"]


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
class LogSettings:
    level: str = "INFO"


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path
    store: StoreSettings
    pki: PkiSettings
    log: LogSettings
    listen: tuple[ListenAddress, ...]
    sources: Mapping[str, str] = field(default_factory=dict)
    """For each dotted key, where its value came from: ``default``, ``file PATH``,
    ``env NAME`` or ``option --flag``."""
