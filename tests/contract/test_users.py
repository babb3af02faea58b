"""Users, groups and the directory's two certificate attributes."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from postseal.errors import ConflictError, NotFoundError
from postseal.store.ports import CertificateRecord, DirectoryAttribute, DirectoryEntry, NewUser
from postseal.store.sql import SqlStore

NewUserFactory = Callable[..., NewUser]
CertificateFactory = Callable[..., CertificateRecord]


async def test_add_returns_the_stored_user(store: SqlStore, new_user: NewUserFactory) -> None:
    async with store.begin() as tx:
        bob = await tx.users.add(new_user("bob@example.org", extension="4711"))
    assert bob.id > 0
    assert (bob.address, bob.display_name, bob.template) == (
        "bob@example.org",
        "Bob",
        "smime-user",
    )
    assert bob.enabled is True
    assert bob.extension == "4711"
    assert bob.groups == ()
    assert bob.password_hash is not None
    assert bob.password_hash.startswith("$argon2id$")
    assert bob.created_at == bob.updated_at
    assert bob.created_at.utcoffset() is not None
    async with store.begin() as tx:
        assert await tx.users.get("bob@example.org") == bob
        assert await tx.users.get_by_id(bob.id) == bob
        assert await tx.users.get_by_extension("4711") == bob


async def test_lookups_of_absent_users_return_none(store: SqlStore) -> None:
    async with store.begin() as tx:
        assert await tx.users.get("nobody@example.org") is None
        assert await tx.users.get_by_id(424242) is None
        assert await tx.users.get_by_extension("0000") is None
        assert await tx.users.list() == []


async def test_a_duplicate_address_is_a_conflict_naming_it(
    store: SqlStore, new_user: NewUserFactory
) -> None:
    async with store.begin() as tx:
        await tx.users.add(new_user("bob@example.org"))
    async with store.begin() as tx:
        with pytest.raises(ConflictError) as caught:
            await tx.users.add(new_user("bob@example.org", display_name="Other Bob"))
        assert caught.value.message == "a user with address bob@example.org already exists"
        # The transaction survives the conflict.
        await tx.users.add(new_user("carol@example.org"))
    async with store.begin() as tx:
        assert [u.address for u in await tx.users.list()] == [
            "bob@example.org",
            "carol@example.org",
        ]


async def test_a_duplicate_extension_is_a_conflict_naming_its_holder(
    store: SqlStore, new_user: NewUserFactory
) -> None:
    async with store.begin() as tx:
        await tx.users.add(new_user("bob@example.org", extension="4711"))
        carol = await tx.users.add(new_user("carol@example.org"))
        with pytest.raises(ConflictError, match=r"4711 already belongs to bob@example\.org"):
            await tx.users.add(new_user("dave@example.org", extension="4711"))
        with pytest.raises(ConflictError, match=r"4711 already belongs to bob@example\.org"):
            await tx.users.update(carol.id, extension="4711")
        # Several users without an extension are fine.
        await tx.users.add(new_user("erin@example.org"))
        assert (await tx.users.get_by_extension("4711")) is not None


async def test_list_is_by_address_and_can_leave_out_disabled_users(
    store: SqlStore, new_user: NewUserFactory
) -> None:
    async with store.begin() as tx:
        for address in ("zoe@example.org", "adam@example.org", "mia@example.org"):
            await tx.users.add(new_user(address, enabled=address != "mia@example.org"))
        everyone = await tx.users.list()
        enabled = await tx.users.list(enabled_only=True)
    assert [u.address for u in everyone] == [
        "adam@example.org",
        "mia@example.org",
        "zoe@example.org",
    ]
    assert [u.address for u in enabled] == ["adam@example.org", "zoe@example.org"]


async def test_update_changes_only_the_given_fields(
    store: SqlStore, new_user: NewUserFactory
) -> None:
    async with store.begin() as tx:
        bob = await tx.users.add(new_user("bob@example.org"))
        changed = await tx.users.update(bob.id, display_name="Robert", enabled=False)
        assert changed.display_name == "Robert"
        assert changed.enabled is False
        assert (changed.password_hash, changed.template, changed.extension) == (
            bob.password_hash,
            bob.template,
            bob.extension,
        )
        assert changed.updated_at >= bob.updated_at
        assert changed.created_at == bob.created_at
        again = await tx.users.update(
            bob.id, password_hash="$argon2id$new", template="smime-exec", extension="12"
        )
        assert (again.password_hash, again.template, again.extension) == (
            "$argon2id$new",
            "smime-exec",
            "12",
        )
        assert again.display_name == "Robert"
        assert await tx.users.get_by_id(bob.id) == again


async def test_update_of_an_absent_user_is_not_found(store: SqlStore) -> None:
    async with store.begin() as tx:
        with pytest.raises(NotFoundError, match="no user with id 999"):
            await tx.users.update(999, display_name="Ghost")


async def test_set_groups_replaces_and_sorts(store: SqlStore, new_user: NewUserFactory) -> None:
    async with store.begin() as tx:
        bob = await tx.users.add(new_user("bob@example.org"))
        carol = await tx.users.add(new_user("carol@example.org"))
        await tx.users.set_groups(bob.id, ["legal", "finance", "legal"])
        await tx.users.set_groups(carol.id, ["legal"])
    async with store.begin() as tx:
        assert (await tx.users.get_by_id(bob.id)).groups == ("finance", "legal")  # type: ignore[union-attr]
        await tx.users.set_groups(bob.id, ["board"])
        assert (await tx.users.get_by_id(bob.id)).groups == ("board",)  # type: ignore[union-attr]
        listed = {u.address: u.groups for u in await tx.users.list()}
        assert listed == {"bob@example.org": ("board",), "carol@example.org": ("legal",)}
        await tx.users.set_groups(bob.id, [])
        assert (await tx.users.get("bob@example.org")).groups == ()  # type: ignore[union-attr]
        with pytest.raises(NotFoundError):
            await tx.users.set_groups(999, ["legal"])


async def test_remove_cascades_groups_and_attributes_but_keeps_certificates(
    store: SqlStore, new_user: NewUserFactory, certificate: CertificateFactory
) -> None:
    async with store.begin() as tx:
        bob = await tx.users.add(new_user("bob@example.org"))
        await tx.users.set_groups(bob.id, ["legal"])
        cert = certificate("0B0B", user=bob)
        await tx.certificates.add(cert)
        await tx.directory.publish(bob.id, cert.der)
    async with store.begin() as tx:
        await tx.users.remove(bob.id)
    async with store.begin() as tx:
        assert await tx.users.get_by_id(bob.id) is None
        with pytest.raises(NotFoundError):
            await tx.directory.get(bob.id)
        kept = await tx.certificates.get("0B0B")
        assert kept is not None
        assert kept.user_id == bob.id
        # A new user never takes over the removed user's id, hence not their certificates.
        newcomer = await tx.users.add(new_user("bob@example.org"))
        assert newcomer.id != bob.id
        assert await tx.certificates.list(user_id=newcomer.id) == []
        assert [c.serial for c in await tx.certificates.list(user_id=bob.id)] == ["0B0B"]
        assert newcomer.groups == ()
        assert await tx.directory.get(newcomer.id) == DirectoryEntry(None, None)
        with pytest.raises(NotFoundError, match=f"no user with id {bob.id}"):
            await tx.users.remove(bob.id)


async def test_publish_sets_and_clears_both_attributes(
    store: SqlStore, new_user: NewUserFactory
) -> None:
    async with store.begin() as tx:
        bob = await tx.users.add(new_user("bob@example.org"))
        assert await tx.directory.get(bob.id) == DirectoryEntry(None, None)
        await tx.directory.publish(bob.id, b"\x30\x82first")
        assert await tx.directory.get(bob.id) == DirectoryEntry(b"\x30\x82first", b"\x30\x82first")
        await tx.directory.publish(bob.id, b"\x30\x82second")
        assert await tx.directory.get(bob.id) == DirectoryEntry(
            b"\x30\x82second", b"\x30\x82second"
        )
        await tx.directory.publish(bob.id, None)
        assert await tx.directory.get(bob.id) == DirectoryEntry(None, None)


async def test_set_changes_one_attribute(store: SqlStore, new_user: NewUserFactory) -> None:
    async with store.begin() as tx:
        bob = await tx.users.add(new_user("bob@example.org"))
        await tx.directory.publish(bob.id, b"both")
        await tx.directory.set(bob.id, DirectoryAttribute.USER_SMIME_CERTIFICATE, b"legacy")
        assert await tx.directory.get(bob.id) == DirectoryEntry(b"both", b"legacy")
        await tx.directory.set(bob.id, DirectoryAttribute.USER_CERTIFICATE, None)
        assert await tx.directory.get(bob.id) == DirectoryEntry(None, b"legacy")
        await tx.directory.set(bob.id, DirectoryAttribute.USER_CERTIFICATE, b"new")
        assert await tx.directory.get(bob.id) == DirectoryEntry(b"new", b"legacy")


async def test_directory_of_an_absent_user_is_not_found(store: SqlStore) -> None:
    async with store.begin() as tx:
        with pytest.raises(NotFoundError, match="no user with id 77"):
            await tx.directory.get(77)
        with pytest.raises(NotFoundError):
            await tx.directory.publish(77, b"cert")
        with pytest.raises(NotFoundError):
            await tx.directory.publish(77, None)
        with pytest.raises(NotFoundError):
            await tx.directory.set(77, DirectoryAttribute.USER_CERTIFICATE, b"cert")


async def test_published_reads_enabled_users_attributes_in_one_call(
    store: SqlStore, new_user: NewUserFactory
) -> None:
    async with store.begin() as tx:
        bob = await tx.users.add(new_user("bob@example.org"))
        carol = await tx.users.add(new_user("carol@example.org"))
        dave = await tx.users.add(new_user("dave@example.org"))
        await tx.directory.publish(bob.id, b"bob-cert")
        await tx.directory.set(carol.id, DirectoryAttribute.USER_SMIME_CERTIFICATE, b"legacy")
        await tx.directory.publish(dave.id, b"dave-cert")
        await tx.users.update(dave.id, enabled=False)
        await tx.users.add(new_user("erin@example.org"))
    async with store.begin(readonly=True) as tx:
        found = await tx.directory.published(
            ["bob@example.org", "carol@example.org", "dave@example.org", "erin@example.org",
             "nobody@example.org", "bob@example.org"]
        )  # fmt: skip
        assert await tx.directory.published([]) == {}
    assert found == {
        "bob@example.org": DirectoryEntry(b"bob-cert", b"bob-cert"),
        "carol@example.org": DirectoryEntry(None, b"legacy"),
        "erin@example.org": DirectoryEntry(None, None),
    }  # dave is disabled, nobody does not exist
