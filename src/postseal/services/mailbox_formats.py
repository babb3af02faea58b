"""The mailbox formats administrators move users with: mbox and Maildir (pure; no I/O).

- **mbox** (RFC 4155): messages separated by lines that begin with ``From ``; a body line
  that began with ``From `` was written as ``>From ``. Read as *mboxrd*: one ``>`` is
  removed from every ``>…>From `` line, so mboxrd files round-trip exactly and mboxo
  files come back as their writers meant them. The blank line a writer puts before the
  next separator is not part of the message. ``Status``/``X-Status`` headers (written by
  mutt, Thunderbird, Pine) give the flags; the message itself keeps them untouched.
- **Maildir** (https://cr.yp.to/proto/maildir.html) with Dovecot's Maildir++ folders:
  the INBOX is the directory itself, mailbox ``A/B`` is ``.A.B``; flags are the info
  suffix ``:2,DFRST``. A ``.`` or ``%`` inside a name level is written ``%2E``/``%25``.

Messages are stored with CRLF line ends (what IMAP and POP3 serve and sizes count), so
imported bare LF line ends become CRLF; a message that already has CRLF is unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from postseal.errors import InputError

__all__ = [
    "ImportedMessage",
    "folder_of",
    "mailbox_of",
    "maildir_filename",
    "maildir_flags",
    "split_mbox",
    "to_crlf",
]

_ESCAPED_FROM = re.compile(rb">+From ")
_NEWLINE = re.compile(rb"\r?\n")
_FLAG_LETTERS = {
    "D": "\\Draft",
    "F": "\\Flagged",
    "R": "\\Answered",
    "S": "\\Seen",
    "T": "\\Deleted",
}
_LETTER_OF = {flag.lower(): letter for letter, flag in _FLAG_LETTERS.items()}
_STATUS_LETTERS = {b"R": "\\Seen", b"A": "\\Answered", b"F": "\\Flagged", b"T": "\\Draft",
                   b"D": "\\Deleted"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class ImportedMessage:
    data: bytes  # CRLF line ends
    flags: tuple[str, ...] = ()
    internal_date: datetime | None = None


def to_crlf(data: bytes) -> bytes:
    """Every LF or CRLF line end as CRLF (RFC 5322 §2.1)."""
    return _NEWLINE.sub(b"\r\n", data)


def split_mbox(data: bytes) -> Iterator[ImportedMessage]:
    """The messages of an mbox file, in order. InputError when the data does not start
    with a ``From `` line (after blank lines)."""
    current: list[bytes] | None = None
    separator = b""
    for line in _lines(data):
        if line.startswith(b"From "):
            if current is not None:
                yield _message(separator, current)
            current, separator = [], line
        elif current is None:
            if line.strip():
                raise InputError(
                    "this is not an mbox file: it does not start with a 'From ' line",
                    hint="give an mbox file, or a Maildir directory",
                )
        else:
            current.append(line[1:] if _ESCAPED_FROM.match(line) else line)
    if current is not None:
        yield _message(separator, current)


def _lines(data: bytes) -> list[bytes]:
    """Lines split at LF only (``bytes.splitlines`` also splits at CR, VT, FF …)."""
    parts = data.split(b"\n")
    lines = [part + b"\n" for part in parts[:-1]]
    return [*lines, parts[-1]] if parts[-1] else lines


def _message(separator: bytes, lines: list[bytes]) -> ImportedMessage:
    if lines and not lines[-1].strip(b"\r\n"):
        lines = lines[:-1]  # the blank line written before the next "From "
    data = to_crlf(b"".join(lines))
    return ImportedMessage(data, _status_flags(data), _from_line_date(separator))


def _status_flags(data: bytes) -> tuple[str, ...]:
    header = data.split(b"\r\n\r\n", 1)[0]
    flags: set[str] = set()
    for line in header.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() in (b"status", b"x-status"):
            flags.update(_STATUS_LETTERS[c] for c in re.findall(rb"[RAFTD]", value.strip()))
    return tuple(sorted(flags))


def _from_line_date(line: bytes) -> datetime | None:
    """The ``asctime`` date of a ``From sender Sat Jan  3 01:05:34 1996`` line, as UTC."""
    words = line.decode("latin-1").split()
    for start in range(2, max(len(words) - 4, 2) + 1):
        try:
            parsed = datetime.strptime(" ".join(words[start : start + 5]), "%a %b %d %H:%M:%S %Y")
        except ValueError:
            continue
        return parsed.replace(tzinfo=UTC)
    return None


def maildir_flags(filename: str) -> tuple[str, ...]:
    """The flags in a Maildir file name's ``:2,`` info (lower-case letters, Dovecot's
    keywords, are not carried over)."""
    _, found, info = filename.rpartition(":2,")
    if not found:
        return ()
    return tuple(sorted({_FLAG_LETTERS[c] for c in info if c in _FLAG_LETTERS}))


def maildir_filename(unique: str, internal_date: datetime, flags: Sequence[str]) -> str:
    """``<seconds>.<unique>.postseal:2,<letters>`` with the letters in ASCII order."""
    letters = "".join(sorted({_LETTER_OF[f.lower()] for f in flags if f.lower() in _LETTER_OF}))
    return f"{int(internal_date.timestamp())}.{unique}.postseal:2,{letters}"


def folder_of(name: str) -> str:
    """The Maildir++ folder of a mailbox name: "" for INBOX, ``.A.B`` for ``A/B``."""
    if name == "INBOX":
        return ""
    levels = (level.replace("%", "%25").replace(".", "%2E") for level in name.split("/"))
    return "." + ".".join(levels)


def mailbox_of(folder: str) -> str:
    """The mailbox name of a Maildir++ folder (inverse of :func:`folder_of`)."""
    if not folder:
        return "INBOX"
    levels = folder.removeprefix(".").split(".")
    return "/".join(level.replace("%2E", ".").replace("%25", "%") for level in levels)
