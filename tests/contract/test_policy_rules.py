"""Policy rules: upsert by (scope, name, key), ordering, removal, the version counter
(both databases)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from postseal.store.ports import PolicyRuleRecord, PolicyScope, Store

T0 = datetime(2026, 11, 23, 10, 0, 0, 654321, tzinfo=UTC)


def _rule(
    scope: PolicyScope, name: str, key: str, value: str, *, minutes: int = 0
) -> PolicyRuleRecord:
    return PolicyRuleRecord(
        scope=scope,
        name=name,
        key=key,
        value=value,
        changed_by="cli",
        changed_at=T0 + timedelta(minutes=minutes),
    )


async def test_put_list_replace_remove(store: Store) -> None:
    async with store.begin() as tx:
        await tx.policy_rules.put(_rule(PolicyScope.USER, "bob@example.org", "sign", '"always"'))
        await tx.policy_rules.put(_rule(PolicyScope.GROUP, "finance", "encrypt", '"required"'))
        await tx.policy_rules.put(_rule(PolicyScope.ORGANISATION, "", "verify", "false"))
        await tx.policy_rules.put(
            _rule(PolicyScope.DOMAIN, "example.org", "require_encryption_domains", '["a.example"]')
        )
        await tx.policy_rules.put(_rule(PolicyScope.GROUP, "finance", "decrypt", '"decrypt"'))
    async with store.begin(readonly=True) as tx:
        listed = await tx.policy_rules.list()
    assert [(r.scope, r.name, r.key) for r in listed] == [
        (PolicyScope.ORGANISATION, "", "verify"),
        (PolicyScope.DOMAIN, "example.org", "require_encryption_domains"),
        (PolicyScope.GROUP, "finance", "decrypt"),
        (PolicyScope.GROUP, "finance", "encrypt"),
        (PolicyScope.USER, "bob@example.org", "sign"),
    ]
    assert listed[0] == _rule(PolicyScope.ORGANISATION, "", "verify", "false")
    async with store.begin() as tx:
        await tx.policy_rules.put(
            _rule(PolicyScope.USER, "bob@example.org", "sign", '"never"', minutes=5)
        )
    async with store.begin() as tx:
        replaced = await tx.policy_rules.get(PolicyScope.USER, "bob@example.org", "sign")
        assert replaced == _rule(PolicyScope.USER, "bob@example.org", "sign", '"never"', minutes=5)
        assert await tx.policy_rules.get(PolicyScope.USER, "bob@example.org", "encrypt") is None
        assert await tx.policy_rules.remove(PolicyScope.USER, "bob@example.org", "sign")
        assert not await tx.policy_rules.remove(PolicyScope.USER, "bob@example.org", "sign")
        assert len(await tx.policy_rules.list()) == 4


async def test_the_organisation_has_no_name_and_the_others_need_one(store: Store) -> None:
    async with store.begin() as tx:
        with pytest.raises(ValueError, match="organisation rule needs no name"):
            await tx.policy_rules.put(_rule(PolicyScope.ORGANISATION, "x", "sign", '"never"'))
        with pytest.raises(ValueError, match="user rule needs a name"):
            await tx.policy_rules.put(_rule(PolicyScope.USER, "", "sign", '"never"'))
        assert await tx.policy_rules.list() == []


async def test_a_rolled_back_change_leaves_neither_rule_nor_version(store: Store) -> None:
    async def change_then_fail() -> None:
        async with store.begin() as tx:
            await tx.policy_rules.put(_rule(PolicyScope.ORGANISATION, "", "sign", '"always"'))
            assert await tx.policy_rules.bump_version() == 1
            raise RuntimeError("abort")

    with pytest.raises(RuntimeError, match="abort"):
        await change_then_fail()
    async with store.begin(readonly=True) as tx:
        assert await tx.policy_rules.list() == []
        assert await tx.policy_rules.version() == 0


async def test_the_version_starts_at_zero_and_counts_every_bump(store: Store) -> None:
    async with store.begin(readonly=True) as tx:
        assert await tx.policy_rules.version() == 0
    async with store.begin() as tx:
        assert await tx.policy_rules.bump_version() == 1
        assert await tx.policy_rules.bump_version() == 2
        assert await tx.policy_rules.version() == 2
    async with store.begin() as tx:
        assert await tx.policy_rules.bump_version() == 3
        assert await tx.meta.get("policy_version") == "3"


async def test_concurrent_bumps_never_end_on_the_same_version(store: Store) -> None:
    async def change() -> int:
        async with store.begin() as tx:
            await asyncio.sleep(0)
            return await tx.policy_rules.bump_version()

    seen = await asyncio.gather(*(change() for _ in range(6)))
    assert sorted(seen) == [1, 2, 3, 4, 5, 6]
    async with store.begin(readonly=True) as tx:
        assert await tx.policy_rules.version() == 6
