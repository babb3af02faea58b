"""Two sources of rules made one: the database's rules over postseal.toml's (ADR 0019).

At the same level, name and key the overriding rule wins; everything else is kept from
both, and the precedence between levels (user > group > domain > organisation) is
untouched. A database rule for a group therefore never beats a postseal.toml rule for
one of its users: only the same key path is overridden.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from postseal.policy.rules import KEYS, LEVEL_TABLES, PolicyRules, RuleSet

__all__ = ["merge_rules"]


def merge_rules(base: PolicyRules, override: PolicyRules) -> PolicyRules:
    """``override`` over ``base``, key path by key path; origins follow the winning rule."""
    tables = {
        attribute: _merge_tables(getattr(base, attribute), getattr(override, attribute))
        for _, attribute in LEVEL_TABLES
    }
    return PolicyRules(
        organisation=_merge_sets(base.organisation, override.organisation),
        domains=tables["domains"],
        groups=tables["groups"],
        users=tables["users"],
        origins=MappingProxyType({**base.origins, **override.origins}),
    )


def _merge_tables(
    base: Mapping[str, RuleSet], override: Mapping[str, RuleSet]
) -> Mapping[str, RuleSet]:
    names = sorted(set(base) | set(override))
    return MappingProxyType(
        {
            name: _merge_sets(base.get(name, RuleSet()), override.get(name, RuleSet()))
            for name in names
        }
    )


def _merge_sets(base: RuleSet, override: RuleSet) -> RuleSet:
    values = {}
    for key in KEYS:
        value = getattr(override, key)
        values[key] = getattr(base, key) if value is None else value
    return RuleSet(**values)
