"""Fuzz target: MIME structure — ``postseal.mail.structure``: parse, envelope,
bodystructure, part contents and the to_summary/from_summary round trip.

The module promises that parsing never raises on message bytes, so here any exception is
a finding, as is a summary that does not read back to the same structure.
Run: ``python fuzz/mime_structure.py -max_total_time=60 corpus/`` (see fuzz/README.md).
"""

from __future__ import annotations

import contextlib
import sys

import _harness

from postseal.errors import PostsealError
from postseal.mail.structure import (
    MAX_PARTS,
    MessageStructure,
    Part,
    bodystructure,
    envelope,
    envelope_value,
    from_summary,
    parse,
    part_content,
    part_text,
    to_summary,
)
from postseal.mail.structure.summary import MAX_SUMMARY_HEADER

DICTIONARY = (
    b"Content-Type: multipart/mixed; boundary=",
    b"Content-Type: message/rfc822\r\n",
    b"Content-Type: text/plain; charset=",
    b"Content-Transfer-Encoding: base64\r\n",
    b"Content-Transfer-Encoding: quoted-printable\r\n",
    b"Content-Disposition: attachment; filename=",
    b"From: =?utf-8?b?w6k=?= <a@b.example>\r\n",
    b'To: group: a@b.example, "x y" <c@d.example>;\r\n',
    b"\r\n\r\n",
    b"\r\n--",
    b"--\r\n",
    b"\r\n ",
    b"=?",
    b"?=",
)


def _parts(part: Part) -> list[Part]:
    out = [part]
    for child in part.children:
        out.extend(_parts(child))
    return out


def test_one_input(data: bytes) -> None:
    with contextlib.suppress(PostsealError):
        msg = parse(data)
        parts = _parts(msg.root)
        assert len(parts) <= 2 * MAX_PARTS + 2, f"{len(parts)} parts"
        for part in parts:
            assert 0 <= part.start <= part.body_start <= part.end <= len(data), part
            part_content(data, part)
            part_text(data, part)
        envelope_value(envelope(msg))
        bodystructure(msg, extensible=True)
        bodystructure(msg, extensible=False)
        back = from_summary(to_summary(msg))
        expected = MessageStructure(msg.size, msg.header[:MAX_SUMMARY_HEADER], msg.root)
        assert back == expected, "the summary does not read back to the same structure"


def seeds() -> list[bytes]:
    found = _harness.shared_files(
        "mime/cpython-test_email/*",
        "mime/mimekit-messages/*",
        "smime/rfc4134/*.eml",
        "smime/thunderbird-signed/*.txt",
        limit=120,
        max_size=32 * 1024,
    )
    found.append(_harness.SAMPLE_MESSAGE)
    return found


if __name__ == "__main__":
    _harness.main(sys.modules[__name__])
