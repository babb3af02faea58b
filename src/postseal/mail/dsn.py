"""Delivery status notifications (RFC 3464), built as bytes. Pure: no clock, no I/O.

A DSN is a ``multipart/report; report-type=delivery-status`` (RFC 6522) with three parts:

1. a human-readable ``text/plain`` explanation;
2. ``message/delivery-status`` (RFC 3464 §2.1): the per-message fields of §2.2
   (``Reporting-MTA``, ``Original-Envelope-Id``, ``Arrival-Date``), a blank line, then
   one block of per-recipient fields (§2.3: ``Original-Recipient``, ``Final-Recipient``,
   ``Action``, ``Status``, ``Diagnostic-Code``, ``Last-Attempt-Date``,
   ``Will-Retry-Until``) for each recipient;
3. the returned content, chosen by the RET parameter of RFC 3461 §4.3: ``FULL`` returns
   the message as ``message/rfc822``, ``HDRS`` only its header as ``text/rfc822-headers``
   (RFC 6522 §4). Without RET postseal returns the headers: RFC 3461 §4.3 leaves the
   choice to the MTA, and a confidential body should not travel back unasked.

The DSN is sent with the null reverse-path (RFC 3464 §2, RFC 5321 §4.5.5), and marks
itself ``Auto-Submitted: auto-replied`` (RFC 3834 §5). Its MIME boundary is derived from
the message id and contents, so the same input gives the same bytes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime

__all__ = ["ACTIONS", "DsnRecipient", "build_dsn"]

ACTIONS = ("failed", "delayed", "delivered", "relayed", "expanded")  # RFC 3464 §2.3.3
_STATUS = re.compile(r"([245])\.\d{1,3}\.\d{1,3}\Z")  # RFC 3463 §2
_STATUS_CLASS = {"failed": "45", "delayed": "4", "delivered": "2", "relayed": "2", "expanded": "2"}
_SMTP_REPLY = re.compile(r"[245]\d\d[ -]")
_UNSAFE = re.compile(r"[^\x20-\x7e]")
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_SUBJECTS = {
    "failed": "Undelivered Mail Returned to Sender",
    "delayed": "Delayed Mail (still being retried)",
}
_MAX_LINE = 78


@dataclass(frozen=True, slots=True)
class DsnRecipient:
    """One recipient's block (RFC 3464 §2.3). ``diagnostic`` is the SMTP reply
    (``"550 5.1.1 no such user"``, typed ``smtp``) or a sentence of postseal's own
    (typed ``X-Postseal``); ``original_recipient`` is the ORCPT value (RFC 3461 §4.2),
    e.g. ``"rfc822;bob@example.org"``."""

    address: str
    action: str
    status: str
    diagnostic: str | None = None
    original_recipient: str | None = None
    last_attempt: datetime | None = None
    will_retry_until: datetime | None = None


def build_dsn(
    *,
    reporting_mta: str,
    original_envelope_id: str | None,
    arrival_date: datetime,
    recipients: Sequence[DsnRecipient | tuple[str, str, str, str | None]],
    original: bytes | None,
    ret: str | None,
    message_id: str,
    date: datetime,
    from_address: str,
    to_address: str,
) -> bytes:
    """The DSN for ``recipients`` of a message that arrived at ``arrival_date``, as a
    CRLF message ready to queue. ``recipients`` holds :class:`DsnRecipient` values or
    ``(address, action, status, diagnostic)`` tuples. ``original`` is the message (or
    only its header) to return per ``ret``; ``None`` returns nothing. ``message_id`` is
    the DSN's own id without angle brackets; ``from_address`` is typically
    ``MAILER-DAEMON@host``; ``to_address`` the original reverse-path.

    ValueError for an unknown action, a status that is not RFC 3463 or whose class does
    not fit the action, an unknown RET value, or no recipients.
    """
    blocks = [r if isinstance(r, DsnRecipient) else DsnRecipient(*r) for r in recipients]
    if not blocks:
        raise ValueError("a DSN needs at least one recipient")
    for block in blocks:
        _check(block)
    if ret not in (None, "FULL", "HDRS"):
        raise ValueError(f"RET must be FULL or HDRS (RFC 3461 §4.3), not {ret!r}")
    returned = _returned_part(original, full=ret == "FULL")
    status = _delivery_status(reporting_mta, original_envelope_id, arrival_date, blocks)
    human = _human_text(reporting_mta, blocks)
    boundary = _boundary(message_id, human + status + (returned or b""))
    action = blocks[0].action if len({b.action for b in blocks}) == 1 else "mixed"
    header = [
        f"From: Mail Delivery System <{_clean(from_address)}>",
        f"To: <{_clean(to_address)}>",
        f"Subject: {_SUBJECTS.get(action, 'Delivery Status Notification')}",
        f"Date: {format_datetime(date)}",
        f"Message-ID: <{_clean(message_id)}>",
        "Auto-Submitted: auto-replied",
        "MIME-Version: 1.0",
        "Content-Type: multipart/report; report-type=delivery-status;",
        f'\tboundary="{boundary}"',
    ]
    parts = [
        b"Content-Type: text/plain; charset=us-ascii\r\n"
        b"Content-Description: Notification\r\n\r\n" + human,
        b"Content-Type: message/delivery-status\r\n"
        b"Content-Description: Delivery report\r\n\r\n" + status,
    ]
    if returned is not None:
        parts.append(returned)
    delimiter = f"--{boundary}".encode()
    out = "\r\n".join(header).encode() + b"\r\n\r\nThis is a MIME-encapsulated message.\r\n\r\n"
    for part in parts:
        out += delimiter + b"\r\n" + part + (b"" if part.endswith(b"\r\n") else b"\r\n")
    return out + delimiter + b"--\r\n"


def _check(block: DsnRecipient) -> None:
    if block.action not in ACTIONS:
        raise ValueError(f"{block.action!r} is not an RFC 3464 §2.3.3 action")
    match = _STATUS.match(block.status)
    if match is None:
        raise ValueError(f"{block.status!r} is not an RFC 3463 status code (class.subject.detail)")
    if match.group(1) not in _STATUS_CLASS[block.action]:
        raise ValueError(f"status {block.status} does not fit the action {block.action!r}")


def _delivery_status(
    reporting_mta: str, envid: str | None, arrival: datetime, blocks: Sequence[DsnRecipient]
) -> bytes:
    lines = [f"Reporting-MTA: dns; {_clean(reporting_mta)}"]
    if envid:
        lines.append(f"Original-Envelope-Id: {_clean(envid)}")  # RFC 3464 §2.2.1
    lines.append(f"Arrival-Date: {format_datetime(arrival)}")
    for block in blocks:
        lines.append("")
        if block.original_recipient:
            lines.append(f"Original-Recipient: {_typed(block.original_recipient)}")
        lines.append(f"Final-Recipient: rfc822; {_clean(block.address)}")
        lines.append(f"Action: {block.action}")
        lines.append(f"Status: {block.status}")
        if block.diagnostic:
            text = _clean(block.diagnostic)
            kind = "smtp" if _SMTP_REPLY.match(text) else "X-Postseal"
            lines.append(_folded(f"Diagnostic-Code: {kind}; {text}"))
        if block.last_attempt is not None:
            lines.append(f"Last-Attempt-Date: {format_datetime(block.last_attempt)}")
        if block.will_retry_until is not None:
            lines.append(f"Will-Retry-Until: {format_datetime(block.will_retry_until)}")
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def _typed(orcpt: str) -> str:
    """ORCPT as ``addr-type; address`` (RFC 3464 §2.3.1); plain addresses get rfc822."""
    kind, sep, address = _clean(orcpt).partition(";")
    return f"{kind.strip()}; {address.strip()}" if sep else f"rfc822; {kind.strip()}"


def _human_text(reporting_mta: str, blocks: Sequence[DsnRecipient]) -> bytes:
    failed = [b for b in blocks if b.action == "failed"]
    delayed = [b for b in blocks if b.action == "delayed"]
    lines = [f"This is the mail system at host {_clean(reporting_mta)}.", ""]
    if failed:
        lines += [
            "Your message could not be delivered to the following recipients.",
            "It will not be retried; check the addresses and send it again if needed.",
            "",
        ]
        lines += [
            _folded(f"<{_clean(b.address)}>: {_clean(b.diagnostic or b.status)}") for b in failed
        ]
        lines.append("")
    if delayed:
        lines += ["Delivery to the following recipients is delayed; it is being retried.", ""]
        lines += [
            _folded(f"<{_clean(b.address)}>: {_clean(b.diagnostic or b.status)}") for b in delayed
        ]
        lines.append("")
    others = [b for b in blocks if b.action not in ("failed", "delayed")]
    if others:
        lines += ["Your message was delivered to the following recipients.", ""]
        lines += [f"<{_clean(b.address)}>: {b.action}" for b in others]
        lines.append("")
    return ("\r\n".join(lines)).encode("ascii")


def _returned_part(original: bytes | None, *, full: bool) -> bytes | None:
    if original is None:
        return None
    if full:
        encoding = "8bit" if any(byte > 0x7F for byte in original) else "7bit"
        return (
            b"Content-Type: message/rfc822\r\nContent-Description: Undelivered Message\r\n"
            + f"Content-Transfer-Encoding: {encoding}\r\n\r\n".encode()
            + original
        )
    found = _HEADER_END.search(original)
    header = original[: found.start()] + b"\r\n" if found else original
    encoding = "8bit" if any(byte > 0x7F for byte in header) else "7bit"
    return (
        b"Content-Type: text/rfc822-headers\r\nContent-Description: Undelivered Message Headers\r\n"
        + f"Content-Transfer-Encoding: {encoding}\r\n\r\n".encode()
        + header
    )


def _boundary(message_id: str, content: bytes) -> str:
    """A boundary that cannot occur in ``content``: a digest of it (RFC 2046 §5.1.1)."""
    digest = hashlib.sha256(message_id.encode() + b"\0" + content).hexdigest()
    boundary = f"=_dsn_{digest[:32]}"
    while boundary.encode() in content:  # pragma: no cover - needs a SHA-256 preimage
        boundary += "_"
    return boundary


def _clean(text: str) -> str:
    """One line of printable ASCII: controls, CR/LF and non-ASCII become ``?``."""
    return " ".join(_UNSAFE.sub("?", text).split())


def _folded(line: str) -> str:
    """Fold a long field or text line at spaces (RFC 5322 §2.2.3, RFC 3464 §2.1.1)."""
    words = line.split(" ")
    out: list[str] = []
    current = words[0]
    for word in words[1:]:
        if len(current) + 1 + len(word) > _MAX_LINE:
            out.append(current)
            current = " " + word
        else:
            current += " " + word
    out.append(current)
    return "\r\n".join(out)
