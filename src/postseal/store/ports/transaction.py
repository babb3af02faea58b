"""The transaction that binds every repository to one database transaction, and the store."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Protocol

from postseal.store.ports.auth_failures import AuthFailureRepository
from postseal.store.ports.contacts import ContactRepository
from postseal.store.ports.directory import (
    AuditRepository,
    CertificateRepository,
    CrlRepository,
    DirectoryRepository,
    ImportedCrlRepository,
    MetaRepository,
    TemplateRepository,
    TrustRepository,
    UserRepository,
)
from postseal.store.ports.mailbox_reads import MailboxReads
from postseal.store.ports.mailboxes import MailboxRepository
from postseal.store.ports.policy_rules import PolicyRuleRepository
from postseal.store.ports.quarantine import QuarantineRepository
from postseal.store.ports.queue import QueueRepository
from postseal.store.ports.zero_access import ZeroAccessRepository

__all__ = ["Store", "Transaction"]


class Transaction(Protocol):
    """The repositories, all bound to one database transaction."""

    @property
    def meta(self) -> MetaRepository: ...
    @property
    def users(self) -> UserRepository: ...
    @property
    def templates(self) -> TemplateRepository: ...
    @property
    def certificates(self) -> CertificateRepository: ...
    @property
    def directory(self) -> DirectoryRepository: ...
    @property
    def crls(self) -> CrlRepository: ...
    @property
    def trust(self) -> TrustRepository: ...
    @property
    def imported_crls(self) -> ImportedCrlRepository: ...
    @property
    def audit(self) -> AuditRepository: ...
    @property
    def queue(self) -> QueueRepository: ...
    @property
    def mailboxes(self) -> MailboxRepository: ...
    @property
    def quarantine(self) -> QuarantineRepository: ...
    @property
    def contacts(self) -> ContactRepository: ...
    @property
    def policy_rules(self) -> PolicyRuleRepository: ...
    @property
    def zero_access(self) -> ZeroAccessRepository: ...
    @property
    def auth_failures(self) -> AuthFailureRepository: ...


class Store(Protocol):
    def begin(self, *, readonly: bool = False) -> AbstractAsyncContextManager[Transaction]:
        """Open a transaction: commit on normal exit, roll back on exception."""
        ...

    def peek(self) -> AbstractAsyncContextManager[Transaction]:
        """A read-only transaction for a few point reads by key (never a listing or a
        scan): where the store allows, it runs without waiting on other work (ADR 0023).
        Writing in it fails."""
        ...

    def begin_batch(self) -> AbstractAsyncContextManager[Transaction]:
        """A write transaction for the group commit's batches, as :meth:`begin`; where
        the store allows, its statements run without waiting on other work and only the
        commit does (ADR 0023)."""
        ...

    @property
    def reads(self) -> MailboxReads:
        """The mailbox read path: single reads that need no transaction (ADR 0017)."""
        ...

    async def close(self) -> None: ...
