"""Password hashing with argon2id (RFC 9106), always off the event loop.

A verification costs ~64 MiB and tens of milliseconds by design, so at most
``concurrency`` run at once; the rest wait. Passwords are bounded in length so a hostile
client cannot make hashing itself the attack.
"""

from __future__ import annotations

import asyncio
import functools
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from postseal.errors import InputError

__all__ = ["MAX_PASSWORD", "MIN_PASSWORD", "PasswordService", "generate_password"]

MIN_PASSWORD = 10
MAX_PASSWORD = 1024


def generate_password() -> str:
    """A random password of 24 URL-safe characters (144 bits)."""
    return secrets.token_urlsafe(18)


class PasswordService:
    def __init__(self, *, concurrency: int = 2, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()
        self._slots = asyncio.Semaphore(concurrency)

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
        timing does not reveal which accounts exist."""
        candidate = password[:MAX_PASSWORD]
        target = stored_hash or _dummy_hash()
        async with self._slots:
            try:
                ok = await asyncio.to_thread(self._hasher.verify, target, candidate)
            except (VerificationError, InvalidHashError):
                return False
        return bool(ok) and stored_hash is not None


@functools.cache
def _dummy_hash() -> str:
    return PasswordHasher().hash("postseal timing equaliser")
