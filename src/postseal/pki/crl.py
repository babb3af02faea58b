"""Issuing CRLs (RFC 5280 §5) as the CA/Browser Forum S/MIME BR §4.9.7 profile wants them:
a CRL number, the authority key identifier, reason codes (never "unspecified": an entry
without a reason code means unspecified, §5.3.1), nextUpdate at most ten days out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509

from postseal.errors import InputError
from postseal.pki.keys import CaKey, signature_hash

__all__ = ["MAX_CRL_DAYS", "REASONS", "RevokedEntry", "build_crl", "parse_reason"]

MAX_CRL_DAYS = 10

REASONS: dict[str, x509.ReasonFlags] = {
    "unspecified": x509.ReasonFlags.unspecified,
    "keyCompromise": x509.ReasonFlags.key_compromise,
    "cACompromise": x509.ReasonFlags.ca_compromise,
    "affiliationChanged": x509.ReasonFlags.affiliation_changed,
    "superseded": x509.ReasonFlags.superseded,
    "cessationOfOperation": x509.ReasonFlags.cessation_of_operation,
    "certificateHold": x509.ReasonFlags.certificate_hold,
    "privilegeWithdrawn": x509.ReasonFlags.privilege_withdrawn,
}
# The S/MIME BR (§7.2.2) forbid certificateHold and aACompromise on subscriber CRLs.
SUBSCRIBER_REASONS = tuple(
    name for name in REASONS if name not in {"certificateHold", "cACompromise"}
)


def parse_reason(text: str) -> str:
    """Validate a revocation reason name (case-insensitive); returns the RFC 5280 spelling."""
    for name in SUBSCRIBER_REASONS:
        if name.lower() == text.strip().lower():
            return name
    raise InputError(
        f"unknown revocation reason {text!r}; choose one of {', '.join(SUBSCRIBER_REASONS)}"
    )


@dataclass(frozen=True, slots=True)
class RevokedEntry:
    serial: int
    revoked_at: datetime
    reason: str


def build_crl(
    issuer: x509.Certificate,
    issuer_key: CaKey,
    *,
    number: int,
    entries: Sequence[RevokedEntry],
    this_update: datetime,
    validity_days: int,
) -> x509.CertificateRevocationList:
    """Sign a complete CRL; ``number`` must grow with every CRL of this issuer."""
    if not 1 <= validity_days <= MAX_CRL_DAYS:
        raise InputError(f"a CRL must be valid for 1 to {MAX_CRL_DAYS} days")
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.subject)
        .last_update(this_update)
        .next_update(this_update + timedelta(days=validity_days))
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )
    for entry in sorted(entries, key=lambda item: item.serial):
        revoked = (
            x509.RevokedCertificateBuilder()
            .serial_number(entry.serial)
            .revocation_date(entry.revoked_at)
        )
        if entry.reason != "unspecified":
            revoked = revoked.add_extension(x509.CRLReason(REASONS[entry.reason]), critical=False)
        builder = builder.add_revoked_certificate(revoked.build())
    return builder.sign(issuer_key, signature_hash(issuer_key))
