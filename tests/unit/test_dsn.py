"""RFC 3464 delivery status notifications: structure, field names, RET, validation."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from postseal.mail.dsn import DsnRecipient, build_dsn

ARRIVED = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
NOW = datetime(2026, 3, 2, 9, 15, 30, tzinfo=UTC)
ORIGINAL = (
    b"From: alice@example.org\r\nTo: carol@partner.test\r\nSubject: Quarterly figures\r\n"
    b"\r\nBODY-MARKER secret numbers\r\n"
)
CAROL = DsnRecipient(
    "carol@partner.test",
    "failed",
    "5.1.1",
    "550 5.1.1 <carol@partner.test>: Recipient address rejected",
    original_recipient="rfc822;Carol@Partner.test",
    last_attempt=NOW,
)


def _dsn(**changes: object) -> bytes:
    values: dict[str, object] = {
        "reporting_mta": "mx.example.org",
        "original_envelope_id": "QQ314159",
        "arrival_date": ARRIVED,
        "recipients": [CAROL],
        "original": ORIGINAL,
        "ret": "HDRS",
        "message_id": "01JDSN@mx.example.org",
        "date": NOW,
        "from_address": "MAILER-DAEMON@mx.example.org",
        "to_address": "alice@example.org",
    }
    values.update(changes)
    return build_dsn(**values)  # type: ignore[arg-type]


def _parse(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_a_dsn_is_a_multipart_report_with_the_rfc_3464_fields() -> None:
    data = _dsn()
    report = _parse(data)
    assert report.get_content_type() == "multipart/report"
    assert report.get_param("report-type") == "delivery-status"
    assert report["Auto-Submitted"] == "auto-replied"
    assert report["Message-ID"] == "<01JDSN@mx.example.org>"
    human, status, returned = report.iter_parts()
    assert human.get_content_type() == "text/plain"
    assert "carol@partner.test" in human.get_content()
    assert status.get_content_type() == "message/delivery-status"
    per_message, per_recipient = status.get_payload()
    assert list(per_message.keys()) == ["Reporting-MTA", "Original-Envelope-Id", "Arrival-Date"]
    assert per_message["Reporting-MTA"] == "dns; mx.example.org"
    assert per_message["Arrival-Date"] == "Mon, 02 Mar 2026 08:00:00 +0000"
    assert list(per_recipient.keys()) == [
        "Original-Recipient",
        "Final-Recipient",
        "Action",
        "Status",
        "Diagnostic-Code",
        "Last-Attempt-Date",
    ]
    assert per_recipient["Original-Recipient"] == "rfc822; Carol@Partner.test"
    assert per_recipient["Final-Recipient"] == "rfc822; carol@partner.test"
    assert per_recipient["Status"] == "5.1.1"
    assert per_recipient["Diagnostic-Code"] == (
        "smtp; 550 5.1.1 <carol@partner.test>: Recipient address rejected"
    )
    assert returned.get_content_type() == "text/rfc822-headers"
    assert b"BODY-MARKER" not in data  # HDRS: the body stays home
    assert b"Subject: Quarterly figures" in data


def test_every_line_ends_in_crlf_and_the_output_is_deterministic() -> None:
    data = _dsn()
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert data == _dsn()
    assert all(len(line) <= 78 for line in data.split(b"\r\n"))


def test_ret_full_returns_the_whole_message() -> None:
    data = _dsn(ret="FULL")
    returned = list(_parse(data).iter_parts())[2]
    assert returned.get_content_type() == "message/rfc822"
    assert ORIGINAL in data


def test_without_ret_the_headers_return_and_without_original_nothing_does() -> None:
    assert b"text/rfc822-headers" in _dsn(ret=None)
    assert b"BODY-MARKER" not in _dsn(ret=None)
    assert len(list(_parse(_dsn(original=None)).iter_parts())) == 2


def test_tuples_several_recipients_and_own_diagnostics() -> None:
    data = _dsn(
        recipients=[
            ("a@p.test", "failed", "4.4.7", "delivery time expired"),
            ("b@p.test", "delayed", "4.0.0", None),
        ],
        original_envelope_id=None,
    )
    _, status, _ = _parse(data).iter_parts()
    per_message, first, second = status.get_payload()
    assert "Original-Envelope-Id" not in per_message
    assert first["Diagnostic-Code"] == "X-Postseal; delivery time expired"
    assert (second["Action"], second["Status"]) == ("delayed", "4.0.0")
    assert "Diagnostic-Code" not in second


def test_a_long_diagnostic_is_folded_and_a_crlf_in_it_cannot_add_a_field() -> None:
    long = "550 5.7.1 " + "very long explanation " * 12 + "\r\nBcc: mallory@evil.test"
    data = _dsn(recipients=[("a@p.test", "failed", "5.7.1", long)])
    assert all(len(line) <= 78 for line in data.split(b"\r\n"))
    assert b"\r\nBcc:" not in data
    _, status, _ = _parse(data).iter_parts()
    code = " ".join(status.get_payload()[1]["Diagnostic-Code"].split())
    assert code.startswith("smtp; 550 5.7.1 very long explanation very long")
    assert code.endswith("Bcc: mallory@evil.test")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"recipients": []}, "at least one recipient"),
        ({"recipients": [("a@p.test", "bounced", "5.0.0", None)]}, "action"),
        ({"recipients": [("a@p.test", "failed", "5.0", None)]}, "RFC 3463"),
        ({"recipients": [("a@p.test", "failed", "2.0.0", None)]}, "does not fit"),
        ({"recipients": [("a@p.test", "delivered", "5.0.0", None)]}, "does not fit"),
        ({"ret": "BODY"}, "RET"),
    ],
)
def test_bad_input_is_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _dsn(**changes)
