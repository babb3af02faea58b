"""An in-memory :class:`~postseal.services.ports.MailIntake`: a test double of the port the
SMTP edge calls, with users, local domains and the list of accepted envelopes."""

from __future__ import annotations

import asyncio

from postseal.errors import (
    AuthenticationError,
    NotFoundError,
    RelayDeniedError,
    SenderDeniedError,
    ThrottledError,
)
from postseal.services.ports import Envelope, Listener

PASSWORD = "correct horse battery staple"
ALICE = "alice@example.test"
BOB = "bob@example.test"


class FakeIntake:
    def __init__(self) -> None:
        self.passwords = {ALICE: PASSWORD, BOB: "bob's password"}
        self.mailboxes = {ALICE, BOB, "postmaster@example.test"}
        self.local_domains = {"example.test"}
        self.throttled: set[str] = set()
        self.accepted: list[Envelope] = []
        self.accept_error: BaseException | None = None
        self.accept_delay = 0.0
        self.accept_calls = 0
        self.auth_attempts: list[tuple[str, str]] = []

    async def authenticate(self, username: str, password: str, *, client_address: str) -> str:
        user = username.lower()
        self.auth_attempts.append((user, client_address))
        if user in self.throttled:
            raise ThrottledError(f"too many failed logins for {user}")
        if self.passwords.get(user) != password:
            raise AuthenticationError(f"wrong password for {user}")
        return user

    async def check_sender(
        self, *, listener: Listener, auth_user: str | None, mail_from: str
    ) -> None:
        if auth_user is not None and mail_from.lower() != auth_user:
            raise SenderDeniedError(f"{auth_user} is not allowed to send as {mail_from}")

    async def check_recipient(
        self, *, listener: Listener, auth_user: str | None, rcpt_to: str
    ) -> None:
        domain = rcpt_to.rpartition("@")[2].lower()
        if domain in self.local_domains or rcpt_to == "postmaster":
            if rcpt_to.lower() not in self.mailboxes and rcpt_to != "postmaster":
                raise NotFoundError(f"{rcpt_to}: no such mailbox here")
        elif auth_user is None:
            raise RelayDeniedError(f"{rcpt_to} is not a local recipient")

    async def accept(self, envelope: Envelope) -> str:
        self.accept_calls += 1
        if self.accept_delay:
            await asyncio.sleep(self.accept_delay)
        if self.accept_error is not None:
            raise self.accept_error
        self.accepted.append(envelope)
        return f"Q{len(self.accepted):04d}"
