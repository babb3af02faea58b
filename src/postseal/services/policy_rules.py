"""Mail policy rules in the database: set, unset, list, and the reload of a running
server (ADR 0019, docs/policy.md).

A rule written here is judged by the same loader as postseal.toml's ``[policy]`` table
and, in addition, must name a user, group or domain this server knows; any error names
the key path and what is accepted, and writes nothing. Every change is audited and raises
the policy version in the same transaction. A running server polls that version
(:meth:`PolicyRuleService.watch`) and swaps freshly merged rules into its
:class:`~postseal.policy.LiveRules`: at the same key path the database's rule overrides
postseal.toml's.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from postseal.errors import ConfigError, InputError, NotFoundError
from postseal.policy import LiveRules, PolicyRules, load_rules
from postseal.policy.assignments import (
    from_json,
    parse_assignment,
    plain,
    rules_table,
    to_json,
)
from postseal.policy.live import DATABASE, TOML
from postseal.policy.loader import canonical_name, unknown_key
from postseal.policy.rules import KEYS, RuleSet, rule_path, table_path
from postseal.services.clock import Clock
from postseal.store.ports import PolicyRuleRecord, PolicyScope, Store, Transaction

__all__ = ["ListedRule", "PolicyRuleService", "RuleChange"]

log = logging.getLogger("postseal.policy")

_SCOPE_RANK = {scope.value: rank for rank, scope in enumerate(PolicyScope)}


@dataclass(frozen=True, slots=True)
class RuleChange:
    """One key path changed: its value now and before (``None``: not set in the database)."""

    path: str
    value: Any
    previous: Any


@dataclass(frozen=True, slots=True)
class ListedRule:
    """A rule as ``postseal policy list`` shows it; ``overridden`` marks a postseal.toml
    rule a database rule at the same key path replaces."""

    path: str
    scope: str
    name: str
    key: str
    value: Any
    origin: str
    changed_by: str | None = None
    changed_at: datetime | None = None
    overridden: bool = False


class PolicyRuleService:
    def __init__(self, store: Store, *, local_domains: Iterable[str], clock: Clock) -> None:
        self._store = store
        self._local = frozenset(d.lower() for d in local_domains)
        self._clock = clock

    # -- changes ---------------------------------------------------------------------------

    async def set_rules(
        self, scope: PolicyScope, name: str, assignments: Sequence[str], *, actor: str
    ) -> tuple[int, list[RuleChange]]:
        """Store ``KEY=VALUE`` assignments at one scope (all or none); the new policy
        version and what changed. InputError for a bad key or value, NotFoundError for a
        user, group or domain this server does not know."""
        where = table_path(scope.value, name or None)
        values: dict[str, Any] = {}
        for text in assignments:
            key, value = parse_assignment(text, where)
            if key in values:
                raise InputError(f"{where}.{key} is given twice", hint="give each key once")
            values[key] = value
        canonical, parsed = _judge(scope, name, values)
        changes = []
        async with self._store.begin() as tx:
            await self._require_known(tx, scope, canonical)
            now = self._clock()
            for key in KEYS:
                if key not in values:
                    continue
                path = rule_path(scope.value, canonical or None, key)
                stored = to_json(getattr(parsed, key))
                before = await tx.policy_rules.get(scope, canonical, key)
                await tx.policy_rules.put(
                    PolicyRuleRecord(scope, canonical, key, stored, actor, now)
                )
                was = "unset" if before is None else before.value
                await tx.audit.append(
                    actor=actor, action="policy.set", target=path, detail=f"{stored} (was {was})"
                )
                previous = None if before is None else from_json(before.value, path)
                changes.append(RuleChange(path, plain(getattr(parsed, key)), previous))
            version = await tx.policy_rules.bump_version()
        return version, changes

    async def unset_rules(
        self, scope: PolicyScope, name: str, keys: Sequence[str], *, actor: str
    ) -> tuple[int, list[RuleChange]]:
        """Remove database rules at one scope (all or none); a postseal.toml rule at the
        same key path applies again. NotFoundError when one is not in the database."""
        canonical = _canonical(scope, name)
        where = table_path(scope.value, canonical or None)
        for key in keys:
            if key not in KEYS:
                raise _input(unknown_key(f"{where}.{key}", key))
        changes = []
        async with self._store.begin() as tx:
            for key in dict.fromkeys(keys):
                path = rule_path(scope.value, canonical or None, key)
                before = await tx.policy_rules.get(scope, canonical, key)
                if before is None:
                    raise NotFoundError(
                        f"{path} is not set in the database; nothing was changed",
                        hint="`postseal policy list` shows the stored rules; "
                        "rules of postseal.toml are changed in the file",
                    )
                await tx.policy_rules.remove(scope, canonical, key)
                await tx.audit.append(
                    actor=actor, action="policy.unset", target=path, detail=f"was {before.value}"
                )
                changes.append(RuleChange(path, None, from_json(before.value, path)))
            version = await tx.policy_rules.bump_version()
        return version, changes

    # -- reading ---------------------------------------------------------------------------

    async def list_rules(self, toml: PolicyRules) -> list[ListedRule]:
        """postseal.toml's rules and the database's, by scope, name, key (the file first)."""
        async with self._store.begin(readonly=True) as tx:
            records = await tx.policy_rules.list()
        stored = {}
        for record in records:
            path = rule_path(record.scope.value, record.name or None, record.key)
            stored[path] = ListedRule(
                path,
                record.scope.value,
                record.name,
                record.key,
                from_json(record.value, path),
                DATABASE,
                record.changed_by,
                record.changed_at,
            )
        listed = list(stored.values())
        for level, name, key, value in toml.entries():
            path = rule_path(level, name or None, key)
            listed.append(
                ListedRule(path, level, name, key, plain(value), TOML, overridden=path in stored)
            )
        listed.sort(key=lambda r: (_SCOPE_RANK[r.scope], r.name, r.key, r.origin != TOML))
        return listed

    async def read(self) -> tuple[int, PolicyRules]:
        """The policy version and the database's rules, judged by the loader; ConfigError
        naming the key path when a stored rule is not valid."""
        async with self._store.begin(readonly=True) as tx:
            version = await tx.policy_rules.version()  # before the rules: see the port
            records = await tx.policy_rules.list()
        return version, _parse(records)

    async def refresh(self, live: LiveRules) -> bool:
        """Swap the database's current rules into ``live`` unless its version is current;
        whether they were swapped. ConfigError (``live`` unchanged) for an invalid rule."""
        async with self._store.begin(readonly=True) as tx:
            version = await tx.policy_rules.version()
            if version == live.version:
                return False
            records = await tx.policy_rules.list()
        # Judging the rules is CPU work (an address parse per user rule: ~25 ms per 1,000).
        live.update(await asyncio.to_thread(_parse, records), version=version)
        return True

    async def watch(self, live: LiveRules, *, interval: float) -> None:
        """Refresh ``live`` every ``interval`` seconds until cancelled. A failure keeps the
        rules in force and is logged once until the next success."""
        failure: str | None = None
        while True:
            try:
                if await self.refresh(live):
                    log.info("policy version %s in force", live.version)
                failure = None
            except Exception as exc:  # the server keeps running on the rules it has
                reason = str(exc) or type(exc).__name__
                if reason != failure:
                    log.error("cannot reload the policy rules (keeping those in force): %s", reason)
                failure = reason
            await asyncio.sleep(interval)

    # -- helpers ---------------------------------------------------------------------------

    async def _require_known(self, tx: Transaction, scope: PolicyScope, name: str) -> None:
        where = table_path(scope.value, name or None)
        if scope is PolicyScope.USER:
            if await tx.users.get(name) is None:
                raise NotFoundError(
                    f"{where}: there is no user {name} in the directory; nothing was changed",
                    hint="add them with `postseal user add`, or check the address",
                )
            return
        if scope is PolicyScope.ORGANISATION:
            return
        users = await tx.users.list()
        if scope is PolicyScope.GROUP:
            known = sorted({group for user in users for group in user.groups})
            what = f"no user is in the group {name!r}"
        else:
            known = sorted(self._local | {u.address.rpartition("@")[2] for u in users})
            what = f"{name} is neither a local domain nor the domain of a user"
        if name not in known:
            accepted = ", ".join(known) or "none yet"
            raise NotFoundError(f"{where}: {what}; nothing was changed", hint=f"known: {accepted}")


def _input(err: ConfigError) -> InputError:
    return InputError(err.message, hint=err.hint)


def _canonical(scope: PolicyScope, name: str) -> str:
    if scope is PolicyScope.ORGANISATION:
        return ""
    try:
        return canonical_name(scope.value, name)
    except ConfigError as err:
        raise _input(err) from None


def _judge(scope: PolicyScope, name: str, values: dict[str, Any]) -> tuple[str, RuleSet]:
    """The canonical name and the parsed settings, by the loader of postseal.toml."""
    entries = [(scope.value, name, key, value) for key, value in values.items()]
    try:
        rules = load_rules(rules_table(entries))
    except ConfigError as err:
        raise _input(err) from None
    if scope is PolicyScope.ORGANISATION:
        return "", rules.organisation
    table = {"domain": rules.domains, "group": rules.groups, "user": rules.users}[scope.value]
    ((canonical, parsed),) = table.items()
    return canonical, parsed


def _parse(records: Sequence[PolicyRuleRecord]) -> PolicyRules:
    try:
        entries = [
            (
                r.scope.value,
                r.name,
                r.key,
                from_json(r.value, rule_path(r.scope.value, r.name or None, r.key)),
            )
            for r in records
        ]
        return load_rules(rules_table(entries), origin=DATABASE)
    except ConfigError as err:
        raise ConfigError(
            f"a policy rule in the database is not valid: {err.message}",
            hint="replace it with `postseal policy set` or remove it with `postseal policy unset`",
        ) from None
