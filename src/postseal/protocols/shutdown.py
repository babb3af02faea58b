"""Graceful shutdown of a listener's sessions, the same for every protocol that has it.

Each session is asked to end (it answers with its protocol's goodbye: SMTP ``421``, IMAP
``* BYE``) and given ``grace`` seconds to close; sessions still open then are aborted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Protocol

__all__ = ["ClosableSession", "drain_sessions"]

log = logging.getLogger("postseal.shutdown")


class ClosableSession(Protocol):
    def shutdown(self) -> None:
        """Say goodbye and close, unless busy with work that must finish first."""
        ...

    async def wait_closed(self) -> None: ...
    def abort(self) -> None:
        """Drop the connection now."""
        ...


async def drain_sessions(kind: str, sessions: Iterable[ClosableSession], *, grace: float) -> None:
    """End every session in ``sessions``; the set may shrink while this runs."""
    current = list(sessions)
    for session in current:
        session.shutdown()
    waiters = [asyncio.ensure_future(session.wait_closed()) for session in current]
    if not waiters:
        return
    _, late = await asyncio.wait(waiters, timeout=grace)
    if late:
        log.warning("%s: %d sessions did not close in time", kind, len(late))
        for session in list(sessions):
            session.abort()
        await asyncio.wait(late, timeout=1.0)
        for waiter in late:
            waiter.cancel()
