"""The compact (version 2) message summary, and version 1 summaries stored before it."""

from __future__ import annotations

import json

import pytest

from postseal.mail.structure import envelope, parse
from postseal.mail.structure import summary as s

RAW = (
    b"From: =?utf-8?q?J=C3=B6rg?= <joerg@example.net>\r\nTo: a@example.org, b@example.org\r\n"
    b"Subject: quarterly figures\r\nMessage-ID: <q1@example.net>\r\n"
    b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
    b"--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b\r\n"
    b"Content-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\nbody\r\n--b--\r\n"
)


def _version1(raw: bytes) -> bytes:
    """A summary as postseal wrote it before version 2."""
    msg = parse(raw)
    doc = {"v": 1, "size": msg.size, "header": msg.header.decode("latin-1"),
           "root": s._dump(msg.root)}  # fmt: skip
    return json.dumps(doc, separators=(",", ":")).encode("ascii")


def test_version2_round_trip_and_partial_reads() -> None:
    msg = parse(RAW)
    summary = s.to_summary(msg)
    assert summary.startswith(b"PSS2")
    assert s.from_summary(summary) == msg
    assert s.summary_envelope(summary) == envelope(msg)
    header_only = s.summary_header(summary)
    assert (header_only.size, header_only.header) == (msg.size, msg.header)


def test_version1_summaries_are_still_read() -> None:
    msg = parse(RAW)
    old = _version1(RAW)
    assert s.from_summary(old) == msg
    assert s.summary_envelope(old) == envelope(msg)
    assert s.summary_header(old).header == msg.header


@pytest.mark.parametrize(
    "data", [b"", b"PSS2", b"PSS9" + bytes(20), s.to_summary(parse(RAW))[:-1], b'{"v": 9}']
)
def test_corrupt_summaries_are_refused(data: bytes) -> None:
    for read in (s.from_summary, s.summary_envelope, s.summary_header):
        with pytest.raises(s.SummaryError):
            read(data)
