"""Opening, upgrading and checking a store; URLs that cannot work."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection

from postseal.errors import ConfigError, StoreError
from postseal.store.sql import SchemaStatus, check, open_store, upgrade
from postseal.store.sql.engine import create_engine, parse_url
from postseal.store.sql.tables import metadata

HEAD = "0008"


async def test_upgrade_is_idempotent_and_check_reports_head(url: str) -> None:
    assert await check(url) == SchemaStatus(current=None, head=HEAD)
    assert await upgrade(url) == HEAD
    assert await upgrade(url) == HEAD
    status = await check(url)
    assert status == SchemaStatus(current=HEAD, head=HEAD)
    assert status.is_current


async def test_open_with_migrate_twice_keeps_the_data(url: str) -> None:
    first = await open_store(url, migrate=True)
    try:
        async with first.begin() as tx:
            await tx.meta.set("org", "Example AG")
    finally:
        await first.close()
    second = await open_store(url, migrate=True)
    try:
        async with second.begin() as tx:
            assert await tx.meta.get("org") == "Example AG"
    finally:
        await second.close()


async def test_opening_an_unmigrated_database_says_to_init(url: str) -> None:
    with pytest.raises(StoreError) as caught:
        await open_store(url)
    assert "not initialised" in str(caught.value)
    assert caught.value.hint is not None
    assert "postseal init" in caught.value.hint


async def test_opening_a_missing_sqlite_file_does_not_create_it(tmp_path: Path) -> None:
    path = tmp_path / "typo.db"
    with pytest.raises(StoreError, match="not initialised"):
        await open_store(f"sqlite+aiosqlite:///{path}")
    assert await check(f"sqlite+aiosqlite:///{path}") == SchemaStatus(current=None, head=HEAD)
    assert not path.exists()


async def _execute(url: str, *statements: str) -> None:
    engine = create_engine(parse_url(url))
    try:
        async with engine.begin() as connection:
            for statement in statements:
                await connection.execute(text(statement))
    finally:
        await engine.dispose()


async def test_an_older_revision_asks_for_db_upgrade(url: str) -> None:
    await upgrade(url)
    await _execute(url, "UPDATE alembic_version SET version_num = '0000'")
    with pytest.raises(StoreError) as caught:
        await open_store(url)
    assert caught.value.message == (
        f"the store is at revision 0000, which this postseal ({HEAD}) does not know"
    )


async def test_a_stale_known_revision_asks_for_db_upgrade(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await upgrade(url)
    monkeypatch.setattr("postseal.store.sql.schema.head_revision", lambda: "9999")
    monkeypatch.setattr(
        "postseal.store.sql.schema._known_revisions", lambda: frozenset({HEAD, "9999"})
    )
    with pytest.raises(StoreError) as caught:
        await open_store(url)
    assert caught.value.message == f"the store is at revision {HEAD}, this postseal needs 9999"
    assert caught.value.hint == "run `postseal db upgrade`"


async def test_a_foreign_database_is_not_mistaken_for_an_empty_one(url: str) -> None:
    await _execute(url, "CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    with pytest.raises(StoreError, match="holds tables but no postseal schema"):
        await open_store(url)


def _schema_differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, metadata))


async def test_the_migrations_build_exactly_the_declared_tables(url: str) -> None:
    await upgrade(url)
    engine = create_engine(parse_url(url))
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(_schema_differences)
    finally:
        await engine.dispose()
    assert differences == []


@pytest.mark.parametrize(
    ("url", "scheme"),
    [
        ("mysql+aiomysql://root@db/postseal", "mysql+aiomysql"),
        ("sqlite:///var/lib/postseal.db", "sqlite"),
        ("postgresql://postgres@localhost/postseal", "postgresql"),
        ("not a url", ""),
    ],
)
async def test_an_unsupported_scheme_is_a_config_error(url: str, scheme: str) -> None:
    with pytest.raises(ConfigError) as caught:
        await open_store(url)
    message = str(caught.value)
    assert "sqlite+aiosqlite" in message
    assert "postgresql+asyncpg" in message
    assert (f"scheme {scheme!r}" if scheme else "no scheme") in message


@pytest.mark.postgres
async def test_unreachable_postgresql_is_a_store_error_without_the_password() -> None:
    url = "postgresql+asyncpg://postseal:s3cret-pw@127.0.0.1:1/postseal"
    for attempt in (open_store(url), upgrade(url), check(url)):
        with pytest.raises(StoreError) as caught:
            await attempt
        message = str(caught.value)
        assert "127.0.0.1:1" in message
        assert "postseal" in message
        assert "s3cret-pw" not in message
        assert "\n" not in message
        assert caught.value.hint is not None


@pytest.mark.postgres
async def test_a_missing_postgresql_database_is_a_store_error(pg_database: str) -> None:
    url = pg_database.rsplit("/", 1)[0] + "/postseal_no_such_database"
    with pytest.raises(StoreError, match=r"postseal_no_such_database on 127\.0\.0\.1:5432"):
        await open_store(url)


async def test_a_missing_sqlite_directory_is_a_store_error(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/missing/dir/store.db"
    with pytest.raises(StoreError) as caught:
        await upgrade(url)
    assert f"{tmp_path}/missing/dir/store.db" in str(caught.value)
    assert f"the directory {tmp_path}/missing/dir does not exist" in str(caught.value)
    assert caught.value.hint is not None
    assert "directory" in caught.value.hint
