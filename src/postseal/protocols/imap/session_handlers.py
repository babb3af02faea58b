"""How command modules register their handlers with the session (one table per family).

A handler answers one command class: it may send untagged responses through the
session and returns the tagged one. ``need`` is the connection state the command is
valid in (RFC 3501 §3, §6); ``stage`` picks the response codes its errors get
(:mod:`.replies`).
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from postseal.protocols.imap.commands import Command
from postseal.protocols.imap.responses import Tagged

from .replies import Stage

if TYPE_CHECKING:
    from .session import ImapSession

__all__ = ["Handler", "Need", "Registry"]


class Need(enum.Enum):
    ANY = "any"
    NOT_AUTHENTICATED = "not authenticated"
    AUTHENTICATED = "authenticated"
    SELECTED = "selected"


@dataclass(frozen=True, slots=True)
class Handler:
    need: Need
    stage: Stage
    run: Callable[[ImapSession, Any], Awaitable[Tagged]]


class Registry(dict[type[Command], Handler]):
    def on(
        self, command: type[Command], need: Need, stage: Stage = Stage.MESSAGE
    ) -> Callable[
        [Callable[[ImapSession, Any], Awaitable[Tagged]]],
        Callable[[ImapSession, Any], Awaitable[Tagged]],
    ]:
        def register(
            run: Callable[[ImapSession, Any], Awaitable[Tagged]],
        ) -> Callable[[ImapSession, Any], Awaitable[Tagged]]:
            self[command] = Handler(need, stage, run)
            return run

        return register
