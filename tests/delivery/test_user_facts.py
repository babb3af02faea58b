"""The intake's memory of directory facts: seconds old at most, never remembering that a
user does not exist."""

from __future__ import annotations

from postseal.services.user_facts import UserFactsCache
from postseal.store.ports import NewUser, Store


class Ticks:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def _add(store: Store, address: str) -> int:
    async with store.begin() as tx:
        user = await tx.users.add(NewUser(address=address, display_name=address, template="x"))
    return user.id


async def test_facts_are_remembered_for_the_ttl_and_then_read_again(store: Store) -> None:
    ticks = Ticks()
    cache = UserFactsCache(store, ttl=2.0, clock=ticks)
    bob = await _add(store, "bob@example.org")
    facts = await cache.get("bob@example.org")
    assert facts is not None and facts.enabled and facts.groups == frozenset()
    async with store.begin() as tx:
        await tx.users.update(bob, enabled=False)
    ticks.now += 1.9
    remembered = await cache.get("bob@example.org")
    assert remembered is not None and remembered.enabled  # within the TTL
    ticks.now += 0.2
    fresh = await cache.get("bob@example.org")
    assert fresh is not None and not fresh.enabled  # read again after it


async def test_an_unknown_user_is_never_remembered(store: Store) -> None:
    cache = UserFactsCache(store, ttl=60.0, clock=Ticks())
    assert await cache.get("carol@example.org") is None
    await _add(store, "carol@example.org")
    assert await cache.get("carol@example.org") is not None  # no 550 for a new user


async def test_many_reads_the_misses_and_leaves_out_the_unknown(store: Store) -> None:
    cache = UserFactsCache(store, ttl=60.0, size=1, clock=Ticks())
    await _add(store, "a@example.org")
    await _add(store, "b@example.org")
    found = await cache.many(["a@example.org", "nobody@example.org", "b@example.org"])
    assert sorted(found) == ["a@example.org", "b@example.org"]
    cache.forget()
    assert sorted(await cache.many(["b@example.org"])) == ["b@example.org"]
