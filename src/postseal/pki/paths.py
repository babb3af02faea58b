"""Certification path building and the issuer-side checks of a built path.

Building (RFC 4158, simplified): from the leaf, the candidate issuers of a certificate are
the pooled certificates whose subject equals its issuer name (RFC 5280 §6.1.3(a)(4)) and,
when both are present, whose subjectKeyIdentifier equals its authorityKeyIdentifier
(§4.2.1.1 — a filter only, never a substitute for the signature check). A candidate is
taken only if its key verifies the child's signature. The search is depth-first, never
puts the same subject name and key twice on one path (cross-certificate loops), stops at
a trust anchor, and is bounded by ``max_depth`` and by a total number of candidates
examined, so that a hostile bundle of look-alike CAs costs milliseconds, not hours.

Checking (:func:`issuer_findings`, RFC 5280 §6.1.3 to §6.1.4): validity of every certificate,
CA:TRUE and keyCertSign on every issuer, pathLenConstraint, and extendedKeyUsage chaining
on intermediates the way NSS applies it. :func:`dead_end_reason` words a partial path
that reached no anchor.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, TypeVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.oid import ExtendedKeyUsageOID

from postseal.pki.trust import label

__all__ = [
    "MAX_CANDIDATES",
    "DeadEnd",
    "Finding",
    "PathFinder",
    "dead_end_reason",
    "eku_name",
    "issuer_findings",
    "validity_finding",
]

MAX_CANDIDATES = 1000
"""Candidate issuers examined per validation; legitimate paths need a few dozen at most."""

Path = tuple[x509.Certificate, ...]
_E = TypeVar("_E", bound=x509.ExtensionType)
DeadEndKind = Literal[
    "bad-signature", "self-signed", "loop", "unknown-issuer", "unknown-root", "too-deep"
]
FindingKind = Literal["expired", "not-yet-valid", "not-ca", "path-len", "eku"]

_EKU_NAMES = {
    ExtendedKeyUsageOID.EMAIL_PROTECTION: "emailProtection",
    ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
    ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth",
    ExtendedKeyUsageOID.CODE_SIGNING: "codeSigning",
    ExtendedKeyUsageOID.TIME_STAMPING: "timeStamping",
    ExtendedKeyUsageOID.OCSP_SIGNING: "OCSPSigning",
    ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE: "anyExtendedKeyUsage",
}


def eku_name(oid: x509.ObjectIdentifier) -> str:
    """The RFC 5280 §4.2.1.12 name of a key purpose, or its dotted form."""
    return _EKU_NAMES.get(oid, oid.dotted_string)


@dataclass(frozen=True)
class DeadEnd:
    """A partial path (leaf first) that could not be extended to a trust anchor."""

    kind: DeadEndKind
    path: Path
    culprit: x509.Certificate | None = None  # the name-matching issuer whose key failed


@dataclass(frozen=True)
class Finding:
    """One reason why a complete path is not acceptable; ``index`` 0 is the leaf."""

    kind: FindingKind
    index: int
    reason: str


@dataclass(eq=False)
class _Node:
    cert: x509.Certificate
    anchor: bool
    subject: bytes = field(init=False)
    issuer: bytes = field(init=False)
    identity: tuple[bytes, bytes] = field(init=False)
    ski: bytes | None = field(init=False)
    aki: bytes | None = field(init=False)

    def __post_init__(self) -> None:
        self.subject = self.cert.subject.public_bytes()
        self.issuer = self.cert.issuer.public_bytes()
        spki = self.cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
        self.identity = (self.subject, spki)
        ski = _extension(self.cert, x509.SubjectKeyIdentifier)
        aki = _extension(self.cert, x509.AuthorityKeyIdentifier)
        self.ski = ski.digest if ski is not None else None
        self.aki = aki.key_identifier if aki is not None else None


class PathFinder:
    """Enumerates complete paths lazily; dead ends collect in :attr:`dead_ends`.

    Candidates are tried anchors first, then certificates valid at ``now``, then the
    newest, so the usual good path is the first one found.
    """

    def __init__(
        self,
        leaf: x509.Certificate,
        *,
        anchors: Sequence[x509.Certificate],
        pool: Sequence[x509.Certificate],
        now: datetime,
        max_depth: int,
        budget: int = MAX_CANDIDATES,
    ) -> None:
        anchor_set = set(anchors)
        seen: set[x509.Certificate] = set()
        self._by_subject: dict[bytes, list[_Node]] = {}
        for cert in (*anchors, *pool):
            if cert in seen:
                continue
            seen.add(cert)
            node = _Node(cert, anchor=cert in anchor_set)
            self._by_subject.setdefault(node.subject, []).append(node)
        for nodes in self._by_subject.values():
            nodes.sort(key=lambda n: _preference(n, now))
        self._leaf = _Node(leaf, anchor=leaf in anchor_set)
        self._max_depth = max_depth
        self._budget = self._limit = budget
        self._verified: dict[tuple[int, int], bool] = {}
        self.dead_ends: list[DeadEnd] = []
        self.exhausted = False

    @property
    def examined(self) -> int:
        """Work spent so far: candidates examined plus certificates of checked paths."""
        return self._limit - self._budget

    def spend(self, units: int) -> bool:
        """Charge ``units`` of work; ``False`` once the budget is gone."""
        self._budget -= units
        if self._budget < 0:
            self.exhausted = True
        return not self.exhausted

    def paths(self) -> Iterator[Path]:
        """Every path from the leaf to a trust anchor, leaf first, anchor last."""
        yield from self._extend([self._leaf], {self._leaf.identity})

    def _extend(self, path: list[_Node], on_path: set[tuple[bytes, bytes]]) -> Iterator[Path]:
        top = path[-1]
        if top.anchor:
            yield tuple(n.cert for n in path)
            return
        if len(path) >= self._max_depth:
            self._dead_end("too-deep", path)
            return
        extended = looped = False
        culprit: _Node | None = None
        for cand in self._by_subject.get(top.issuer, ()):
            if not self.spend(1):
                return
            if cand.identity in on_path:
                looped = looped or cand is not top
                continue
            if top.aki is not None and cand.ski is not None and top.aki != cand.ski:
                continue
            if not self._signed_by(top, cand):
                culprit = culprit or cand
                continue
            extended = True
            path.append(cand)
            on_path.add(cand.identity)
            yield from self._extend(path, on_path)
            on_path.discard(cand.identity)
            path.pop()
            if self.exhausted:
                return
        if extended:
            return
        if top.subject == top.issuer and self._signed_by(top, top):
            self._dead_end("self-signed", path)
        elif looped:
            self._dead_end("loop", path)
        elif culprit is not None:
            self._dead_end("bad-signature", path, culprit.cert)
        elif len(path) > 1:
            # A CA certificate whose issuer is nowhere: messages leave the root out
            # (RFC 8551 §2.3), so this is almost always a root postseal does not trust.
            self._dead_end("unknown-root", path)
        else:
            self._dead_end("unknown-issuer", path)

    def _dead_end(
        self, kind: DeadEndKind, path: list[_Node], culprit: x509.Certificate | None = None
    ) -> None:
        self.dead_ends.append(DeadEnd(kind, tuple(n.cert for n in path), culprit))

    def _signed_by(self, child: _Node, issuer: _Node) -> bool:
        key = (id(child), id(issuer))
        if key not in self._verified:
            try:
                child.cert.verify_directly_issued_by(issuer.cert)
            except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
                self._verified[key] = False
            else:
                self._verified[key] = True
        return self._verified[key]


def _preference(node: _Node, now: datetime) -> tuple[bool, bool, float]:
    cert = node.cert
    current = cert.not_valid_before_utc <= now <= cert.not_valid_after_utc
    return (not node.anchor, not current, -cert.not_valid_before_utc.timestamp())


def _extension(cert: x509.Certificate, kind: type[_E]) -> _E | None:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def validity_finding(cert: x509.Certificate, index: int, now: datetime) -> Finding | None:
    """RFC 5280 §4.1.2.5: both bounds are inclusive."""
    role = "the certificate" if index == 0 else "the CA certificate"
    if now < cert.not_valid_before_utc:
        day = cert.not_valid_before_utc.date().isoformat()
        return Finding("not-yet-valid", index, f"{role} {label(cert)} is not valid before {day}")
    if now > cert.not_valid_after_utc:
        day = cert.not_valid_after_utc.date().isoformat()
        return Finding("expired", index, f"{role} {label(cert)} expired on {day}")
    return None


def issuer_findings(
    path: Path, now: datetime, purpose: x509.ObjectIdentifier | None
) -> list[Finding]:
    """Problems of every certificate above the leaf (RFC 5280 §6.1.4(k) to (n)).

    ``purpose`` is the extendedKeyUsage the leaf is used for (``None``: any); an
    intermediate that lists key purposes must include it or anyExtendedKeyUsage. The
    anchor's own extendedKeyUsage is not checked: trust in it is the admin's decision.
    """
    findings: list[Finding] = []
    below = 0  # non-self-issued intermediates under the current CA (§6.1.4(l))
    for index in range(1, len(path)):
        cert, child = path[index], path[index - 1]
        who = label(cert)
        found = validity_finding(cert, index, now)
        if found:
            findings.append(found)
        constraints = _extension(cert, x509.BasicConstraints)
        usage = _extension(cert, x509.KeyUsage)
        if constraints is None or not constraints.ca:
            findings.append(
                Finding(
                    "not-ca",
                    index,
                    f"{who} issued {label(child)} but is not a CA certificate "
                    "(basicConstraints CA:FALSE or absent)",
                )
            )
        elif usage is not None and not usage.key_cert_sign:
            findings.append(
                Finding(
                    "not-ca",
                    index,
                    f"{who} issued {label(child)} but its keyUsage lacks keyCertSign",
                )
            )
        elif constraints.path_length is not None and below > constraints.path_length:
            findings.append(
                Finding(
                    "path-len",
                    index,
                    f"{who} allows {constraints.path_length} intermediate CA(s) below it "
                    f"(pathLenConstraint) but the chain has {below}",
                )
            )
        if index < len(path) - 1 and purpose is not None:
            ekus = _extension(cert, x509.ExtendedKeyUsage)
            allowed = set(ekus) if ekus is not None else {purpose}
            if not allowed & {purpose, ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE}:
                names = ", ".join(sorted(eku_name(o) for o in allowed))
                findings.append(
                    Finding(
                        "eku",
                        index,
                        f"the CA {who} is limited to {names} and may not vouch for "
                        f"{eku_name(purpose)}",
                    )
                )
        if cert.subject != cert.issuer:
            below += 1
    return findings


def dead_end_reason(end: DeadEnd, leaf: x509.Certificate) -> str:
    """One sentence, with the next step, on why ``end`` did not reach a trust anchor."""
    top = end.path[-1]
    issuer = top.issuer.rfc4514_string()
    of = "" if top == leaf else f" in the chain of {label(leaf)}"
    if end.kind == "bad-signature":
        return (
            f"the signature on {label(top)}{of} does not verify with the key of its issuer "
            f"{issuer}: the certificate was altered or the issuer was re-keyed — "
            "do not trust it; get the certificate again from its owner"
        )
    if end.kind == "self-signed":
        if top == leaf:
            return (
                f"{label(leaf)} is self-signed and not trusted — if you trust it, run "
                "`postseal trust add-root FILE`"
            )
        return (
            f"{label(leaf)} is signed by root {label(top)}, which is not trusted — "
            "if you trust it, run `postseal trust add-root FILE`"
        )
    if end.kind == "loop":
        return (
            f"the chain of {label(leaf)} goes round in a loop at {issuer} without reaching "
            "a trusted root — import the root with `postseal trust add-root FILE`"
        )
    if end.kind == "unknown-root":
        return (
            f"{label(leaf)} is issued under the root {issuer}, which is not trusted — "
            "if you trust it, run `postseal trust add-root FILE` with that root's certificate"
        )
    if end.kind == "unknown-issuer":
        return (
            f"the issuer {issuer} of {label(top)} is unknown — add it with "
            "`postseal trust add-intermediate FILE` (or `postseal trust add-root FILE` "
            "if it is a root you trust)"
        )
    return (
        f"no trusted root found within {len(end.path)} certificates above {label(leaf)} "
        "— import the root with `postseal trust add-root FILE`"
    )
