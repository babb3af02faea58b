"""PasswordService: argon2id, and the memo of successful verifications (ADR 0023)."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher

from postseal.services.passwords import PasswordService

# The cheapest parameters argon2 accepts: these tests are about the memo, not the cost.
_FAST = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


class _CountingHasher(PasswordHasher):
    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.verifications = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.verifications += 1
        return super().verify(hash, password)


def _counted() -> tuple[_CountingHasher, PasswordService, str]:
    """A service over a counting hasher, and the stored hash of GOOD."""
    hasher = _CountingHasher()
    return hasher, PasswordService(hasher=hasher), _FAST.hash(GOOD)


GOOD = "correct horse battery"


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_repeated_good_login_is_answered_from_the_memo() -> None:
    hasher, service, stored = _counted()
    assert await service.verify(stored, "correct horse battery")
    assert await service.verify(stored, "correct horse battery")
    assert hasher.verifications == 1


async def test_a_wrong_password_always_pays_argon2_and_never_matches() -> None:
    hasher, service, stored = _counted()
    assert await service.verify(stored, "correct horse battery")
    for _ in range(3):
        assert not await service.verify(stored, "correct horse batterx")
    assert hasher.verifications == 4  # one success, then every failure in full
    assert await service.verify(stored, "correct horse battery")  # the memo survives
    assert hasher.verifications == 4


async def test_a_new_password_hash_is_not_answered_by_the_old_memo() -> None:
    hasher = _CountingHasher()
    service = PasswordService(hasher=hasher)
    old = _FAST.hash("correct horse battery")
    assert await service.verify(old, "correct horse battery")
    new = _FAST.hash("a different password")  # what set_password stores
    assert not await service.verify(new, "correct horse battery")
    assert await service.verify(new, "a different password")
    assert hasher.verifications == 3


async def test_the_memo_expires() -> None:
    hasher, clock = _CountingHasher(), _Clock()
    service = PasswordService(hasher=hasher, remember_for=300.0, clock=clock)
    stored = _FAST.hash("correct horse battery")
    assert await service.verify(stored, "correct horse battery")
    clock.now += 299.0
    assert await service.verify(stored, "correct horse battery")
    clock.now += 2.0
    assert await service.verify(stored, "correct horse battery")
    assert hasher.verifications == 2


async def test_no_memo_when_remembering_is_off_and_none_for_unknown_accounts() -> None:
    hasher = _CountingHasher()
    service = PasswordService(hasher=hasher, remember_for=0)
    stored = _FAST.hash("correct horse battery")
    assert await service.verify(stored, "correct horse battery")
    assert await service.verify(stored, "correct horse battery")
    assert hasher.verifications == 2
    remembering = PasswordService(hasher=hasher)
    assert not await remembering.verify(None, "correct horse battery")  # dummy hash
    assert not await remembering.verify(None, "correct horse battery")
    assert hasher.verifications == 4


async def test_forget_drops_every_memo() -> None:
    hasher, service, stored = _counted()
    assert await service.verify(stored, "correct horse battery")
    service.forget()
    assert await service.verify(stored, "correct horse battery")
    assert hasher.verifications == 2


async def test_concurrent_logins_with_one_password_share_one_verification() -> None:
    hasher, service, stored = _counted()
    good = await asyncio.gather(
        *(service.verify(stored, "correct horse battery") for _ in range(5))
    )
    assert good == [True] * 5
    assert hasher.verifications == 1
    bad = [service.verify(stored, "wrong horse battery") for _ in range(3)]
    other = service.verify(stored, "another wrong one")
    assert await asyncio.gather(*bad, other) == [False] * 4
    assert hasher.verifications == 3  # one per distinct password
