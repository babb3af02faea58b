"""The not-authenticated state: STARTTLS, LOGIN and AUTHENTICATE PLAIN (RFC 3501 §6.2,
RFC 4959 SASL-IR, RFC 4616 PLAIN).

No password is taken over plaintext: before TLS the capability list says LOGINDISABLED
and offers no AUTH= mechanism, and LOGIN/AUTHENTICATE get ``NO [PRIVACYREQUIRED]``
(RFC 3501 §6.2.3, RFC 5530 §3). A failed login waits ``auth_failure_delay`` seconds and
counts towards ``max_auth_failures``; throttling across connections is the
authenticator's (AuthThrottle).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from postseal.errors import AuthenticationError
from postseal.protocols.imap import Code, Continuation, Tagged, Untagged, parse_sasl_response
from postseal.protocols.imap.commands import Authenticate, Login, StartTLS
from postseal.protocols.imap.grammar import BadCommand

from .replies import Stage, reply_for_error
from .session_handlers import Need, Registry

if TYPE_CHECKING:
    from .session import ImapSession

__all__ = ["HANDLERS"]

log = logging.getLogger("postseal.imap")
HANDLERS = Registry()
_PRIVACY = "Log in over TLS: use STARTTLS first, or the imaps port"


@HANDLERS.on(StartTLS, Need.NOT_AUTHENTICATED, Stage.AUTH)
async def starttls(session: ImapSession, command: StartTLS) -> Tagged:
    """RFC 3501 §6.2.1; the handshake starts once the tagged OK is on the wire."""
    if session.tls_active or session.ctx.starttls is None:
        return Tagged(command.tag, "BAD", "TLS is already active")
    session.pending_tls = session.ctx.starttls
    return Tagged(command.tag, "OK", "Begin TLS negotiation now")


@HANDLERS.on(Login, Need.NOT_AUTHENTICATED, Stage.AUTH)
async def login(session: ImapSession, command: Login) -> Tagged:
    if not session.tls_active:
        return Tagged(command.tag, "NO", _PRIVACY, Code("PRIVACYREQUIRED"))
    return await _authenticate(session, command.tag, command.userid, command.password)


@HANDLERS.on(Authenticate, Need.NOT_AUTHENTICATED, Stage.AUTH)
async def authenticate(session: ImapSession, command: Authenticate) -> Tagged:
    if not session.tls_active:
        return Tagged(command.tag, "NO", _PRIVACY, Code("PRIVACYREQUIRED"))
    if command.mechanism != "PLAIN":
        return Tagged(
            command.tag, "NO", f"unsupported SASL mechanism {command.mechanism}; use PLAIN"
        )
    response = command.initial_response
    if response is None:
        session.send(Continuation(data=b""))
        await session.flush()
        line = await session.read_line(session.ctx.limits.login_timeout)
        if line is None:
            session.closing = True
            return Tagged(command.tag, "BAD", "connection closed during AUTHENTICATE")
        answer = parse_sasl_response(line)
        if answer is None:
            return Tagged(command.tag, "BAD", "AUTHENTICATE cancelled")
        if isinstance(answer, BadCommand):
            return Tagged(command.tag, "BAD", answer.message)
        response = answer
    parts = response.split(b"\x00")
    if len(parts) != 3:
        return Tagged(command.tag, "BAD", "a PLAIN response is authzid NUL authcid NUL password")
    try:
        authzid, authcid, password = (p.decode("utf-8") for p in parts)
    except UnicodeDecodeError:
        return Tagged(command.tag, "BAD", "the PLAIN response is not UTF-8")
    if authzid and authzid.lower() != authcid.lower():
        return Tagged(
            command.tag,
            "NO",
            "logging in as another user is not allowed",
            Code("AUTHORIZATIONFAILED"),
        )
    return await _authenticate(session, command.tag, authcid, password)


async def _authenticate(session: ImapSession, tag: str, username: str, password: str) -> Tagged:
    try:
        user = await session.ctx.authenticate(username, password, session.client)
    except AuthenticationError as exc:
        return await _failed(session, tag, exc)
    if not session.login(user):
        return Tagged(
            tag, "NO", "Too many sessions for this account, close one and retry", Code("LIMIT")
        )
    log.info("%s: logged in as %s", session.client, user.address)
    await session.ctx.mailboxes.ensure_defaults(user)
    return Tagged(tag, "OK", "Logged in", Code.capability(session.capabilities()))


async def _failed(session: ImapSession, tag: str, error: AuthenticationError) -> Tagged:
    session.auth_failures += 1
    log.info("%s: login failed (%d)", session.client, session.auth_failures)
    await asyncio.sleep(session.ctx.limits.auth_failure_delay)
    if session.auth_failures >= session.ctx.limits.max_auth_failures:
        session.send(Untagged("BYE", "Too many failed logins"))
        session.closing = True
    return reply_for_error(tag, error, Stage.AUTH)
