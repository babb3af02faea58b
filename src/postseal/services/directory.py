"""The user directory: accounts, groups, the two certificate attributes, and the lookup
of encryption certificates.

``userCertificate`` and ``userSMIMECertificate`` are written together by every publish, so
they cannot drift apart through postseal; :meth:`DirectoryService.check` finds entries
that drifted anyway (an import, a restored backup, a legacy client that wrote one of
them) and ``fix=True`` repairs them: both attributes get the user's newest valid
certificate, or are cleared when there is none.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509

from postseal.errors import InputError, NotFoundError, PolicyError
from postseal.mail.address import parse_address
from postseal.pki.validation import Usage
from postseal.services.certificates import CertificateService, IssuedCertificate
from postseal.services.clock import Clock
from postseal.services.passwords import PasswordService
from postseal.services.throttle import WINDOW, account_key
from postseal.services.trust import TrustService
from postseal.store.ports import (
    CertificateRecord,
    CertificateRole,
    DirectoryAttribute,
    DirectoryEntry,
    NewUser,
    Store,
    UserRecord,
)

__all__ = [
    "DirectoryFinding",
    "DirectoryService",
    "EncryptionLookup",
    "UserDetails",
]

_EXTENSION = re.compile(r"[0-9]{2,15}\Z")
_GROUP = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}\Z")
_MAX_NAME = 256


@dataclass(frozen=True, slots=True)
class UserDetails:
    user: UserRecord
    attributes: DirectoryEntry
    certificates: Sequence[CertificateRecord]


@dataclass(frozen=True, slots=True)
class DirectoryFinding:
    """One problem with one user's certificate attributes."""

    address: str
    problem: str  # "attributes-differ" | "expired" | "revoked" | "foreign" | "missing"
    detail: str
    fixed: bool = False


@dataclass(frozen=True, slots=True)
class EncryptionLookup:
    """Per recipient, a certificate fit for encryption — or the names of those without."""

    found: dict[str, x509.Certificate] = field(default_factory=dict)
    missing: tuple[str, ...] = ()

    def require_all(self) -> dict[str, x509.Certificate]:
        """The certificates, or PolicyError naming every recipient without one."""
        if self.missing:
            raise PolicyError(
                f"cannot encrypt: no valid certificate for {', '.join(self.missing)}",
                hint="ask them to enroll, or send without encryption",
            )
        return self.found


def _validate_extension(extension: str | None) -> str | None:
    if extension is None:
        return None
    if not _EXTENSION.match(extension):
        raise InputError(f"mailbox extension {extension!r} must be 2 to 15 digits")
    return extension


def _validate_name(name: str) -> str:
    name = name.strip()
    if len(name) > _MAX_NAME or any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        raise InputError(f"the display name must be at most {_MAX_NAME} printable characters")
    return name


class DirectoryService:
    def __init__(
        self,
        store: Store,
        *,
        certificates: CertificateService,
        trust: TrustService,
        passwords: PasswordService,
        clock: Clock,
    ) -> None:
        self._store = store
        self._certs = certificates
        self._trust = trust
        self._passwords = passwords
        self._clock = clock

    async def add_user(
        self,
        address: str,
        *,
        display_name: str = "",
        template: str = "User",
        password: str | None = None,
        extension: str | None = None,
        groups: Sequence[str] = (),
        issue_certificate: bool = True,
        actor: str,
    ) -> tuple[UserRecord, IssuedCertificate | None]:
        """Add a user (and, unless told not to, issue and publish a certificate)."""
        canonical = str(parse_address(address))
        name = _validate_name(display_name)
        for group in groups:
            if not _GROUP.match(group):
                raise InputError(
                    f"group name {group!r} must be 1 to 64 letters, digits, space . _ -"
                )
        password_hash = await self._passwords.hash(password) if password is not None else None
        async with self._store.begin() as tx:
            if await tx.templates.get(template) is None:
                names = ", ".join(t.name for t in await tx.templates.list())
                raise NotFoundError(f"unknown template {template!r}", hint=f"templates: {names}")
            user = await tx.users.add(
                NewUser(
                    address=canonical,
                    display_name=name,
                    template=template,
                    password_hash=password_hash,
                    extension=_validate_extension(extension),
                )
            )
            if groups:
                await tx.users.set_groups(user.id, list(dict.fromkeys(groups)))
                user = await tx.users.get_by_id(user.id) or user
            await tx.audit.append(
                actor=actor, action="user.add", target=canonical, detail=f"template={template}"
            )
        issued = None
        if issue_certificate:
            try:
                issued = await self._certs.issue(canonical, actor=actor)
            except Exception:
                # All or nothing: a user whose certificate could not be issued is not left behind.
                async with self._store.begin() as tx:
                    await tx.users.remove(user.id)
                raise
        return user, issued

    async def get(self, address: str) -> UserDetails:
        canonical = str(parse_address(address))
        async with self._store.peek() as tx:
            user = await tx.users.get(canonical)
            if user is None:
                raise NotFoundError(f"no user {canonical} in the directory")
            return UserDetails(
                user, await tx.directory.get(user.id), await tx.certificates.list(user_id=user.id)
            )

    async def list_users(self) -> Sequence[UserRecord]:
        async with self._store.begin(readonly=True) as tx:
            return await tx.users.list()

    async def set_enabled(self, address: str, *, enabled: bool, actor: str) -> UserRecord:
        details = await self.get(address)
        async with self._store.begin() as tx:
            user = await tx.users.update(details.user.id, enabled=enabled)
            await tx.audit.append(
                actor=actor,
                action="user.enable" if enabled else "user.disable",
                target=user.address,
            )
        return user

    async def failed_logins(self, address: str) -> int:
        """The user's failed logins within the throttle's window, every protocol counted
        (ADR 0027)."""
        details = await self.get(address)
        since = self._clock().timestamp() - WINDOW
        async with self._store.peek() as tx:
            return await tx.auth_failures.count_since(
                "account", account_key(details.user.address), since
            )

    async def failed_logins_by_user(self) -> list[tuple[UserRecord, int]]:
        """Every user with failed logins within the throttle's window, and how many, most
        first (ADR 0027). Client addresses are not listed: only their hashes are kept."""
        since = self._clock().timestamp() - WINDOW
        async with self._store.begin(readonly=True) as tx:
            counts = await tx.auth_failures.counts_since("account", since)
            users = await tx.users.list() if counts else []
        keyed = ((user, account_key(user.address)) for user in users)
        found = [(user, counts[key]) for user, key in keyed if key in counts]
        return sorted(found, key=lambda pair: (-pair[1], pair[0].address))

    async def unlock(self, address: str, *, actor: str) -> int:
        """Forget the user's failed logins (ADR 0027), so the throttle lets them try
        again at once; how many there were. Failures counted against a client address
        stay: they are not the account's."""
        details = await self.get(address)
        async with self._store.begin() as tx:
            cleared = await tx.auth_failures.clear("account", account_key(details.user.address))
            await tx.audit.append(
                actor=actor,
                action="user.unlock",
                target=details.user.address,
                detail=f"{cleared} failed login(s) forgotten",
            )
        return cleared

    async def set_password(self, address: str, password: str, *, actor: str) -> None:
        details = await self.get(address)
        password_hash = await self._passwords.hash(password)
        async with self._store.begin() as tx:
            await tx.users.update(details.user.id, password_hash=password_hash)
            await tx.audit.append(actor=actor, action="user.password", target=details.user.address)

    async def authenticate(self, address: str, password: str) -> UserRecord | None:
        """The user when the password matches and the account is enabled, else None. Costs
        one argon2 verification whether or not the user exists."""
        try:
            canonical = str(parse_address(address))
        except InputError:
            canonical = ""
        async with self._store.peek() as tx:
            user = await tx.users.get(canonical) if canonical else None
        ok = await self._passwords.verify(user.password_hash if user else None, password)
        return user if ok and user is not None and user.enabled else None

    async def remove(self, address: str, *, actor: str) -> list[str]:
        """Remove the user and revoke their certificates (cessationOfOperation)."""
        details = await self.get(address)
        async with self._store.begin() as tx:
            revoked = await self._certs.revoke_all_for(
                tx, details.user, reason="cessationOfOperation"
            )
            await tx.users.remove(details.user.id)
            await tx.audit.append(
                actor=actor,
                action="user.remove",
                target=details.user.address,
                detail=f"revoked {len(revoked)}",
            )
        return revoked

    async def publish_attribute(
        self, address: str, der: bytes | None, *, attribute: DirectoryAttribute | None, actor: str
    ) -> None:
        """Write a certificate into one attribute (or both when ``attribute`` is None) —
        what a legacy mail client does when it publishes its own certificate."""
        details = await self.get(address)
        async with self._store.begin() as tx:
            if attribute is None:
                await tx.directory.publish(details.user.id, der)
            else:
                await tx.directory.set(details.user.id, attribute, der)
            await tx.audit.append(
                actor=actor,
                action="directory.publish",
                target=details.user.address,
                detail=str(attribute or "both"),
            )

    async def check(self, *, fix: bool, actor: str) -> list[DirectoryFinding]:
        """Report users whose attributes differ or hold expired, revoked or foreign
        certificates, or are empty although a valid certificate exists."""
        findings: list[DirectoryFinding] = []
        now = self._clock()
        async with self._store.begin() as tx:
            for user in await tx.users.list():
                entry = await tx.directory.get(user.id)
                own = {r.der: r for r in await tx.certificates.list(user_id=user.id)}
                best = next(
                    (
                        r
                        for r in own.values()
                        if r.role is CertificateRole.USER
                        and r.revoked_at is None
                        and r.not_before <= now < r.not_after
                    ),
                    None,
                )
                problems = _problems(user.address, entry, own, now, best)
                if problems and fix:
                    await tx.directory.publish(user.id, best.der if best else None)
                    await tx.audit.append(
                        actor=actor,
                        action="directory.fix",
                        target=user.address,
                        detail=", ".join(p.problem for p in problems),
                    )
                findings.extend(
                    DirectoryFinding(p.address, p.problem, p.detail, fixed=fix) for p in problems
                )
        return findings

    async def find_encryption_certs(self, addresses: Sequence[str]) -> EncryptionLookup:
        """For each recipient, the published certificate when it validates for encryption
        (chain, dates, revocation, emailProtection, key usage); otherwise the recipient is
        named in ``missing``. Malformed addresses are an InputError."""
        canonical = list(dict.fromkeys(str(parse_address(a)) for a in addresses))
        found: dict[str, x509.Certificate] = {}
        missing: list[str] = []
        async with self._store.peek() as tx:
            context = await self._trust.context(tx)
            entries = await tx.directory.published(canonical)
        for address in canonical:
            entry = entries.get(address)
            der = entry.user_smime_certificate or entry.user_certificate if entry else None
            cert = x509.load_der_x509_certificate(der) if der else None
            if cert is not None and self._trust.judge(cert, context, Usage.SMIME_ENCRYPT).valid:
                found[address] = cert
            else:
                missing.append(address)
        return EncryptionLookup(found, tuple(missing))


def _problems(
    address: str,
    entry: DirectoryEntry,
    own: dict[bytes, CertificateRecord],
    now: datetime,
    best: CertificateRecord | None,
) -> list[DirectoryFinding]:
    problems: list[DirectoryFinding] = []
    values = {
        DirectoryAttribute.USER_CERTIFICATE: entry.user_certificate,
        DirectoryAttribute.USER_SMIME_CERTIFICATE: entry.user_smime_certificate,
    }
    if entry.user_certificate != entry.user_smime_certificate:
        problems.append(
            DirectoryFinding(
                address,
                "attributes-differ",
                "userCertificate and userSMIMECertificate hold different certificates",
            )
        )
    for attribute, der in values.items():
        if der is None:
            continue
        record = own.get(der)
        if record is None:
            problems.append(
                DirectoryFinding(
                    address,
                    "foreign",
                    f"{attribute} holds a certificate not issued to this user by postseal",
                )
            )
        elif record.revoked_at is not None:
            problems.append(
                DirectoryFinding(
                    address,
                    "revoked",
                    f"{attribute} holds certificate {record.serial}, revoked {record.revoked_at:%Y-%m-%d}",
                )
            )
        elif record.not_after <= now:
            problems.append(
                DirectoryFinding(
                    address,
                    "expired",
                    f"{attribute} holds certificate {record.serial}, expired {record.not_after:%Y-%m-%d}",
                )
            )
    if (
        best is not None
        and (entry.user_certificate is None or entry.user_smime_certificate is None)
        and not problems
    ):
        problems.append(
            DirectoryFinding(
                address, "missing", f"valid certificate {best.serial} is not published"
            )
        )
    # One finding per (problem, detail) is enough when both attributes hold the same thing.
    unique: dict[tuple[str, str], DirectoryFinding] = {}
    for problem in problems:
        unique.setdefault((problem.problem, problem.detail.split(" holds ")[-1]), problem)
    return list(unique.values())
