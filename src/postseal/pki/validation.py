"""Certificate path validation with one clear reason (RFC 5280 §6, simplified).

:func:`validate` builds every path from a leaf to a trust anchor (:mod:`.paths`), checks
each one — validity at ``ctx.now`` (§4.1.2.5), issuer constraints (§6.1.4), the leaf's
usage (§4.2.1.3, §4.2.1.12), revocation from local CRLs (§6.3, :mod:`.revocation`) — and
answers VALID as soon as one path passes. Outcomes are values, never exceptions.

When no path passes, the single reason reported is the first that applies, in this order:

1. the leaf's own dates: EXPIRED, NOT_YET_VALID;
2. the leaf's usage: WRONG_USAGE (wrong extendedKeyUsage, keyUsage or key type; a trust
   anchor used as an end entity for anything but :attr:`Usage.ANY`);
3. problems of a path that reaches a trust anchor (it shows which chain the admin is
   dealing with, so it beats any dead end): REVOKED (nearest the leaf first), then an
   issuer's dates (EXPIRED, NOT_YET_VALID), then an issuer's constraints (WRONG_USAGE:
   not a CA, no keyCertSign, pathLenConstraint, extendedKeyUsage chaining), then
   REVOCATION_UNKNOWN;
4. dead ends, when no path reaches an anchor: BAD_SIGNATURE (an issuer with the right
   name does not verify the signature), UNTRUSTED_ROOT (the chain ends at a self-signed
   certificate that is not trusted, or loops), MISSING_INTERMEDIATE (an issuer is
   unknown), UNTRUSTED_ROOT (no anchor within ``max_depth`` or the work bound).

Within one rank the longer partial path wins, then the first found.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import dsa, ed448, ed25519, rsa, x448, x25519
from cryptography.x509.oid import ExtendedKeyUsageOID

from postseal.pki.paths import DeadEnd, PathFinder, dead_end_reason, eku_name, issuer_findings
from postseal.pki.paths import validity_finding as _validity
from postseal.pki.revocation import CrlIndex
from postseal.pki.trust import label

__all__ = ["Usage", "ValidationContext", "ValidationResult", "ValidationStatus", "validate"]


class Usage(StrEnum):
    """What the leaf is about to be used for."""

    SMIME_SIGN = "smime-sign"
    SMIME_ENCRYPT = "smime-encrypt"
    TLS_SERVER = "tls-server"
    ANY = "any"


class ValidationStatus(StrEnum):
    VALID = "valid"
    EXPIRED = "expired"
    NOT_YET_VALID = "not-yet-valid"
    REVOKED = "revoked"
    UNTRUSTED_ROOT = "untrusted-root"
    MISSING_INTERMEDIATE = "missing-intermediate"
    REVOCATION_UNKNOWN = "revocation-unknown"
    WRONG_USAGE = "wrong-usage"
    BAD_SIGNATURE = "bad-signature"


@dataclass(frozen=True)
class ValidationContext:
    """Everything a validation depends on; ``now`` must be timezone-aware."""

    anchors: Sequence[x509.Certificate]
    intermediates: Sequence[x509.Certificate] = ()
    crls: Sequence[x509.CertificateRevocationList] = ()
    _: KW_ONLY
    now: datetime
    fail_open: bool = False
    check_revocation: bool = True
    max_depth: int = 8

    def __post_init__(self) -> None:
        if self.now.tzinfo is None or self.now.utcoffset() is None:
            raise ValueError("ValidationContext.now must be timezone-aware (UTC)")
        if self.max_depth < 1:
            raise ValueError("ValidationContext.max_depth must be at least 1")
        object.__setattr__(self, "now", self.now.astimezone(UTC))
        object.__setattr__(self, "anchors", tuple(self.anchors))
        object.__setattr__(self, "intermediates", tuple(self.intermediates))
        object.__setattr__(self, "crls", tuple(self.crls))


@dataclass(frozen=True)
class ValidationResult:
    """The verdict on one leaf: a status, one sentence, and the path it is about."""

    status: ValidationStatus
    reason: str
    path: tuple[x509.Certificate, ...]
    revoked_at: datetime | None = None
    revocation_reason: str | None = None
    warnings: tuple[str, ...] = ()

    @property
    def valid(self) -> bool:
        return self.status is ValidationStatus.VALID


_PURPOSE = {
    Usage.SMIME_SIGN: ExtendedKeyUsageOID.EMAIL_PROTECTION,
    Usage.SMIME_ENCRYPT: ExtendedKeyUsageOID.EMAIL_PROTECTION,
    Usage.TLS_SERVER: ExtendedKeyUsageOID.SERVER_AUTH,
}
_DOING = {
    Usage.SMIME_SIGN: "signing mail",
    Usage.SMIME_ENCRYPT: "encrypting mail",
    Usage.TLS_SERVER: "a TLS server",
    Usage.ANY: "any use",
}
_S = ValidationStatus
_FINDING = {
    "expired": (_S.EXPIRED, 4),
    "not-yet-valid": (_S.NOT_YET_VALID, 4),
    "not-ca": (_S.WRONG_USAGE, 5),
    "path-len": (_S.WRONG_USAGE, 5),
    "eku": (_S.WRONG_USAGE, 5),
}
_DEAD_END = {
    "bad-signature": (_S.BAD_SIGNATURE, 10),
    "self-signed": (_S.UNTRUSTED_ROOT, 11),
    "loop": (_S.UNTRUSTED_ROOT, 12),
    "unknown-issuer": (_S.MISSING_INTERMEDIATE, 13),
    "unknown-root": (_S.UNTRUSTED_ROOT, 13),
    "too-deep": (_S.UNTRUSTED_ROOT, 14),
}
_ASK_OWNER = "ask its owner for a new certificate"


def validate(
    leaf: x509.Certificate,
    ctx: ValidationContext,
    *,
    usage: Usage,
    carried: Sequence[x509.Certificate] = (),
) -> ValidationResult:
    """Validate ``leaf`` for ``usage`` at ``ctx.now``; see the module docstring for order.

    ``carried`` are certificates that came with the message (untrusted, like
    ``ctx.intermediates``: they can only help build a path to an anchor).
    """
    now = ctx.now
    if leaf in ctx.anchors:
        return _anchor_as_leaf(leaf, now, usage)
    finder = PathFinder(
        leaf,
        anchors=ctx.anchors,
        pool=(*ctx.intermediates, *carried),
        now=now,
        max_depth=ctx.max_depth,
    )
    crls = CrlIndex(ctx.crls, now) if ctx.check_revocation else None
    purpose = _PURPOSE.get(usage)
    clean = lenient = failed = None
    failed_rank = (99, 0)
    for order, path in enumerate(finder.paths()):
        result, rank = _check_path(path, ctx, purpose, crls)
        if result.valid and not result.warnings:
            clean = result
            break
        if result.valid:
            lenient = lenient or result
        elif (rank, order) < failed_rank:
            failed, failed_rank = result, (rank, order)
        if not finder.spend(len(path)):
            break
    found = clean or lenient or failed
    head = found.path if found else _deepest(finder.dead_ends, leaf)
    early = _leaf_problem(leaf, now, usage, head)
    if early is not None:
        return early
    result = found or _dead_end_result(finder, leaf)
    if finder.exhausted:
        note = (
            f"stopped after examining {finder.examined} candidate issuers; "
            "a path that was not tried may exist"
        )
        result = replace(result, warnings=(*result.warnings, note))
    return result


def _check_path(
    path: tuple[x509.Certificate, ...],
    ctx: ValidationContext,
    purpose: x509.ObjectIdentifier | None,
    crls: CrlIndex | None,
) -> tuple[ValidationResult, int]:
    """The best reason ``path`` fails, with its rank, or VALID (possibly with warnings)."""
    candidates: list[tuple[int, int, ValidationResult]] = []
    for found in issuer_findings(path, ctx.now, purpose):
        status, rank = _FINDING[found.kind]
        if found.kind in ("expired", "not-yet-valid"):
            renew = "root" if found.index == len(path) - 1 else "intermediate"
            reason = (
                f"{found.reason} — import the renewed one with `postseal trust add-{renew} FILE`"
            )
        else:
            reason = f"{found.reason} — its operator must reissue the chain"
        candidates.append((rank, found.index, ValidationResult(status, reason, path)))
    warnings: list[str] = []
    pairs = range(len(path) - 1) if crls is not None else range(0)
    for index in pairs:
        assert crls is not None
        cert, issuer = path[index], path[index + 1]
        state = crls.status(cert, issuer)
        if state.state == "revoked":
            assert state.revoked_at is not None
            day = state.revoked_at.date().isoformat()
            who = label(cert) if index == 0 else f"the CA certificate {label(cert)}"
            reason = f"{who} was revoked on {day} ({state.reason})"
            if index:
                reason += f", so {label(path[0])} cannot be trusted"
            reason += f" — {_ASK_OWNER}"
            candidates.append(
                (
                    3,
                    index,
                    ValidationResult(_S.REVOKED, reason, path, state.revoked_at, state.reason),
                )
            )
        elif state.state == "unknown":
            warnings.append(
                f"no current CRL for {label(issuer)} ({state.why_unknown}), so the revocation "
                f"status of {label(cert)} is unknown — fetch it and run "
                "`postseal crl import FILE`"
            )
    if candidates:
        rank, _, result = min(candidates, key=lambda c: (c[0], c[1]))
        return result, rank
    if warnings and not ctx.fail_open:
        return ValidationResult(_S.REVOCATION_UNKNOWN, warnings[0], path), 6
    reason = f"{label(path[0])} is trusted through {label(path[-1])}"
    return ValidationResult(_S.VALID, reason, path, warnings=tuple(warnings)), 0


def _anchor_as_leaf(leaf: x509.Certificate, now: datetime, usage: Usage) -> ValidationResult:
    dates = _leaf_problem(leaf, now, Usage.ANY, (leaf,))
    if dates is not None:
        return dates
    if usage is not Usage.ANY:
        return ValidationResult(
            _S.WRONG_USAGE,
            f"{label(leaf)} is a trusted root CA, not a personal certificate, so it "
            f"cannot be used for {_DOING[usage]}",
            (leaf,),
        )
    return ValidationResult(_S.VALID, f"{label(leaf)} is itself a trusted root", (leaf,))


def _leaf_problem(
    leaf: x509.Certificate, now: datetime, usage: Usage, path: tuple[x509.Certificate, ...]
) -> ValidationResult | None:
    """Ranks 1 and 2: the leaf's own dates, then its usage."""
    dates = _validity(leaf, 0, now)
    if dates is not None:
        status = _S.EXPIRED if dates.kind == "expired" else _S.NOT_YET_VALID
        return ValidationResult(status, f"{dates.reason} — {_ASK_OWNER}", path)
    problem = _usage_problem(leaf, usage)
    if problem is not None:
        fix = (
            "issue a TLS server certificate"
            if usage is Usage.TLS_SERVER
            else "ask its owner for an S/MIME certificate made for it"
        )
        return ValidationResult(
            _S.WRONG_USAGE,
            f"{label(leaf)} may not be used for {_DOING[usage]}: {problem} — {fix}",
            path,
        )
    return None


def _usage_problem(cert: x509.Certificate, usage: Usage) -> str | None:
    """RFC 5280 §4.2.1.3 keyUsage and §4.2.1.12 extendedKeyUsage of an end entity.

    anyExtendedKeyUsage does not stand in for a named purpose in a leaf (RFC 5280
    §4.2.1.12 allows refusing it; the CA/B Forum S/MIME rules forbid it).
    """
    purpose = _PURPOSE.get(usage)
    if purpose is None:
        return None
    try:
        ekus = list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        ekus = None
    if ekus is not None and purpose not in ekus:
        allowed = ", ".join(eku_name(o) for o in ekus) or "nothing"
        return f"its extendedKeyUsage allows {allowed}, not {eku_name(purpose)}"
    key = cert.public_key()
    if usage is Usage.SMIME_SIGN and isinstance(key, x25519.X25519PublicKey | x448.X448PublicKey):
        return "its key is a key-agreement key that cannot sign"
    if usage is Usage.SMIME_ENCRYPT and isinstance(
        key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey | dsa.DSAPublicKey
    ):
        return "its key is a signature-only key that cannot receive encrypted mail"
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None
    if usage is Usage.SMIME_SIGN and not (ku.digital_signature or ku.content_commitment):
        return "its keyUsage has neither digitalSignature nor nonRepudiation"
    if usage is Usage.SMIME_ENCRYPT:
        if isinstance(key, rsa.RSAPublicKey) and not ku.key_encipherment:
            return "its keyUsage lacks keyEncipherment"
        if not isinstance(key, rsa.RSAPublicKey) and not ku.key_agreement:
            return "its keyUsage lacks keyAgreement"
    if usage is Usage.TLS_SERVER and not (
        ku.digital_signature or ku.key_encipherment or ku.key_agreement
    ):
        return "its keyUsage allows neither digitalSignature nor key exchange"
    return None


def _deepest(dead_ends: Sequence[DeadEnd], leaf: x509.Certificate) -> tuple[x509.Certificate, ...]:
    return max((d.path for d in dead_ends), key=len, default=(leaf,))


def _dead_end_result(finder: PathFinder, leaf: x509.Certificate) -> ValidationResult:
    """Rank 4: no path reached an anchor; explain the most useful dead end."""
    if not finder.dead_ends:
        return ValidationResult(
            _S.UNTRUSTED_ROOT,
            f"gave up looking for a trusted path for {label(leaf)}: the certificates "
            "offered hold too many look-alike issuers — import the right intermediate "
            "with `postseal trust add-intermediate FILE`",
            (leaf,),
        )
    end = min(
        enumerate(finder.dead_ends),
        key=lambda e: (_DEAD_END[e[1].kind][1], -len(e[1].path), e[0]),
    )[1]
    reason = dead_end_reason(end, leaf)
    return ValidationResult(_DEAD_END[end.kind][0], reason, end.path)
