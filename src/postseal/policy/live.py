"""The rules in force in a running server: postseal.toml's, with the database's merged
over them, swapped whole when the database changes (ADR 0019).

:class:`LiveRules` is a :class:`~postseal.policy.rules.RuleSource`: the intake and the
delivery hold one and call :meth:`LiveRules.resolve` per message, so a swap reaches them
without a restart. A swap replaces one reference to immutable values, so a reader sees the
old rules or the new ones, never a mixture. Polling the database is the services' job;
nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from postseal.policy.loader import load_rules
from postseal.policy.merge import merge_rules
from postseal.policy.rules import Effective, PolicyRules

__all__ = ["DATABASE", "TOML", "LiveRules"]

#: The origins :class:`LiveRules` names before a rule's key path.
TOML = "postseal.toml"
DATABASE = "database"


@dataclass(frozen=True, slots=True)
class _State:
    current: PolicyRules
    database: PolicyRules
    version: int | None


class LiveRules:
    """Starts as postseal.toml's rules alone (``version`` None: the database not read yet)."""

    def __init__(self, toml: PolicyRules) -> None:
        self._toml = toml
        self._state = _State(toml, PolicyRules(), None)

    @classmethod
    def from_toml(cls, table: Mapping[str, Any]) -> LiveRules:
        """From postseal.toml's ``[policy]`` table; ConfigError naming the key path."""
        return cls(load_rules(table, origin=TOML))

    @property
    def toml(self) -> PolicyRules:
        """The rules of postseal.toml, fixed for the life of the process."""
        return self._toml

    @property
    def database(self) -> PolicyRules:
        """The database's rules as last read (none before the first read)."""
        return self._state.database

    @property
    def current(self) -> PolicyRules:
        """The merged rules in force now."""
        return self._state.current

    @property
    def version(self) -> int | None:
        """The database's policy version the rules in force were read at."""
        return self._state.version

    def resolve(self, address: str, groups: Iterable[str] = ()) -> Effective:
        """:meth:`PolicyRules.resolve` on the rules in force."""
        return self._state.current.resolve(address, groups)

    def update(self, database: PolicyRules, *, version: int) -> None:
        """Put ``database`` (read at ``version``) over postseal.toml's rules."""
        self._state = _State(merge_rules(self._toml, database), database, version)
