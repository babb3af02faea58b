"""SASL PLAIN (RFC 4616) and LOGIN exchanges for SMTP AUTH (RFC 4954 §4).

This module only obtains the credentials; checking them is the intake's job, which runs
argon2 off the event loop — aiosmtpd's own ``authenticator`` hook is synchronous, hence
this. The password is never logged, never put in a reply and never kept after the check.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable

from postseal.errors import InputError

__all__ = ["MECHANISMS", "Challenge", "read_credentials"]

MECHANISMS = ("PLAIN", "LOGIN")

Challenge = Callable[[bytes], Awaitable[bytes | None]]
"""Send ``334 base64(prompt)`` and return the client's decoded answer, or ``None`` when
the client cancelled with ``*`` or sent invalid base64 (the challenger has replied)."""


async def read_credentials(
    mechanism: str, initial: str | None, challenge: Challenge
) -> tuple[str, str] | None:
    """(username, password) for ``AUTH mechanism [initial-response]``; ``None`` when the
    client cancelled. Malformed responses raise :class:`~postseal.errors.InputError`."""
    if mechanism == "PLAIN":
        raw = _initial(initial) if initial is not None else await challenge(b"")
        return None if raw is None else _split_plain(raw)
    if mechanism == "LOGIN":
        # draft-murchison-sasl-login: the prompts are "Username:" and "Password:".
        user = _initial(initial) if initial is not None else await challenge(b"Username:")
        if user is None:
            return None
        password = await challenge(b"Password:")
        if password is None:
            return None
        return _text(user), _text(password)
    raise ValueError(f"unsupported mechanism {mechanism}")


def _initial(text: str) -> bytes:
    if text == "=":  # RFC 4954 §4: "=" is a zero-length initial response
        return b""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InputError("the initial response is not valid base64") from None


def _split_plain(raw: bytes) -> tuple[str, str]:
    parts = raw.split(b"\x00")
    if len(parts) != 3:
        raise InputError("the PLAIN response must be authzid NUL user NUL password")
    authzid, user, password = parts[0], _text(parts[1]), _text(parts[2])
    if authzid and _text(authzid) != user:
        # RFC 4616 §2: acting as another identity is proxy authorization; we have none.
        raise InputError("authorizing as a different identity is not supported")
    return user, password


def _text(raw: bytes) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("credentials must be UTF-8") from None
    if not text or any(ord(c) < 0x20 for c in text):
        raise InputError("credentials must be non-empty and free of control characters")
    return text
