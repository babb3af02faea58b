"""Certificate templates: the profile choices an administrator names.

The three defaults follow the Windows CA templates the seed documents describe; each
template has its EKUs, key type, validity and renewal window, and may be superseded by
another (auto-enrollment then re-issues to the newer one).

The CA/Browser Forum S/MIME Baseline Requirements (§7.1.2.3, §7.1.6.1) decide the
certificate policy: a template whose only EKU is emailProtection issues
*mailbox-validated strict* certificates (2.23.140.1.5.1.3); one that adds client
authentication, EFS or smart-card logon issues *mailbox-validated multipurpose*
(2.23.140.1.5.1.2), the profile that permits those extra purposes.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.x509.oid import ExtendedKeyUsageOID, ObjectIdentifier

from postseal.errors import InputError

__all__ = [
    "EKU_NAMES",
    "MAX_VALIDITY_DAYS",
    "POLICY_MAILBOX_MULTIPURPOSE",
    "POLICY_MAILBOX_STRICT",
    "TemplateProfile",
    "default_templates",
    "eku_name",
]

MAX_VALIDITY_DAYS = 824  # BR §6.3.2: 825 days, and notAfter is inclusive (RFC 5280 §4.1.2.5)

EMAIL_PROTECTION = ExtendedKeyUsageOID.EMAIL_PROTECTION.dotted_string
CLIENT_AUTH = ExtendedKeyUsageOID.CLIENT_AUTH.dotted_string
EFS = "1.3.6.1.4.1.311.10.3.4"
SMARTCARD_LOGON = ExtendedKeyUsageOID.SMARTCARD_LOGON.dotted_string
TRUST_LIST_SIGNING = "1.3.6.1.4.1.311.10.3.1"

EKU_NAMES: dict[str, str] = {
    EMAIL_PROTECTION: "secure e-mail",
    CLIENT_AUTH: "client authentication",
    EFS: "encrypting file system",
    SMARTCARD_LOGON: "smart-card logon",
    TRUST_LIST_SIGNING: "trust-list signing",
    ExtendedKeyUsageOID.SERVER_AUTH.dotted_string: "server authentication",
}
ALLOWED_EKUS = frozenset(EKU_NAMES) - {ExtendedKeyUsageOID.SERVER_AUTH.dotted_string}

POLICY_MAILBOX_STRICT = ObjectIdentifier("2.23.140.1.5.1.3")
POLICY_MAILBOX_MULTIPURPOSE = ObjectIdentifier("2.23.140.1.5.1.2")


def eku_name(oid: str) -> str:
    return EKU_NAMES.get(oid, oid)


@dataclass(frozen=True, slots=True)
class TemplateProfile:
    """A template as the CA applies it."""

    name: str
    description: str
    ekus: tuple[str, ...]
    key_type: str
    validity_days: int
    renewal_days: int
    superseded_by: str | None = None

    def __post_init__(self) -> None:
        if not self.name or len(self.name) > 64:
            raise InputError("a template name must be 1 to 64 characters")
        if EMAIL_PROTECTION not in self.ekus:
            raise InputError(f"template {self.name!r} must include the secure e-mail EKU")
        unknown = [oid for oid in self.ekus if oid not in ALLOWED_EKUS]
        if unknown:
            raise InputError(
                f"template {self.name!r}: EKU {', '.join(unknown)} is not allowed in an "
                "S/MIME certificate"
            )
        if not 1 <= self.validity_days <= MAX_VALIDITY_DAYS:
            raise InputError(
                f"template {self.name!r}: validity must be 1 to {MAX_VALIDITY_DAYS} days"
            )
        if not 0 <= self.renewal_days < self.validity_days:
            raise InputError(
                f"template {self.name!r}: the renewal window must be shorter than the validity"
            )

    @property
    def policy(self) -> ObjectIdentifier:
        strict = self.ekus == (EMAIL_PROTECTION,)
        return POLICY_MAILBOX_STRICT if strict else POLICY_MAILBOX_MULTIPURPOSE


def default_templates(key_type: str) -> tuple[TemplateProfile, ...]:
    """Administrator, User and Smartcard User, with one year of validity and the Windows
    default renewal window of six weeks."""
    return (
        TemplateProfile(
            "Administrator",
            "administrators: client authentication, EFS, secure e-mail, trust-list signing",
            (CLIENT_AUTH, EFS, EMAIL_PROTECTION, TRUST_LIST_SIGNING),
            key_type,
            365,
            42,
        ),
        TemplateProfile(
            "User",
            "staff: client authentication, EFS, secure e-mail",
            (CLIENT_AUTH, EFS, EMAIL_PROTECTION),
            key_type,
            365,
            42,
        ),
        TemplateProfile(
            "Smartcard User",
            "smart-card holders: smart-card logon, client authentication, secure e-mail",
            (SMARTCARD_LOGON, CLIENT_AUTH, EMAIL_PROTECTION),
            key_type,
            365,
            42,
        ),
    )
