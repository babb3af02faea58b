"""SMTP replies: the error family turned into ``550 5.1.1 …`` lines, and nothing else.

Reply codes follow RFC 5321 §4.2; enhanced status codes follow RFC 3463 and are present
in every 2xx/4xx/5xx reply except the greeting and the EHLO/HELO reply, as RFC 2034 §3
(ENHANCEDSTATUSCODES) requires. The engine's built-in replies (aiosmtpd answers some
commands itself) get theirs in :func:`normalise`.

What a reply may say: refusals caused by the client's own input (an unknown recipient, a
policy refusal naming recipients without certificates) repeat the error's message; failures
on our side (store, scanner, a bug) get a fixed text, and the details go to the log only.
No reply contains a secret, a traceback or a line break.
"""

from __future__ import annotations

import enum
import re

from postseal import errors

from .grammar import UnsupportedParameterError

__all__ = [
    "INTERNAL_ERROR",
    "Stage",
    "normalise",
    "one_line",
    "reply_for_error",
]

INTERNAL_ERROR = "451 4.3.0 Temporary failure on this server, try again later"
_AUTH_INVALID = "535 5.7.8 Authentication credentials invalid"
_AUTH_THROTTLED = "454 4.7.0 Too many failures, try again later"
_AUTH_TEMPORARY = "454 4.7.0 Temporary authentication failure, try again later"
# RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets including the code and CRLF.
_MAX_TEXT = 400
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_HAS_ENHANCED = re.compile(r"\A[245]\d\d[ -][245]\.\d{1,3}\.\d{1,3}(?: |\Z)")

# Built-in aiosmtpd texts that deserve a clearer wording (RFC 5321 §4.5.3.1.4-6).
_REWORDED = {
    "500 Command line too long": "500 5.5.2 Line too long",
    "500 Error: bad syntax": "500 5.5.2 Syntax error, command unrecognised",
    "500 Error: strict ASCII mode": "500 5.5.2 Syntax error, non-ASCII command",
    "503 Error: send HELO first": "503 5.5.1 Send EHLO first",
    "503 Already authenticated": "503 5.5.1 Already authenticated",
}

# RFC 3463 §3.5 default detail per reply code, for built-in replies that carry none.
_DEFAULT_ENHANCED = {
    "221": "2.0.0",
    "235": "2.7.0",
    "250": "2.0.0",
    "252": "2.0.0",
    "421": "4.7.0",
    "451": "4.3.0",
    "452": "4.5.3",
    "454": "4.7.0",
    "500": "5.5.2",
    "501": "5.5.4",
    "502": "5.5.1",
    "503": "5.5.1",
    "504": "5.5.4",
    "530": "5.7.0",
    "535": "5.7.8",
    "538": "5.7.11",
    "550": "5.0.0",
    "552": "5.3.4",
    "553": "5.1.3",
    "554": "5.0.0",
    "555": "5.5.4",
}


class Stage(enum.Enum):
    """The command whose failure is being answered: the same error reads differently at
    RCPT (a recipient problem) than at MAIL (a sender problem)."""

    AUTH = "AUTH"
    MAIL = "MAIL"
    RCPT = "RCPT"
    DATA = "DATA"


def one_line(text: str) -> str:
    """``text`` as safe reply text: ASCII, no control characters, at most 400 octets."""
    flat = _CONTROL.sub(" ", text).strip()
    ascii_text = flat.encode("ascii", "replace").decode("ascii")
    if len(ascii_text) > _MAX_TEXT:
        ascii_text = ascii_text[: _MAX_TEXT - 3] + "..."
    return ascii_text


def reply_for_error(error: BaseException, stage: Stage) -> str:
    """The reply for ``error`` raised while serving ``stage``.

    Unexpected exceptions (not :class:`~postseal.errors.PostsealError`) become
    :data:`INTERNAL_ERROR`; the caller logs their traceback.
    """
    if not isinstance(error, errors.PostsealError):
        return INTERNAL_ERROR
    if isinstance(error, errors.ThrottledError):
        return _AUTH_THROTTLED
    if isinstance(error, errors.AuthenticationError):
        # One fixed text: "no such user" vs "wrong password" would let a client enumerate
        # accounts (RFC 4954 §6 recommends 535 5.7.8 for both).
        return _AUTH_INVALID
    if stage is Stage.AUTH:
        return _AUTH_TEMPORARY
    if isinstance(error, (errors.TemporaryError, errors.StoreError, errors.PeerError)):
        return INTERNAL_ERROR
    return _client_refusal(error, stage)


def _client_refusal(error: errors.PostsealError, stage: Stage) -> str:
    text = one_line(error.message)
    if isinstance(error, errors.RelayDeniedError):
        return f"554 5.7.1 Relaying denied: {text}"
    if isinstance(error, errors.SenderDeniedError):
        return f"553 5.7.1 {text}"
    if isinstance(error, errors.ContentRefusedError):
        return f"554 5.7.0 {text}"
    if isinstance(error, errors.PolicyError):
        return f"550 5.7.1 {text}"
    if isinstance(error, errors.TooLargeError):
        return f"552 5.3.4 {text}"
    if isinstance(error, errors.MessageFormatError):
        return f"554 5.6.0 {text}"
    if isinstance(error, errors.AddressError):
        # RFC 3463: X.1.7 bad sender address syntax, X.1.3 bad destination syntax.
        return f"553 5.1.7 {text}" if stage is Stage.MAIL else f"553 5.1.3 {text}"
    if isinstance(error, errors.NotFoundError):
        return f"550 5.1.0 {text}" if stage is Stage.MAIL else f"550 5.1.1 {text}"
    if isinstance(error, UnsupportedParameterError):
        return f"555 5.5.4 {text}"
    if isinstance(error, errors.InputError):
        return f"554 5.6.0 {text}" if stage is Stage.DATA else f"501 5.5.4 {text}"
    # ConfigError, ConflictError, KeyCustodyError: this server is not in a state to take
    # the message; the sender's MTA will retry.
    return INTERNAL_ERROR


def normalise(line: str) -> str:
    """A reply line as sent: one line of ASCII, with an enhanced status code when its
    class needs one (RFC 2034 §3). Continuation lines (``250-…``) and 3xx are left alone."""
    safe = one_line(line)
    if safe in _REWORDED:
        return _REWORDED[safe]
    code = safe[:3]
    if not code.isdigit() or code[0] not in "245" or safe[3:4] == "-":
        return safe
    if _HAS_ENHANCED.match(safe):
        return safe
    detail = _DEFAULT_ENHANCED.get(code, f"{code[0]}.0.0")
    rest = safe[4:].strip()
    return f"{code} {detail} {rest}" if rest else f"{code} {detail}"
