"""Mail policy rules in the database and the ``policy_version`` row of ``meta``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Integer, Row, Text, case, cast, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from postseal.store.ports import PolicyRuleRecord, PolicyScope
from postseal.store.sql.statements import execute, upsert
from postseal.store.sql.tables import meta, policy_rules

__all__ = ["VERSION_KEY", "SqlPolicyRuleRepository"]

VERSION_KEY = "policy_version"
_SCOPE_ORDER = case(
    {scope.value: rank for rank, scope in enumerate(PolicyScope)}, value=policy_rules.c.scope
)


class SqlPolicyRuleRepository:
    """:class:`~postseal.store.ports.PolicyRuleRepository` on SQL."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def list(self) -> Sequence[PolicyRuleRecord]:
        query = select(policy_rules).order_by(_SCOPE_ORDER, policy_rules.c.name, policy_rules.c.key)
        return [_rule(row) for row in await self._connection.execute(query)]

    async def get(self, scope: PolicyScope, name: str, key: str) -> PolicyRuleRecord | None:
        query = select(policy_rules).where(
            policy_rules.c.scope == scope.value,
            policy_rules.c.name == name,
            policy_rules.c.key == key,
        )
        row = (await self._connection.execute(query)).first()
        return None if row is None else _rule(row)

    async def put(self, rule: PolicyRuleRecord) -> None:
        if (rule.scope is PolicyScope.ORGANISATION) != (rule.name == ""):
            raise ValueError(
                f"a {rule.scope.value} rule needs "
                + ("no name" if rule.scope is PolicyScope.ORGANISATION else "a name")
            )
        row = {
            "scope": rule.scope.value,
            "name": rule.name,
            "key": rule.key,
            "value": rule.value,
            "changed_by": rule.changed_by,
            "changed_at": rule.changed_at,
        }
        await execute(
            self._connection,
            upsert(self._connection, policy_rules, [row], keys=("scope", "name", "key")),
        )

    async def remove(self, scope: PolicyScope, name: str, key: str) -> bool:
        result = await self._connection.execute(
            delete(policy_rules).where(
                policy_rules.c.scope == scope.value,
                policy_rules.c.name == name,
                policy_rules.c.key == key,
            )
        )
        return bool(result.rowcount)

    async def version(self) -> int:
        result = await self._connection.execute(
            select(meta.c.value).where(meta.c.key == VERSION_KEY)
        )
        value = result.scalar()
        return 0 if value is None else int(value)

    async def bump_version(self) -> int:
        # One statement: on PostgreSQL ON CONFLICT DO UPDATE waits for a concurrent
        # writer's row lock and then adds to the value it committed, so two changes never
        # both write "n + 1" (a reader would miss the second).
        insert = (
            postgresql.insert if self._connection.dialect.name == "postgresql" else sqlite.insert
        )
        values = insert(meta).values(key=VERSION_KEY, value="1")
        statement = values.on_conflict_do_update(
            index_elements=[meta.c.key],
            set_={"value": cast(cast(meta.c.value, Integer) + 1, Text)},
        ).returning(meta.c.value)
        result = await execute(self._connection, statement)
        return int(result.scalar_one())


def _rule(row: Row[Any]) -> PolicyRuleRecord:
    return PolicyRuleRecord(
        scope=PolicyScope(row.scope),
        name=row.name,
        key=row.key,
        value=row.value,
        changed_by=row.changed_by,
        changed_at=row.changed_at,
    )
