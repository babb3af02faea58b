"""Password hashing with argon2id (RFC 9106), always off the event loop.

A verification costs ~64 MiB and tens of milliseconds by design, so at most
``concurrency`` run at once; the rest wait. Passwords are bounded in length so a hostile
client cannot make hashing itself the attack.

Mail clients log in again and again with the same password (a session per folder
check, per message sent), so a *successful* verification is remembered for
:data:`VERIFIED_TTL` seconds, like saslauthd's credential cache and Dovecot's auth cache
(ADR 0023): the memo holds an HMAC-SHA-256 of the stored hash and the password under a
key drawn at start-up that never leaves the process, keyed by the stored hash — a new
password (a new salt and hash) or an expired entry falls back to argon2. A wrong password
never matches a memo and always pays the full argon2 cost, so timing tells an attacker
nothing new; failures are never remembered. Sessions that log in at the same moment
with the same password (a client opening several) wait for one argon2 run together.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from postseal.errors import InputError

__all__ = [
    "MAX_PASSWORD",
    "MIN_PASSWORD",
    "VERIFIED_TTL",
    "PasswordService",
    "generate_password",
]

MIN_PASSWORD = 10
MAX_PASSWORD = 1024
VERIFIED_TTL = 300.0  # seconds a successful verification is remembered
VERIFIED_MAX = 10_000  # remembered verifications, oldest dropped first


def generate_password() -> str:
    """A random password of 24 URL-safe characters (144 bits)."""
    return secrets.token_urlsafe(18)


class PasswordService:
    def __init__(
        self,
        *,
        concurrency: int = 2,
        hasher: PasswordHasher | None = None,
        remember_for: float = VERIFIED_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._hasher = hasher or PasswordHasher()
        self._slots = asyncio.Semaphore(concurrency)
        self._remember_for = remember_for
        self._clock = clock
        self._memo_key = secrets.token_bytes(32)
        # stored hash -> (HMAC of hash and password, monotonic expiry)
        self._verified: OrderedDict[str, tuple[bytes, float]] = OrderedDict()
        # (stored hash, HMAC) -> the argon2 verification under way for them
        self._running: dict[tuple[str, bytes], asyncio.Future[bool]] = {}

    @staticmethod
    def check_acceptable(password: str) -> None:
        """InputError when a new password is too short, too long or has control characters."""
        if len(password) < MIN_PASSWORD:
            raise InputError(f"the password must be at least {MIN_PASSWORD} characters long")
        if len(password) > MAX_PASSWORD:
            raise InputError(f"the password must be at most {MAX_PASSWORD} characters long")
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in password):
            raise InputError("the password must not contain control characters")

    async def hash(self, password: str) -> str:
        self.check_acceptable(password)
        async with self._slots:
            return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        """True when ``password`` matches; a missing hash still costs one verification so
        timing does not reveal which accounts exist. Concurrent verifications of the same
        password against the same hash share one argon2 run (sessions of one client
        logging in at once)."""
        candidate = password[:MAX_PASSWORD]
        if stored_hash is None:
            await self._argon2(_dummy_hash(), candidate)
            return False
        mac = self._mac(stored_hash, candidate)
        if self._remembered(stored_hash, mac):
            return True
        return await asyncio.shield(self._verification(stored_hash, candidate, mac))

    def forget(self) -> None:
        """Drop every remembered verification (tests; an operator's emergency)."""
        self._verified.clear()

    def _verification(self, stored_hash: str, candidate: str, mac: bytes) -> asyncio.Future[bool]:
        key = (stored_hash, mac)
        running = self._running.get(key)
        if running is not None:
            return running
        running = asyncio.ensure_future(self._argon2(stored_hash, candidate))
        self._running[key] = running

        def settle(done: asyncio.Future[bool]) -> None:
            self._running.pop(key, None)
            if not done.cancelled() and done.exception() is None and done.result():
                self._remember(stored_hash, mac)

        running.add_done_callback(settle)
        return running

    async def _argon2(self, target: str, candidate: str) -> bool:
        async with self._slots:
            try:
                return bool(await asyncio.to_thread(self._hasher.verify, target, candidate))
            except (VerificationError, InvalidHashError):
                return False

    def _mac(self, stored_hash: str, password: str) -> bytes:
        message = stored_hash.encode() + b"\x00" + password.encode("utf-8", "surrogatepass")
        return hmac.digest(self._memo_key, message, hashlib.sha256)

    def _remembered(self, stored_hash: str, mac: bytes) -> bool:
        entry = self._verified.get(stored_hash)
        if entry is None or self._remember_for <= 0:
            return False
        remembered, expires = entry
        if self._clock() >= expires:
            self._verified.pop(stored_hash, None)
            return False
        return hmac.compare_digest(remembered, mac)

    def _remember(self, stored_hash: str, mac: bytes) -> None:
        if self._remember_for <= 0:
            return
        self._verified[stored_hash] = (mac, self._clock() + self._remember_for)
        self._verified.move_to_end(stored_hash)
        while len(self._verified) > VERIFIED_MAX:
            self._verified.popitem(last=False)


@functools.cache
def _dummy_hash() -> str:
    return PasswordHasher().hash("postseal timing equaliser")
