"""Revocation status from local CRLs (RFC 5280 §6.3, simplified; no delta CRLs, no OCSP).

A CRL speaks for a certificate when its issuer name equals the certificate's issuer name,
its signature verifies with the key of the issuer on the path, that issuer may sign CRLs
(keyUsage cRLSign when keyUsage is present, §4.2.1.3), it has no critical extension we
cannot process (§5.2, §5.3), and its issuingDistributionPoint scope covers the
certificate (§5.2.5). It is *current* when thisUpdate ≤ now < nextUpdate; a CRL without
nextUpdate is treated as stale.

"Not revoked" needs a current, complete CRL. "Revoked" needs only an authentic CRL that is
not dated in the future, even a stale one: a revocation is never withdrawn, except for
certificateHold, which therefore counts only from a current CRL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.x509.oid import CRLEntryExtensionOID, ExtensionOID

__all__ = ["CrlIndex", "RevocationStatus"]

_KNOWN_CRL_EXTENSIONS = frozenset(
    {
        ExtensionOID.CRL_NUMBER,
        ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
        ExtensionOID.ISSUER_ALTERNATIVE_NAME,
        ExtensionOID.ISSUING_DISTRIBUTION_POINT,
        ExtensionOID.AUTHORITY_INFORMATION_ACCESS,
        ExtensionOID.FRESHEST_CRL,
    }
)
_KNOWN_ENTRY_EXTENSIONS = frozenset(
    {CRLEntryExtensionOID.CRL_REASON, CRLEntryExtensionOID.INVALIDITY_DATE}
)
_SHA256 = SHA256()
_CRL_SIGNING_KEYS = (
    rsa.RSAPublicKey,
    ec.EllipticCurvePublicKey,
    ed25519.Ed25519PublicKey,
    ed448.Ed448PublicKey,
    dsa.DSAPublicKey,
)


@dataclass(frozen=True)
class RevocationStatus:
    """``good``, ``revoked`` (with date and RFC 5280 §5.3.1 reason) or ``unknown`` (why)."""

    state: Literal["good", "revoked", "unknown"]
    revoked_at: datetime | None = None
    reason: str | None = None
    why_unknown: str = ""


@dataclass(frozen=True)
class _Crl:
    crl: x509.CertificateRevocationList
    problem: str  # empty when usable
    scope: x509.IssuingDistributionPoint | None


class CrlIndex:
    """The CRLs of one validation, indexed by issuer name, with memoised signature checks."""

    def __init__(self, crls: Sequence[x509.CertificateRevocationList], now: datetime) -> None:
        self._now = now
        self._by_issuer: dict[bytes, list[_Crl]] = {}
        for crl in crls:
            problem, scope = _inspect(crl)
            self._by_issuer.setdefault(crl.issuer.public_bytes(), []).append(
                _Crl(crl, problem, scope)
            )
        self._signature: dict[tuple[int, bytes], bool] = {}
        self._memo: dict[tuple[x509.Certificate, x509.Certificate], RevocationStatus] = {}

    def status(self, cert: x509.Certificate, issuer: x509.Certificate) -> RevocationStatus:
        """The revocation status of ``cert`` according to CRLs signed by ``issuer``'s key."""
        key = (cert, issuer)
        if key not in self._memo:
            self._memo[key] = self._status(cert, issuer)
        return self._memo[key]

    def _status(self, cert: x509.Certificate, issuer: x509.Certificate) -> RevocationStatus:
        candidates = self._by_issuer.get(cert.issuer.public_bytes(), [])
        if not candidates:
            return RevocationStatus("unknown", why_unknown="none has been imported")
        if not _may_sign_crls(issuer):
            return RevocationStatus("unknown", why_unknown="its certificate does not allow cRLSign")
        why = "a CRL names it as issuer but is not signed by its key"
        complete_and_current = False
        for entry in candidates:
            if not self._authentic(entry.crl, issuer):
                continue
            if entry.problem:
                why = entry.problem
                continue
            applies, complete = _scope(entry.scope, cert)
            if not applies:
                why = "its CRLs do not cover this certificate (issuingDistributionPoint)"
                continue
            if entry.crl.last_update_utc > self._now:
                why = f"its CRL starts on {entry.crl.last_update_utc.date().isoformat()}"
                continue
            current = self._current(entry.crl)
            revoked = _listed(entry.crl, cert, current=current)
            if revoked is not None:
                return revoked
            if current:
                complete_and_current = complete_and_current or complete
            else:
                why = _stale(entry.crl)
        if complete_and_current:
            return RevocationStatus("good")
        return RevocationStatus("unknown", why_unknown=why)

    def _current(self, crl: x509.CertificateRevocationList) -> bool:
        next_update = crl.next_update_utc
        return next_update is not None and crl.last_update_utc <= self._now < next_update

    def _authentic(self, crl: x509.CertificateRevocationList, issuer: x509.Certificate) -> bool:
        key = (id(crl), issuer.fingerprint(_SHA256))
        if key not in self._signature:
            public_key = issuer.public_key()
            valid = False
            if isinstance(public_key, _CRL_SIGNING_KEYS):
                try:
                    valid = crl.is_signature_valid(public_key)
                except (TypeError, ValueError, UnsupportedAlgorithm):
                    valid = False
            self._signature[key] = valid
        return self._signature[key]


def _may_sign_crls(issuer: x509.Certificate) -> bool:
    try:
        return issuer.extensions.get_extension_for_class(x509.KeyUsage).value.crl_sign
    except x509.ExtensionNotFound:
        return True


def _stale(crl: x509.CertificateRevocationList) -> str:
    if crl.next_update_utc is None:
        return "its CRL has no nextUpdate, so it cannot be known to be current"
    return f"its newest CRL expired on {crl.next_update_utc.date().isoformat()}"


def _inspect(
    crl: x509.CertificateRevocationList,
) -> tuple[str, x509.IssuingDistributionPoint | None]:
    """Why ``crl`` cannot be used at all (empty if it can), and its scope."""
    try:
        extensions = list(crl.extensions)
        entries = list(crl)
        entry_extensions = [ext for entry in entries for ext in entry.extensions]
    except ValueError:
        return "its CRL has a malformed extension", None
    scope: x509.IssuingDistributionPoint | None = None
    for ext in extensions:
        if ext.oid == ExtensionOID.DELTA_CRL_INDICATOR:
            return "only a delta CRL is known (delta CRLs are not supported)", None
        if ext.critical and ext.oid not in _KNOWN_CRL_EXTENSIONS:
            return f"its CRL has an unsupported critical extension {ext.oid.dotted_string}", None
        if isinstance(ext.value, x509.IssuingDistributionPoint):
            scope = ext.value
    for ext in entry_extensions:
        if ext.critical and ext.oid not in _KNOWN_ENTRY_EXTENSIONS:
            return (
                f"its CRL has an entry with an unsupported critical extension "
                f"{ext.oid.dotted_string}",
                None,
            )
    if scope is not None and (scope.indirect_crl or scope.only_contains_attribute_certs):
        return "its CRL is an indirect or attribute-certificate CRL (not supported)", None
    return "", scope


def _scope(idp: x509.IssuingDistributionPoint | None, cert: x509.Certificate) -> tuple[bool, bool]:
    """``(applies, complete)`` of a CRL with issuingDistributionPoint ``idp`` (§5.2.5)."""
    if idp is None:
        return True, True
    try:
        is_ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if (idp.only_contains_user_certs and is_ca) or (idp.only_contains_ca_certs and not is_ca):
        return False, False
    if idp.full_name:
        try:
            points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
        except x509.ExtensionNotFound:
            points = None
        names = {name for point in points or () for name in point.full_name or ()}
        if names and not names & set(idp.full_name):
            return False, False
    return True, idp.only_some_reasons is None


def _listed(
    crl: x509.CertificateRevocationList, cert: x509.Certificate, *, current: bool
) -> RevocationStatus | None:
    entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
    if entry is None:
        return None
    try:
        reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
    except x509.ExtensionNotFound:
        reason = x509.ReasonFlags.unspecified
    if reason is x509.ReasonFlags.remove_from_crl:
        return None
    if reason is x509.ReasonFlags.certificate_hold and not current:
        return None
    return RevocationStatus("revoked", revoked_at=entry.revocation_date_utc, reason=reason.value)
