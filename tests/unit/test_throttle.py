"""AuthThrottle over a MemoryFailureLog: limits per address and per account, the window,
and what a success clears (ADR 0027; the store-backed log: tests/contract)."""

from __future__ import annotations

import pytest

from postseal.errors import ThrottledError
from postseal.services.throttle import AuthThrottle, account_key


class _Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def _fail(throttle: AuthThrottle, times: int, *, address: str, account: str) -> None:
    for _ in range(times):
        await throttle.failed(address=address, account=account)


async def test_the_account_limit_holds_whatever_address_guesses() -> None:
    throttle = AuthThrottle(per_address=100, per_account=3, clock=_Clock())
    for n in range(3):
        await throttle.check(address=f"192.0.2.{n}", account="bob@example.org")
        await throttle.failed(address=f"192.0.2.{n}", account="BOB@example.org")
    with pytest.raises(ThrottledError, match="too many failed logins"):
        await throttle.check(address="192.0.2.99", account="bob@example.org")
    await throttle.check(address="192.0.2.99", account="alice@example.org")


async def test_the_address_limit_holds_whatever_account_is_guessed() -> None:
    throttle = AuthThrottle(per_address=4, per_account=100, clock=_Clock())
    for n in range(4):
        await throttle.failed(address="192.0.2.1", account=f"user{n}@example.org")
    with pytest.raises(ThrottledError):
        await throttle.check(address="192.0.2.1", account="fresh@example.org")
    await throttle.check(address="192.0.2.2", account="fresh@example.org")


async def test_failures_leave_the_window() -> None:
    clock = _Clock()
    throttle = AuthThrottle(per_address=10, per_account=2, window=900, clock=clock)
    await _fail(throttle, 2, address="192.0.2.1", account="bob@example.org")
    with pytest.raises(ThrottledError, match="wait 15 minutes"):
        await throttle.check(address="192.0.2.1", account="bob@example.org")
    clock.now += 899
    with pytest.raises(ThrottledError):
        await throttle.check(address="192.0.2.1", account="bob@example.org")
    clock.now += 2
    await throttle.check(address="192.0.2.1", account="bob@example.org")


async def test_a_success_clears_the_account_not_the_address() -> None:
    throttle = AuthThrottle(per_address=3, per_account=3, clock=_Clock())
    await _fail(throttle, 3, address="192.0.2.1", account="bob@example.org")
    await throttle.succeeded(account="Bob@Example.org")
    await throttle.check(address="192.0.2.2", account="bob@example.org")
    with pytest.raises(ThrottledError):
        await throttle.check(address="192.0.2.1", account="alice@example.org")


async def test_one_account_however_its_address_is_written() -> None:
    throttle = AuthThrottle(per_address=100, per_account=2, clock=_Clock())
    await throttle.failed(address="192.0.2.1", account="Bob@Bücher.example")
    await throttle.failed(address="192.0.2.1", account="bob@xn--bcher-kva.example")
    with pytest.raises(ThrottledError):
        await throttle.check(address="192.0.2.2", account="BOB@BÜCHER.EXAMPLE")
    assert account_key("not an address") == account_key("NOT AN ADDRESS")
