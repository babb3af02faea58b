"""Mail policy rules kept in the database, and the version that tells readers they changed."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

__all__ = ["PolicyRuleRecord", "PolicyRuleRepository", "PolicyScope"]


class PolicyScope(enum.StrEnum):
    """The level a rule applies at (ADR 0009): the most specific one wins."""

    ORGANISATION = "organisation"
    DOMAIN = "domain"
    GROUP = "group"
    USER = "user"


@dataclass(frozen=True, slots=True)
class PolicyRuleRecord:
    """One setting at one scope: ``policy.user."bob@example.org".sign = "always"``.

    ``name`` is canonical (a lower-case A-label domain, a group name, a lower-case user
    address) and ``""`` for the organisation; ``value`` is the setting as JSON text, in
    the shape the ``[policy]`` table of postseal.toml holds it. The store does not judge
    keys or values: the policy loader does, before a rule is written and after it is read.
    """

    scope: PolicyScope
    name: str
    key: str
    value: str
    changed_by: str
    changed_at: datetime


class PolicyRuleRepository(Protocol):
    async def list(self) -> Sequence[PolicyRuleRecord]:
        """Every rule, by scope (organisation, domain, group, user), name, then key."""
        ...

    async def get(self, scope: PolicyScope, name: str, key: str) -> PolicyRuleRecord | None: ...

    async def put(self, rule: PolicyRuleRecord) -> None:
        """Insert, or replace the rule with the same scope, name and key. ValueError when
        ``name`` is empty for a scope other than the organisation, or set for it."""
        ...

    async def remove(self, scope: PolicyScope, name: str, key: str) -> bool:
        """Delete one rule; whether there was one."""
        ...

    async def version(self) -> int:
        """The policy version: 0 before the first change, then raised by every
        :meth:`bump_version`. Read it *before* :meth:`list`: a reader that sees a version
        sees at least the rules written with it."""
        ...

    async def bump_version(self) -> int:
        """Raise the version by one in this transaction and return the new value. Atomic:
        two concurrent changes never end on the same version."""
        ...
