"""MIME structure of a message with byte offsets (RFC 2045-2049; RFC 3501 §6.4.5, §7.4.2).

:func:`parse` reads a raw message (CRLF or LF line ends) once into a tree of :class:`Part`
values; every part records where its header and body lie in the raw bytes, so a section
(``BODY[1.2.MIME]``) is a slice, never a re-serialisation — a signed part reads back
byte-exact. Sizes and line counts are those of the bytes as given: store messages with
CRLF line ends and they are the sizes IMAP clients expect.

Parsing never raises on message bytes. Malformed input is read the way common servers
read it: a line that is not a header field ends the header; a multipart without a
boundary parameter, or whose boundary never appears, holds one headerless text/plain
part; a missing closing delimiter ends the last part at the end of the body; preamble and
epilogue are skipped. Nesting stops at :data:`MAX_DEPTH` and the part count at
:data:`MAX_PARTS` (deeper or further parts are opaque application/octet-stream leaves);
header-derived strings kept per part are cut at :data:`MAX_FIELD` characters.

:func:`to_summary` / :func:`from_summary` keep what ENVELOPE, BODYSTRUCTURE, RFC822.SIZE,
header sections and header SEARCH keys need, so the store can answer them without the body.

Header text is kept as the bytes were (UTF-8 with ``surrogateescape``, RFC 2047 words
still encoded, as ENVELOPE requires); :func:`decode_header_value` decodes for display and
search.
"""

from __future__ import annotations

from postseal.mail.structure.envelope import (
    Address,
    BodyValue,
    Envelope,
    decode_header_value,
    envelope_value,
    parse_addresses,
)
from postseal.mail.structure.parts import (
    MAX_DEPTH,
    MAX_PARTS,
    MessageStructure,
    Part,
    envelope,
    header_fields,
    header_values,
    parse,
    part_content,
    part_text,
    resolve,
    section,
    select_fields,
)
from postseal.mail.structure.summary import (
    SummaryError,
    bodystructure,
    from_summary,
    to_summary,
)

__all__ = [
    "MAX_DEPTH",
    "MAX_PARTS",
    "Address",
    "BodyValue",
    "Envelope",
    "MessageStructure",
    "Part",
    "SummaryError",
    "bodystructure",
    "decode_header_value",
    "envelope",
    "envelope_value",
    "from_summary",
    "header_fields",
    "header_values",
    "parse",
    "parse_addresses",
    "part_content",
    "part_text",
    "resolve",
    "section",
    "select_fields",
    "to_summary",
]
