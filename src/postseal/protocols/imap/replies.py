"""IMAP replies: the error family turned into ``NO [code] …``, and nothing else.

Response codes follow RFC 5530 (IMAP response codes) and RFC 3501 §7.1; which code an
error gets can depend on the command (:class:`Stage`): a missing mailbox is
``[NONEXISTENT]`` for SELECT but ``[TRYCREATE]`` for APPEND, COPY and MOVE (RFC 3501
§6.3.11). Refusals caused by the client's own input repeat the error's message; failures
on our side get a fixed text and the details go to the log only. No reply holds a
secret, a traceback or a line break (:class:`~postseal.protocols.imap.responses.Tagged`
keeps text on one 7-bit line).
"""

from __future__ import annotations

import enum

from postseal import errors
from postseal.protocols.imap.responses import Code, Tagged
from postseal.services.mailboxes import OverQuotaError

__all__ = ["SERVERBUG_TEXT", "Stage", "reply_for_error"]

SERVERBUG_TEXT = "Internal error on this server, try again later"
_MAX_TEXT = 300


class Stage(enum.Enum):
    """What kind of command is being answered."""

    AUTH = "auth"
    SELECT = "select"  # SELECT, EXAMINE, STATUS, DELETE, SUBSCRIBE, LIST
    CREATE = "create"  # CREATE, RENAME
    DELIVER = "deliver"  # APPEND, COPY, MOVE: the mailbox named is the target
    MESSAGE = "message"  # FETCH, STORE, SEARCH, EXPUNGE


def _text(error: errors.PostsealError) -> str:
    text = error.message if not error.hint else f"{error.message} ({error.hint})"
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 3] + "..."


def reply_for_error(tag: str, error: BaseException, stage: Stage) -> Tagged:
    """The tagged response for ``error`` raised while serving a command of ``stage``.
    Unexpected exceptions become ``NO [SERVERBUG]``; the caller logs their traceback."""
    if not isinstance(error, errors.PostsealError):
        return Tagged(tag, "NO", SERVERBUG_TEXT, Code("SERVERBUG"))
    if isinstance(error, errors.ThrottledError):
        return Tagged(tag, "NO", "Too many failed logins, try again later", Code("UNAVAILABLE"))
    if isinstance(error, errors.AuthenticationError):
        # One text for a wrong user and a wrong password (RFC 5530 §3 AUTHENTICATIONFAILED).
        return Tagged(tag, "NO", "Authentication failed", Code("AUTHENTICATIONFAILED"))
    if isinstance(error, errors.TemporaryError | errors.StoreError | errors.PeerError):
        return Tagged(
            tag, "NO", "Temporary failure on this server, try again later", Code("UNAVAILABLE")
        )
    if isinstance(error, errors.KeyCustodyError):
        return Tagged(tag, "NO", "The mail store is locked, try again later", Code("UNAVAILABLE"))
    if stage is Stage.AUTH:
        return Tagged(
            tag, "NO", "Authentication is unavailable, try again later", Code("UNAVAILABLE")
        )
    text = _text(error)
    if isinstance(error, errors.NotFoundError):
        code = "TRYCREATE" if stage is Stage.DELIVER else "NONEXISTENT"
        return Tagged(tag, "NO", text, Code(code))
    if isinstance(error, errors.ConflictError):
        code = "ALREADYEXISTS" if stage is Stage.CREATE else "CANNOT"
        return Tagged(tag, "NO", text, Code(code))
    if isinstance(error, errors.TooLargeError):
        return Tagged(tag, "NO", text, Code("TOOBIG"))
    if isinstance(error, errors.MessageFormatError):
        return Tagged(tag, "NO", text, Code("PARSE"))
    if isinstance(error, OverQuotaError):
        return Tagged(tag, "NO", text, Code("OVERQUOTA"))
    if isinstance(error, errors.PolicyError):
        return Tagged(tag, "NO", text, Code("NOPERM"))
    if isinstance(error, errors.InputError):
        return Tagged(tag, "NO", text, Code("CANNOT"))
    return Tagged(tag, "NO", SERVERBUG_TEXT, Code("SERVERBUG"))
