"""postseal's errors as POP3 ``-ERR`` replies, with the response codes of RFC 2449 §8
and RFC 3206: ``[AUTH]`` for credentials (and logins refused before TLS),
``[SYS/TEMP]`` for what may work later, ``[SYS/PERM]`` for what will not."""

from __future__ import annotations

from postseal.errors import (
    AuthenticationError,
    KeyCustodyError,
    PostsealError,
    StoreError,
    TemporaryError,
)

from .grammar import err

__all__ = ["refusal"]


def refusal(error: BaseException) -> bytes:
    """The ``-ERR`` line for ``error``; anything unexpected is a temporary failure whose
    details stay in the log."""
    if isinstance(error, AuthenticationError):
        return err(error.message, code="AUTH")
    if isinstance(error, TemporaryError | StoreError):
        return err(f"{error.message}; try again later", code="SYS/TEMP")
    if isinstance(error, KeyCustodyError):
        return err("the mail store cannot be opened; tell the administrator", code="SYS/PERM")
    if isinstance(error, PostsealError):
        return err(error.message)
    return err("internal error; try again later", code="SYS/TEMP")
