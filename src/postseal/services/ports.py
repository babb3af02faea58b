"""Ports the services use for outward I/O, and the intake the SMTP edge calls.

Adapters (``postseal.adapters``) implement :class:`Scanner` and :class:`Relay`; the
composition root chooses them. :class:`MailIntake` is implemented by the submission
service and called by ``postseal.protocols.smtp``; its errors are the protocol-neutral
family of :mod:`postseal.errors`, which the SMTP edge maps to replies.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "Envelope",
    "Listener",
    "MailIntake",
    "Relay",
    "RelayOutcome",
    "ScanResult",
    "ScanVerdict",
    "Scanner",
]


class ScanVerdict(enum.StrEnum):
    CLEAN = "clean"
    INFECTED = "infected"
    ERROR = "error"  # the scanner could not scan (down, timeout, over its size limit)


@dataclass(frozen=True, slots=True)
class ScanResult:
    verdict: ScanVerdict
    signature: str | None = None  # the malware name, when infected
    detail: str = ""  # a sentence for logs and quarantine listings


class Scanner(Protocol):
    """An antivirus engine (the ClamAV clamd adapter is the real one)."""

    async def scan(self, data: bytes) -> ScanResult: ...


class RelayOutcome(enum.StrEnum):
    DELIVERED = "delivered"
    DEFERRED = "deferred"  # 4xx or a connection problem: retry later
    FAILED = "failed"  # 5xx: give up, send a DSN


class Relay(Protocol):
    """Sends a message to another SMTP server (smart host or the recipients' MX)."""

    async def send(
        self, *, mail_from: str, rcpt_tos: Sequence[str], data: bytes
    ) -> Mapping[str, tuple[RelayOutcome, str]]:
        """Per recipient, the outcome and the server's reply text."""
        ...


class Listener(enum.StrEnum):
    SMTP = "smtp"  # MX: mail from other servers, local recipients only
    SUBMISSION = "submission"  # 587, STARTTLS then AUTH
    SUBMISSIONS = "submissions"  # 465, implicit TLS then AUTH


@dataclass(frozen=True, slots=True)
class Envelope:
    """One SMTP transaction as the edge received it (RFC 5321 §2.3.1)."""

    listener: Listener
    client_address: str
    helo: str
    auth_user: str | None  # canonical address after AUTH, else None
    mail_from: str  # "" for the null reverse-path
    rcpt_tos: tuple[str, ...]
    data: bytes  # CRLF line ends, dot-unstuffed, as received
    smtputf8: bool = False
    body_8bit: bool = False
    tls: bool = False


class MailIntake(Protocol):
    """What the SMTP edge asks of postseal. Each method raises a :class:`PostsealError`
    subclass on refusal: ``AddressError``, ``NotFoundError`` (no such local user),
    ``RelayDeniedError``, ``SenderDeniedError``, ``PolicyError``, ``ContentRefusedError``,
    ``TooLargeError``, ``MessageFormatError``, ``ThrottledError``, ``TemporaryError``."""

    async def authenticate(self, username: str, password: str, *, client_address: str) -> str:
        """The canonical address on success; AuthenticationError / ThrottledError otherwise."""
        ...

    async def check_sender(
        self, *, listener: Listener, auth_user: str | None, mail_from: str
    ) -> None: ...

    async def check_recipient(
        self, *, listener: Listener, auth_user: str | None, rcpt_to: str
    ) -> None: ...

    async def accept(self, envelope: Envelope) -> str:
        """Run policy, scan and commit the message durably; return its queue id. Only
        after this returns may the edge answer 250."""
        ...
