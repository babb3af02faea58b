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
the end of DATA); the excess is counted and dropped, never buffered. The reason given is
the first line at fault (within one line: too long, then NUL, then bare CR); a message
over ``max_size`` is refused as too large whatever else is wrong with it.

Two ways in: :meth:`DataReader.feed` takes one line and finds the terminator itself;
:meth:`DataReader.feed_chunk` takes the bytes *before* the terminator cut anywhere (the
session finds ``.<CRLF>`` in the stream and asks :attr:`DataReader.at_line_start`
whether a CRLF precedes it), and handles a run of ordinary lines — CRLF only, no NUL, no
bare CR, none too long — with a few whole-chunk byte operations instead of a Python
step per line: a 50 KB message is about 650 lines. Anything else in a chunk goes
through the line rules above, so both ways give the same message or the same refusal.
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
        self._pending = b""  # feed_chunk: the start of a line whose LF has not come yet
        self._tail = _CRLF  # feed_chunk: the last two octets taken (the DATA line's CRLF)

    def feed(self, line: bytes) -> bool:
        """Take one line ending in LF; ``True`` when it was the terminating ``.<CRLF>``.
        The tail of a line already refused as too long is never a terminator."""
        if not self._in_long_line and self._prev_crlf and line == b".\r\n":
            return True
        self._line(line)
        return False

    def _line(self, line: bytes) -> None:
        """One line ending in LF, known not to be the terminator."""
        crlf = line.endswith(_CRLF)
        body = line[:-2] if crlf else line[:-1]
        if self._in_long_line:
            self._in_long_line = False
            self._count(len(body) + 2)
            self._prev_crlf = crlf
            return
        self._content(body, crlf=crlf)

    def _content(self, body: bytes, *, crlf: bool) -> None:
        self._prev_crlf = crlf
        if body.startswith(b"."):
            body = body[1:]
        if self._refused:
            # The first line at fault gives the reason; after it only the size counts
            # (as in feed_chunk, which no longer looks at the lines of a refused message).
            self._count(len(body) + 2)
            return
        if len(body) + 2 > self._max_line:
            self._long_line = True
        if b"\x00" in body:
            self._nul = True
        if b"\r" in body:
            self._bare_cr = True
        self._count(len(body) + 2)
        if not self._refused:
            self._parts.append(body + _CRLF)

    @property
    def at_line_start(self) -> bool:
        """Whether the octets given to :meth:`feed_chunk` so far end with CRLF (or none
        were given): a ``.<CRLF>`` that follows ends the message."""
        return self._tail == _CRLF

    def feed_chunk(self, data: bytes) -> None:
        """Take message octets that hold no terminator, cut anywhere (a line may continue
        in the next chunk). A line that has grown past ``max_line_length`` without its
        LF is counted and dropped (it refuses the message), never buffered."""
        if not data:
            return
        self._tail = (self._tail + data)[-2:]
        if self._pending:
            data = self._pending + data
        cut = data.rfind(b"\n") + 1
        complete, self._pending = data[:cut], data[cut:]
        if complete:
            self._lines(complete)
        if len(self._pending) > self._max_line:
            self.feed_overlong(self._pending)
            self._pending = b""

    def _lines(self, block: bytes) -> None:
        """Complete lines, each ending in LF, none of them the terminator."""
        if self._refused:
            self._in_long_line = False
            self._prev_crlf = block.endswith(_CRLF)
            self._count(len(block))  # the reply is a refusal: only the size still counts
            return
        crlf = block.count(_CRLF)
        if (
            self._prev_crlf
            and not self._in_long_line
            and block.count(b"\n") == crlf
            and block.count(b"\r") == crlf
            and b"\x00" not in block
        ):
            # CRLF lines only: unstuff every line at once (RFC 5321 §4.5.2)
            content = (_CRLF + block).replace(b"\r\n.", _CRLF)[2:]
            if max(map(len, content.split(_CRLF))) + 2 <= self._max_line:
                self._count(len(content))
                if not self._refused:
                    self._parts.append(content)
                return
        for line in block[:-1].split(b"\n"):
            self._line(line + b"\n")

    def feed_overlong(self, fragment: bytes) -> None:
        """Take a piece of a line longer than the stream's buffer (no LF in it)."""
        self._in_long_line = True
        if not self._refused:  # an earlier line at fault keeps its reason
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
