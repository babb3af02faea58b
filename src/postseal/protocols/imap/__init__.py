"""IMAP4rev1/rev2 wire format, pure (RFC 3501, RFC 9051 where cheap, and extensions).

The session layer uses:

- :func:`parse_command` (bytes → a command, :class:`NeedLiteral`, :class:`Incomplete` or
  :class:`BadCommand`), :func:`is_idle_done`, :func:`parse_sasl_response`;
- the command classes of :mod:`.commands`;
- responses that serialise themselves: :mod:`.responses` (tagged, untagged status,
  continuation, response codes) and :mod:`.data` (EXISTS, FETCH, LIST, STATUS, …);
- :func:`.fetch.render` for FETCH items, :func:`.search.matches` for SEARCH;
- :class:`.sets.SequenceSet` and the modified UTF-7 helpers of :mod:`.utf7`.

Nothing here does I/O, reads a clock or raises on client input.
"""

from __future__ import annotations

from postseal.protocols.imap import commands, data, responses, search, utf7
from postseal.protocols.imap.fetch import FetchSource, format_internal_date
from postseal.protocols.imap.fetch import render as render_fetch
from postseal.protocols.imap.grammar import (
    BadCommand,
    Incomplete,
    NeedLiteral,
    ParseResult,
    is_idle_done,
    parse_command,
    parse_sasl_response,
)
from postseal.protocols.imap.responses import Code, Continuation, Tagged, Untagged
from postseal.protocols.imap.search import Candidate, matches
from postseal.protocols.imap.sets import SequenceSet

__all__ = [
    "BadCommand",
    "Candidate",
    "Code",
    "Continuation",
    "FetchSource",
    "Incomplete",
    "NeedLiteral",
    "ParseResult",
    "SequenceSet",
    "Tagged",
    "Untagged",
    "commands",
    "data",
    "format_internal_date",
    "is_idle_done",
    "matches",
    "parse_command",
    "parse_sasl_response",
    "render_fetch",
    "responses",
    "search",
    "utf7",
]
