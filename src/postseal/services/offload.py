"""CPU work of one message: on the event loop when it is small, in a worker when large.

A hop to a worker thread and back costs a turn of the event loop each way — under load
milliseconds, more than sealing or signing a 10 KB message takes — and buys no
parallelism for Python code (the GIL). Large messages still go to a worker so that AES,
MIME parsing or canonicalisation of a 25 MB message never stalls every other session.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Final, TypeVar

__all__ = ["OFFLOAD_BYTES", "SMIME_INLINE_BYTES", "offload"]

OFFLOAD_BYTES: Final = 256 * 1024
"""Bodies above this size are sealed and opened in a worker thread."""

SMIME_INLINE_BYTES: Final = 64 * 1024
"""The largest message signed, encrypted, verified or decrypted on the loop: its
private-key operation (≈ 0.4 ms for RSA-2048) and ≈ 1 ms of Python work per 64 KB."""

_T = TypeVar("_T")


async def offload(size: int, work: Callable[[], _T], *, above: int = OFFLOAD_BYTES) -> _T:
    """``work()`` inline when ``size`` is at most ``above`` bytes, else in a worker
    thread."""
    if size > above:
        return await asyncio.to_thread(work)
    return work()
