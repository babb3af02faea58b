"""Users, their groups and directory attributes; certificates, templates, CRLs and the
trust store; organisation facts and the audit trail."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

__all__ = [
    "AuditRecord",
    "AuditRepository",
    "CertificateRecord",
    "CertificateRepository",
    "CertificateRole",
    "CrlRecord",
    "CrlRepository",
    "DirectoryAttribute",
    "DirectoryEntry",
    "DirectoryRepository",
    "ImportedCrlRecord",
    "ImportedCrlRepository",
    "MetaRepository",
    "NewUser",
    "TemplateRecord",
    "TemplateRepository",
    "TrustKind",
    "TrustRecord",
    "TrustRepository",
    "UserRecord",
    "UserRepository",
]


class CertificateRole(enum.StrEnum):
    """What a certificate issued by postseal's own CA is for."""

    ROOT = "root"
    ISSUING = "issuing"  # S/MIME issuing CA: signs user certificates and their CRL
    SERVICE_ISSUING = "service-issuing"  # issues TLS server certificates only
    TLS = "tls"  # the server's TLS certificate
    USER = "user"  # a user's S/MIME certificate


class TrustKind(enum.StrEnum):
    """The seed's certificate stores: trusted roots, intermediates, cross-certificates."""

    ROOT = "root"
    INTERMEDIATE = "intermediate"
    CROSS = "cross"


class DirectoryAttribute(enum.StrEnum):
    """The two certificate attributes of a directory user, named as in Active Directory."""

    USER_CERTIFICATE = "userCertificate"
    USER_SMIME_CERTIFICATE = "userSMIMECertificate"


@dataclass(frozen=True, slots=True)
class NewUser:
    address: str
    display_name: str
    template: str
    password_hash: str | None = None
    extension: str | None = None
    enabled: bool = True


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: int
    address: str
    display_name: str
    enabled: bool
    password_hash: str | None
    template: str
    extension: str | None
    groups: tuple[str, ...]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class TemplateRecord:
    """A certificate template (RFC 5280 profile choices an administrator names)."""

    name: str
    description: str
    ekus: tuple[str, ...]  # dotted OIDs, in order
    key_type: str  # "rsa-2048" | "rsa-3072" | "ecdsa-p256" | "ecdsa-p384"
    validity_days: int
    renewal_days: int  # renew when fewer days than this remain
    superseded_by: str | None = None


@dataclass(frozen=True, slots=True)
class CertificateRecord:
    serial: str  # upper-case hex, no separators
    role: CertificateRole
    subject: str  # RFC 4514
    email: str | None
    user_id: int | None
    template: str | None
    issuer_serial: str | None  # None for the self-signed root
    not_before: datetime
    not_after: datetime
    fingerprint: str  # SHA-256 of the DER, lower-case hex
    der: bytes
    wrapped_key: bytes | None  # private key wrapped under the master key
    revoked_at: datetime | None = None
    revocation_reason: str | None = None  # RFC 5280 §5.3.1 name, e.g. "keyCompromise"
    superseded_by: str | None = None  # serial of the renewal that replaced it


@dataclass(frozen=True, slots=True)
class DirectoryEntry:
    """A user's two certificate attributes (DER), each possibly empty."""

    user_certificate: bytes | None
    user_smime_certificate: bytes | None


@dataclass(frozen=True, slots=True)
class CrlRecord:
    """A CRL postseal issued (RFC 5280 §5)."""

    issuer_serial: str
    number: int
    this_update: datetime
    next_update: datetime
    der: bytes


@dataclass(frozen=True, slots=True)
class TrustRecord:
    fingerprint: str  # SHA-256 of the DER, lower-case hex
    kind: TrustKind
    subject: str
    der: bytes
    added_at: datetime


@dataclass(frozen=True, slots=True)
class ImportedCrlRecord:
    """A CRL of another CA, imported by hand or fetched; keyed by its issuer's name."""

    issuer: str  # RFC 4514 issuer name of the CRL
    number: int | None
    this_update: datetime
    next_update: datetime | None
    der: bytes


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    detail: str


class MetaRepository(Protocol):
    """Organisation-wide facts written at ``init`` (org name, domain, key check, …)."""

    async def get(self, key: str) -> str | None: ...
    async def set(self, key: str, value: str) -> None: ...
    async def all(self) -> Mapping[str, str]: ...


class UserRepository(Protocol):
    async def add(self, user: NewUser) -> UserRecord:
        """Insert a user; :class:`~postseal.errors.ConflictError` if the address or the
        extension is taken."""
        ...

    async def get(self, address: str) -> UserRecord | None: ...
    async def get_by_id(self, user_id: int) -> UserRecord | None: ...
    async def get_by_extension(self, extension: str) -> UserRecord | None: ...
    async def list(self, *, enabled_only: bool = False) -> Sequence[UserRecord]: ...

    async def update(
        self,
        user_id: int,
        *,
        display_name: str | None = None,
        enabled: bool | None = None,
        password_hash: str | None = None,
        template: str | None = None,
        extension: str | None = None,
    ) -> UserRecord:
        """Change the given fields (``None`` leaves a field alone); NotFoundError if absent."""
        ...

    async def set_groups(self, user_id: int, groups: Sequence[str]) -> None: ...
    async def remove(self, user_id: int) -> None:
        """Delete the user, their groups and directory attributes. Certificates stay
        (they are the CA's issuance record) with ``user_id`` kept for the audit."""
        ...


class TemplateRepository(Protocol):
    async def put(self, template: TemplateRecord) -> None:
        """Insert or replace by name."""
        ...

    async def get(self, name: str) -> TemplateRecord | None: ...
    async def list(self) -> Sequence[TemplateRecord]: ...


class CertificateRepository(Protocol):
    async def add(self, cert: CertificateRecord) -> None:
        """ConflictError if the serial or fingerprint exists."""
        ...

    async def get(self, serial: str) -> CertificateRecord | None: ...
    async def get_by_fingerprint(self, fingerprint: str) -> CertificateRecord | None: ...
    async def list(
        self, *, user_id: int | None = None, role: CertificateRole | None = None
    ) -> Sequence[CertificateRecord]:
        """Newest ``not_before`` first."""
        ...

    async def current_ca(self, role: CertificateRole) -> CertificateRecord | None:
        """The newest unrevoked certificate of a CA role (root, issuing, service-issuing, tls)."""
        ...

    async def revoke(self, serial: str, *, at: datetime, reason: str) -> None:
        """Mark revoked; NotFoundError if absent, ConflictError if already revoked."""
        ...

    async def set_superseded(self, serial: str, by_serial: str) -> None: ...
    async def revoked_by(self, issuer_serial: str) -> Sequence[CertificateRecord]:
        """Revoked certificates issued by ``issuer_serial`` (a CRL's entries)."""
        ...


class DirectoryRepository(Protocol):
    async def get(self, user_id: int) -> DirectoryEntry: ...
    async def published(self, addresses: Sequence[str]) -> Mapping[str, DirectoryEntry]:
        """The attributes of each *enabled* user among ``addresses`` (canonical), in one
        query; an unknown or disabled address is absent from the result."""
        ...

    async def set(self, user_id: int, attribute: DirectoryAttribute, der: bytes | None) -> None:
        """Set one attribute (``None`` clears it). Services publish through
        :meth:`publish`; this exists to repair and to model legacy clients."""
        ...

    async def publish(self, user_id: int, der: bytes | None) -> None:
        """Set both attributes to the same certificate in one statement."""
        ...


class CrlRepository(Protocol):
    async def add(self, crl: CrlRecord) -> None: ...
    async def latest(self, issuer_serial: str) -> CrlRecord | None: ...


class TrustRepository(Protocol):
    async def add(self, entry: TrustRecord) -> None:
        """ConflictError if the fingerprint is present."""
        ...

    async def get(self, fingerprint: str) -> TrustRecord | None: ...
    async def list(self, *, kind: TrustKind | None = None) -> Sequence[TrustRecord]: ...
    async def remove(self, fingerprint: str) -> None:
        """NotFoundError if absent."""
        ...


class ImportedCrlRepository(Protocol):
    async def put(self, crl: ImportedCrlRecord) -> None:
        """Keep one CRL per issuer: replace the stored one."""
        ...

    async def get(self, issuer: str) -> ImportedCrlRecord | None: ...
    async def list(self) -> Sequence[ImportedCrlRecord]: ...


class AuditRepository(Protocol):
    async def append(self, *, actor: str, action: str, target: str, detail: str = "") -> None: ...
    async def list(self, *, limit: int = 100) -> Sequence[AuditRecord]:
        """Newest first."""
        ...
