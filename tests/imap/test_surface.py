"""The public surface of the IMAP wire package and of mail.structure is pinned."""

from __future__ import annotations

import postseal.mail.structure as structure
import postseal.protocols.imap as imap


def test_imap_surface() -> None:
    assert sorted(imap.__all__) == sorted([
        "BadCommand", "Candidate", "Code", "Continuation", "FetchSource", "Incomplete",
        "NeedLiteral", "ParseResult", "SequenceSet", "Tagged", "Untagged", "commands", "data",
        "format_internal_date", "is_idle_done", "matches", "parse_command",
        "parse_sasl_response", "render_fetch", "responses", "search", "utf7",
    ])  # fmt: skip
    for name in imap.__all__:
        assert hasattr(imap, name)


def test_structure_surface() -> None:
    assert sorted(structure.__all__) == sorted([
        "MAX_DEPTH", "MAX_PARTS", "Address", "BodyValue", "Envelope", "MessageStructure",
        "Part", "SummaryError", "bodystructure", "decode_header_value", "envelope",
        "envelope_value", "from_summary", "header_fields", "header_values", "parse",
        "parse_addresses", "part_content", "part_text", "resolve", "section", "select_fields",
        "to_summary",
    ])  # fmt: skip
    for name in structure.__all__:
        assert hasattr(structure, name)
