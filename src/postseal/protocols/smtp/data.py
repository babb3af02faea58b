"""The DATA phase: message lines in, the message (or why it is refused) out. Pure.

Rules (docs/adr/0007-smtp-edge.md):

- The message ends only at ``<CRLF>.<CRLF>`` (RFC 5321 §4.1.1.4). A dot line ended by a
  bare LF, or preceded by a bare LF, is content — ``<LF>.<LF>`` and friends are how SMTP
  smuggling (2023) splits one message into two at a less careful hop.
- Dot-unstuffing per RFC 5321 §4.5.2 applies to every line, whatever its line end.
- A bare LF ends a line and is normalised to CRLF, as most MTAs do (Postfix's
  ``smtpd_forbid_bare_newline = normalize``): the stored message has CRLF line ends only,
  which is also what S/MIME canonicalisation needs. Consequently the stored message may
  hold a line consisting of a single dot; every client that relays it dot-stuffs it.
- NUL and bare CR (a CR not followed by LF) refuse the message (``554 5.6.0``): RFC 5322
  §2.3 forbids both and parsers disagree about them.
- A line longer than ``max_line_length`` octets including CRLF (1000, RFC 5321
  §4.5.3.1.6) refuses the message. Over ``max_size`` refuses it with ``552 5.3.4``.

The refusal is decided only after the terminating dot (RFC 5321 §4.2.5: the reply comes at
the end of DATA); the excess is counted and dropped, never buffered.
"""

from __future__ import annotations

from postseal.errors import MessageFormatError, TooLargeError

__all__ = ["DataReader"]

_CRLF = b"\r\n"


class DataReader:
    """Collects the lines of one DATA transfer, as read up to and including each LF."""

    def __init__(self, *, max_size: int, max_line_length: int) -> None:
        self._max_size = max_size
        self._max_line = max_line_length
        self._parts: list[bytes] = []
        self._size = 0
        self._prev_crlf = True  # the DATA command's own line end precedes the first line
        self._in_long_line = False
        self._too_large = False
        self._long_line = False
        self._nul = False
        self._bare_cr = False

    def feed(self, line: bytes) -> bool:
        """Take one line ending in LF; ``True`` when it was the terminating ``.<CRLF>``."""
        crlf = line.endswith(_CRLF)
        body = line[:-2] if crlf else line[:-1]
        if self._in_long_line:
            # The tail of a line already refused as too long: never a terminator.
            self._in_long_line = False
            self._count(len(body) + 2)
            self._prev_crlf = crlf
            return False
        if crlf and self._prev_crlf and body == b".":
            return True
        self._prev_crlf = crlf
        if body.startswith(b"."):
            body = body[1:]
        if len(body) + 2 > self._max_line:
            self._long_line = True
        if b"\x00" in body:
            self._nul = True
        if b"\r" in body:
            self._bare_cr = True
        self._count(len(body) + 2)
        if not self._refused:
            self._parts.append(body + _CRLF)
        return False

    def feed_overlong(self, fragment: bytes) -> None:
        """Take a piece of a line longer than the stream's buffer (no LF in it)."""
        self._in_long_line = True
        self._long_line = True
        self._count(len(fragment))

    def finish(self) -> bytes:
        """The message with CRLF line ends, dot-unstuffed; or the reason it is refused."""
        if self._too_large:
            raise TooLargeError(
                f"Message exceeds the maximum size of {self._max_size} octets",
                hint="send a smaller message or share the file another way",
            )
        if self._long_line:
            raise MessageFormatError(
                f"Message has a line longer than {self._max_line} octets (RFC 5321 §4.5.3.1.6)",
                hint="encode the content as quoted-printable or base64",
            )
        if self._nul:
            raise MessageFormatError("Message contains a NUL byte (RFC 5322 §2.3)")
        if self._bare_cr:
            raise MessageFormatError(
                "Message contains a bare CR not followed by LF (RFC 5322 §2.3)"
            )
        return b"".join(self._parts)

    @property
    def _refused(self) -> bool:
        return self._too_large or self._long_line or self._nul or self._bare_cr

    def _count(self, octets: int) -> None:
        self._size += octets
        if self._size > self._max_size:
            self._too_large = True
        if self._refused:
            # Drop what was kept: a refused message is not held in memory.
            self._parts.clear()
