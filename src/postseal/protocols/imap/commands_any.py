"""Commands valid in any state, and the ones that only wait: CAPABILITY, NOOP, LOGOUT
(RFC 3501 §6.1), CHECK (§6.4.1), ID (RFC 2971), ENABLE (RFC 5161), NAMESPACE (RFC 2342)
and IDLE (RFC 2177)."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from postseal.protocols.imap import Continuation, Tagged, Untagged, data, is_idle_done
from postseal.protocols.imap.commands import (
    Capability,
    Check,
    Enable,
    Id,
    Idle,
    Logout,
    Namespace,
    Noop,
)
from postseal.services.mailbox_access import OTHER_USERS, SHARED

from .replies import Stage
from .session_handlers import Need, Registry

if TYPE_CHECKING:
    from .session import ImapSession

__all__ = ["HANDLERS"]

HANDLERS = Registry()
_ENABLEABLE = ("CONDSTORE", "UTF8=ACCEPT")
_IDLE_POLL = 0.3  # seconds per wait_for_change call: bounds the delay of DONE


@HANDLERS.on(Capability, Need.ANY, Stage.AUTH)
async def capability(session: ImapSession, command: Capability) -> Tagged:
    session.send(data.CapabilityData(session.capabilities()))
    return Tagged(command.tag, "OK", "CAPABILITY completed")


@HANDLERS.on(Noop, Need.ANY, Stage.AUTH)
async def noop(session: ImapSession, command: Noop) -> Tagged:
    return Tagged(command.tag, "OK", "NOOP completed")


@HANDLERS.on(Check, Need.SELECTED)
async def check(session: ImapSession, command: Check) -> Tagged:
    return Tagged(command.tag, "OK", "CHECK completed")


@HANDLERS.on(Logout, Need.ANY, Stage.AUTH)
async def logout(session: ImapSession, command: Logout) -> Tagged:
    session.send(Untagged("BYE", "postseal logging out"))
    session.closing = True
    return Tagged(command.tag, "OK", "LOGOUT completed")


@HANDLERS.on(Id, Need.ANY, Stage.AUTH)
async def identify(session: ImapSession, command: Id) -> Tagged:
    """RFC 2971 §3.3: the server's own identification, whatever the client sent."""
    session.send(data.IdData((("name", "postseal"), ("vendor", "postseal"))))
    return Tagged(command.tag, "OK", "ID completed")


@HANDLERS.on(Enable, Need.AUTHENTICATED, Stage.AUTH)
async def enable(session: ImapSession, command: Enable) -> Tagged:
    """RFC 5161 §3.1: unknown capabilities are ignored; each is announced once."""
    enabled: list[str] = []
    for name in command.capabilities:
        if name == "CONDSTORE" and not session.condstore:
            session.condstore = True
            enabled.append(name)
        elif name == "UTF8=ACCEPT" and not session.utf8:
            session.utf8 = True
            enabled.append(name)
    session.send(data.Enabled(tuple(enabled)))
    return Tagged(command.tag, "OK", "ENABLE completed")


@HANDLERS.on(Namespace, Need.AUTHENTICATED)
async def namespace(session: ImapSession, command: Namespace) -> Tagged:
    session.send(
        data.NamespaceData(other=((f"{OTHER_USERS}/", "/"),), shared=((f"{SHARED}/", "/"),))
    )
    return Tagged(command.tag, "OK", "NAMESPACE completed")


@HANDLERS.on(Idle, Need.AUTHENTICATED)
async def idle(session: ImapSession, command: Idle) -> Tagged:
    """RFC 2177 §3: report changes of the selected mailbox as they happen, until the
    client sends ``DONE``. The store is asked with a short timeout in a loop
    (``wait_for_change`` polls HIGHESTMODSEQ), so a delivery by any process shows within
    its poll interval, well under a second."""
    session.send(Continuation("idling"))
    await session.sync()
    await session.flush()
    deadline = time.monotonic() + session.ctx.limits.idle_timeout
    done = asyncio.ensure_future(session.read_line(session.ctx.limits.idle_timeout))
    try:
        while not done.done():
            view = session.selected
            if view is not None:
                waiter: asyncio.Future[bool] = asyncio.ensure_future(
                    session.ctx.mailboxes.wait_for_change(
                        view.mailbox.id, view.modseq, timeout=_IDLE_POLL
                    )
                )
            else:
                waiter = asyncio.ensure_future(asyncio.sleep(_IDLE_POLL, result=False))
            both: set[asyncio.Future[Any]] = {done, waiter}
            finished, _ = await asyncio.wait(both, return_when=asyncio.FIRST_COMPLETED)
            if waiter not in finished:
                # Cancelling a store call half-way could leave its connection in an
                # unknown state: let it finish, it returns within _IDLE_POLL.
                await asyncio.wait({waiter})
                break
            if view is not None and (waiter.exception() is not None or waiter.result()):
                await session.sync()
                await session.flush()
            if session.closing or time.monotonic() > deadline:
                break
    finally:
        if not done.done():
            done.cancel()
    if session.closing:
        return Tagged(command.tag, "OK", "IDLE terminated")
    if done.cancelled() or done.exception() is not None:
        session.send(Untagged("BYE", "Autologout, idle for too long"))
        session.closing = True
        return Tagged(command.tag, "OK", "IDLE terminated")
    line = done.result()
    if line is None:
        session.closing = True
        return Tagged(command.tag, "OK", "IDLE terminated")
    if not is_idle_done(line):
        return Tagged(command.tag, "BAD", "expected DONE to end IDLE")
    return Tagged(command.tag, "OK", "IDLE terminated")
