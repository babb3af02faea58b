"""Verification outcomes as frozen values (a bad signature is a result, not an exception).

:class:`ChainValidator` is the one outward dependency of verification: the caller passes
something that judges the signer's certificate path at a given time. Its result,
:class:`ChainOutcome`, mirrors ``postseal.pki.validation.ValidationResult`` field by field
(``trusted`` ↔ ``valid``; ``status`` is the StrEnum's lower-case-hyphen value), so an
adapter is a one-liner.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from postseal.smime.algorithms import Capability

__all__ = ["ChainOutcome", "ChainValidator", "SignerResult", "VerifyResult"]


@dataclass(frozen=True)
class ChainOutcome:
    """How a certificate path was judged.

    ``status`` is one of ``valid``, ``expired``, ``not-yet-valid``, ``revoked``,
    ``untrusted-root``, ``missing-intermediate``, ``revocation-unknown``, ``wrong-usage``,
    ``bad-signature`` or ``no-certificate``; ``reason`` is a human sentence.
    """

    trusted: bool
    status: str
    reason: str
    revoked_at: datetime | None = None
    revocation_reason: str | None = None


class ChainValidator(Protocol):
    """Judges ``leaf`` with the certificates the message carried, at time ``at``."""

    def __call__(
        self, leaf: x509.Certificate, carried: Sequence[x509.Certificate], at: datetime
    ) -> ChainOutcome: ...


NO_CERTIFICATE = ChainOutcome(
    trusted=False,
    status="no-certificate",
    reason="the signer's certificate is neither in the message nor among the known ones",
)


@dataclass(frozen=True)
class SignerResult:
    """Every check made on one SignerInfo (RFC 5652 §5.6, RFC 8551 §3.5, RFC 8550 §3)."""

    certificate: x509.Certificate | None
    addresses: tuple[str, ...]
    content_intact: bool
    signature_valid: bool
    signature_problem: str | None
    chain: ChainOutcome
    signing_time: datetime | None
    digest_algorithm: str
    signature_algorithm: str
    algorithm_acceptable: bool
    from_matches: bool | None
    from_addresses: tuple[str, ...] = ()
    capabilities: tuple[Capability, ...] = ()
    top_issuer: str | None = None

    @property
    def ok(self) -> bool:
        """All checks hold; an unknown From (None) is not a failure."""
        return (
            self.content_intact
            and self.signature_valid
            and self.chain.trusted
            and self.algorithm_acceptable
            and self.from_matches is not False
        )

    @property
    def name(self) -> str:
        """The signer's first address, else its certificate subject, for messages."""
        if self.addresses:
            return self.addresses[0]
        if self.certificate is not None:
            return self.certificate.subject.rfc4514_string()
        return "unknown signer"

    def problems(self) -> list[str]:
        """One human line per failed check, each saying what to do where possible."""
        lines: list[str] = []
        if not self.content_intact:
            lines.append("content altered: the message digest does not match")
        if not self.signature_valid and self.content_intact:
            lines.append(f"signature by {self.name} does not verify: {self.signature_problem}")
        if not self.chain.trusted:
            lines.append(self._chain_line())
        if not self.algorithm_acceptable:
            lines.append(
                f"algorithm not acceptable: {self.digest_algorithm} with "
                f"{self.signature_algorithm} is too weak to rely on"
            )
        if self.from_matches is False:
            lines.append(
                f"signer {self.name} does not match From: {', '.join(self.from_addresses)}"
            )
        return lines

    def _chain_line(self) -> str:
        chain = self.chain
        if chain.status == "revoked":
            when = f" on {chain.revoked_at:%Y-%m-%d}" if chain.revoked_at else ""
            why = f" ({chain.revocation_reason})" if chain.revocation_reason else ""
            return f"signer {self.name} revoked{when}{why}"
        if chain.status == "untrusted-root":
            root = self.top_issuer or "of the signer's chain"
            return f"untrusted root {root} — run `postseal trust add-root FILE`"
        return f"signer {self.name}: {chain.reason}"

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-ready values (``--json``)."""
        cert = self.certificate
        return {
            "ok": self.ok,
            "signer": self.name,
            "addresses": list(self.addresses),
            "content_intact": self.content_intact,
            "signature_valid": self.signature_valid,
            "signature_problem": self.signature_problem,
            "chain": {
                "trusted": self.chain.trusted,
                "status": self.chain.status,
                "reason": self.chain.reason,
                "revoked_at": _iso(self.chain.revoked_at),
                "revocation_reason": self.chain.revocation_reason,
            },
            "signing_time": _iso(self.signing_time),
            "digest_algorithm": self.digest_algorithm,
            "signature_algorithm": self.signature_algorithm,
            "algorithm_acceptable": self.algorithm_acceptable,
            "from_matches": self.from_matches,
            "from_addresses": list(self.from_addresses),
            "capabilities": [c.name for c in self.capabilities],
            "certificate_sha256": (
                hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest() if cert else None
            ),
            "subject": cert.subject.rfc4514_string() if cert else None,
            "problems": self.problems(),
        }


@dataclass(frozen=True)
class VerifyResult:
    """The outcome for a whole signed message; ``content`` is the signed entity, byte-exact."""

    content: bytes
    detached: bool
    signers: tuple[SignerResult, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        """True only when there is a signer and every check of every signer holds."""
        return bool(self.signers) and all(s.ok for s in self.signers)

    def summary(self) -> list[str]:
        """Human lines: one per good signer, one per problem."""
        if not self.signers:
            return ["no signature: the message carries no signer"]
        lines: list[str] = []
        for signer in self.signers:
            if signer.ok:
                when = signer.signing_time
                signed = f", signed {when:%Y-%m-%d %H:%M} UTC" if when is not None else ""
                lines.append(f"good signature by {signer.name}{signed}")
            else:
                lines.extend(signer.problems())
        return lines

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-ready values (``--json``)."""
        return {
            "ok": self.ok,
            "detached": self.detached,
            "summary": self.summary(),
            "signers": [s.to_json() for s in self.signers],
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
