"""Failed-authentication throttling, per client address and per account.

A sliding window of failures: more than ``per_address`` failures from one client address,
or ``per_account`` for one account, within ``window`` seconds makes further attempts fail
with ThrottledError *before* the password is checked, so a brute force costs the attacker
time and postseal no argon2 work. A success clears the account's failures.

Kept in memory: each postseal node throttles on its own. That bounds a distributed guess
by nodes times the limit per window, which the argon2 cost and the lockout of the account make
impractical; a shared counter can come with the PostgreSQL deployment if it proves needed.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from postseal.errors import ThrottledError

__all__ = ["AuthThrottle"]

_MAX_TRACKED = 100_000


class AuthThrottle:
    def __init__(
        self,
        *,
        per_address: int = 10,
        per_account: int = 5,
        window: float = 900.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limits = {"address": per_address, "account": per_account}
        self._window = window
        self._now = monotonic
        self._failures: dict[tuple[str, str], deque[float]] = {}

    def check(self, *, address: str, account: str) -> None:
        """ThrottledError when either key is over its limit."""
        for kind, key in (("address", address), ("account", account.lower())):
            if len(self._recent(kind, key)) >= self._limits[kind]:
                raise ThrottledError(
                    "too many failed logins; try again later",
                    hint=f"wait {int(self._window // 60)} minutes",
                )

    def failed(self, *, address: str, account: str) -> None:
        if len(self._failures) > _MAX_TRACKED:
            self._expire_all()
        now = self._now()
        for kind, key in (("address", address), ("account", account.lower())):
            self._failures.setdefault((kind, key), deque(maxlen=1000)).append(now)

    def succeeded(self, *, account: str) -> None:
        self._failures.pop(("account", account.lower()), None)

    def _recent(self, kind: str, key: str) -> deque[float]:
        times = self._failures.get((kind, key), deque())
        horizon = self._now() - self._window
        while times and times[0] < horizon:
            times.popleft()
        return times

    def _expire_all(self) -> None:
        horizon = self._now() - self._window
        for key in [k for k, v in self._failures.items() if not v or v[-1] < horizon]:
            del self._failures[key]
