"""The one error family of postseal.

Every failure that a user or a peer can cause is a :class:`PostsealError`. The core
raises these; only the edges turn them into a wire reply (an SMTP ``550 5.1.1``, an IMAP
``NO``, a POP3 ``-ERR``, an HTTP status) or a CLI exit status. No error here knows about
any protocol.

::

    PostsealError                  message (what happened) + hint (what to do next)
     ├── ConfigError               bad postseal.toml / POSTSEAL_* value, unknown key
     ├── InputError                malformed input from a user or a peer
     │    ├── AddressError         not a valid mailbox address
     │    ├── CertificateFormatError  corrupt PEM/DER/PKCS#12, wrong password
     │    ├── MessageFormatError   a message that breaks RFC 5322 (NUL, bare CR, injection)
     │    └── TooLargeError        over a size limit (message, line, recipients)
     ├── NotFoundError             unknown user, serial, template, trust entry
     ├── ConflictError             duplicate address, second init, state that forbids it
     ├── AuthenticationError       wrong credentials, disabled account
     │    └── ThrottledError       too many failures: try again later
     ├── KeyCustodyError           master key missing or wrong: nothing is touched
     ├── PolicyError               refused by policy (e.g. cannot encrypt to recipients)
     │    ├── RelayDeniedError     a recipient that is neither local nor allowed to relay to
     │    ├── SenderDeniedError    a sender address the client may not use
     │    └── ContentRefusedError  content refused (virus, unscannable by policy)
     ├── StoreError                database unreachable, schema not current
     ├── PeerError                 an outside component (CRL host, scanner) failed
     └── TemporaryError            a transient failure: the client should retry later

Messages are complete sentences that say what happened; ``hint`` says what to do next.
Neither ever contains a secret.
"""

from __future__ import annotations

__all__ = [
    "AddressError",
    "AuthenticationError",
    "CertificateFormatError",
    "ConfigError",
    "ConflictError",
    "ContentRefusedError",
    "InputError",
    "KeyCustodyError",
    "MessageFormatError",
    "NotFoundError",
    "PeerError",
    "PolicyError",
    "PostsealError",
    "RelayDeniedError",
    "SenderDeniedError",
    "StoreError",
    "TemporaryError",
    "ThrottledError",
    "TooLargeError",
]


class PostsealError(Exception):
    """Base of every expected failure; ``str(err)`` is the one-line user message."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} — {self.hint}"
        return self.message


class ConfigError(PostsealError):
    """A configuration value is unknown, malformed or out of range."""


class InputError(PostsealError):
    """Input from a user or a peer is malformed; nothing was changed."""


class AddressError(InputError):
    """A mailbox address is not valid (RFC 5321 §4.1.2, RFC 6531)."""


class CertificateFormatError(InputError):
    """A certificate, key, CRL or PKCS#12 file cannot be read."""


class NotFoundError(PostsealError):
    """The named object (user, certificate serial, template, …) does not exist."""


class ConflictError(PostsealError):
    """The request conflicts with existing state (duplicate, already initialised, …)."""


class AuthenticationError(PostsealError):
    """Credentials were wrong or the account may not log in."""


class KeyCustodyError(PostsealError):
    """The master key is missing or is not the one that protects this store."""


class PolicyError(PostsealError):
    """The organisation's policy refuses the request."""


class StoreError(PostsealError):
    """The store cannot be reached or is not at the expected schema revision."""


class PeerError(PostsealError):
    """An outside component did not answer or answered wrongly."""


class MessageFormatError(InputError):
    """A message breaks RFC 5322 / RFC 5321 in a way postseal refuses (NUL, bare CR, …)."""


class TooLargeError(InputError):
    """Over a configured limit: message size, line length, number of recipients."""


class ThrottledError(AuthenticationError):
    """Too many recent failures from this client or for this account; retry later."""


class RelayDeniedError(PolicyError):
    """The recipient is not local and this client may not relay (RFC 5321 §3.6.2)."""


class SenderDeniedError(PolicyError):
    """The authenticated client may not send as this address."""


class ContentRefusedError(PolicyError):
    """The content is refused: infected, or unscannable and the policy refuses it."""


class TemporaryError(PostsealError):
    """A transient failure (store busy, scanner down): the peer should retry later."""
