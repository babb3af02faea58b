"""The values a policy decision is made of, and their human rendering."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from postseal.policy.facts import Direction

__all__ = ["DisclaimerAction", "Explanation", "PolicyDecision", "explain"]


@dataclass(frozen=True, slots=True)
class Explanation:
    """One decision, its value and the rule behind it (plus why, when not obvious)."""

    decision: str
    value: str
    rule: str
    reason: str = ""

    def __str__(self) -> str:
        line = f"{self.decision}={self.value} ← {self.rule}"
        return f"{line} ({self.reason})" if self.reason else line


class DisclaimerAction(enum.StrEnum):
    NONE = "none"
    APPEND = "append"  # into the body, before postseal signs
    WRAP = "wrap"  # a new MIME container around the untouched signed/encrypted message


@dataclass(frozen=True, slots=True)
class PolicyDecision:
    """What to do with one message. ``refuse`` is the complete user-facing reason when the
    message must not go on (several reasons are joined with ``"; "``)."""

    direction: Direction
    sign: bool = False
    encrypt: bool = False
    refuse: str | None = None
    strip_subject_tag: bool = False
    subject: str | None = None  # the new Subject when the tag is stripped
    remove_headers: tuple[str, ...] = ()
    verify: bool = False
    harvest_certificates: bool = False
    decrypt_for: tuple[str, ...] = ()
    disclaimer: DisclaimerAction = DisclaimerAction.NONE
    disclaimer_text: str = ""
    explanations: tuple[Explanation, ...] = field(default=())


def explain(decision: PolicyDecision) -> list[str]:
    """Human lines for ``postseal policy explain``: the outcome, then every reason."""
    if decision.refuse:
        lines = [f"{decision.direction} message: REFUSED — {decision.refuse}"]
    else:
        lines = [f"{decision.direction} message: accepted"]
    if decision.direction is Direction.OUTBOUND:
        lines.append(f"  sign: {'yes' if decision.sign else 'no'}")
        lines.append(f"  encrypt: {'yes' if decision.encrypt else 'no'}")
        if decision.strip_subject_tag:
            lines.append(f"  subject becomes: {decision.subject!r}")
        if decision.remove_headers:
            lines.append(f"  remove headers: {', '.join(decision.remove_headers)}")
        lines.append(f"  disclaimer: {decision.disclaimer}")
    else:
        lines.append(f"  verify signatures: {'yes' if decision.verify else 'no'}")
        lines.append(f"  harvest certificates: {'yes' if decision.harvest_certificates else 'no'}")
        lines.append(f"  decrypt for: {', '.join(decision.decrypt_for) or 'nobody'}")
    lines.append("because:")
    lines.extend(f"  {explanation}" for explanation in decision.explanations)
    return lines
