"""Mailbox names in modified UTF-7 (RFC 3501 §5.1.3).

Printable US-ASCII stands for itself except ``&``, written ``&-``; every other run of
characters is UTF-16BE in modified base64 (``,`` for ``/``, no padding) between ``&`` and
``-``. :func:`decode` refuses what a conforming encoder never writes (RFC 3501 §5.1.3:
a shifted run of printable ASCII, a non-zero pad, an unterminated shift), so every name
has one spelling.
"""

from __future__ import annotations

import base64
import binascii

__all__ = ["decode", "encode"]


def _is_direct(char: str) -> bool:
    return "\x20" <= char <= "\x7e"


def encode(name: str) -> str:
    """``name`` in modified UTF-7."""
    out: list[str] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            data = "".join(run).encode("utf-16-be", "surrogatepass")
            out.append("&" + base64.b64encode(data).decode("ascii").rstrip("=").replace("/", ","))
            out.append("-")
            run.clear()

    for char in name:
        if _is_direct(char):
            flush()
            out.append("&-" if char == "&" else char)
        else:
            run.append(char)
    flush()
    return "".join(out)


def decode(name: str) -> str:
    """The Unicode name; ValueError with the reason if ``name`` is not modified UTF-7."""
    out: list[str] = []
    i = 0
    while i < len(name):
        char = name[i]
        if not _is_direct(char):
            raise ValueError(f"character {char!r} must be encoded in a mailbox name")
        if char != "&":
            out.append(char)
            i += 1
            continue
        end = name.find("-", i + 1)
        if end < 0:
            raise ValueError("an '&' shift has no closing '-'")
        chunk = name[i + 1 : end]
        i = end + 1
        if not chunk:
            out.append("&")
            continue
        out.append(_decode_chunk(chunk))
    text = "".join(out)
    if encode(text) != name:
        raise ValueError(f"{name!r} is not in the one form RFC 3501 §5.1.3 allows")
    return text


def _decode_chunk(chunk: str) -> str:
    if len(chunk) % 4 == 1:
        raise ValueError(f"'&{chunk}-' is not valid modified base64")
    try:
        data = base64.b64decode(
            chunk.replace(",", "/") + "=" * (-len(chunk) % 4), altchars=None, validate=True
        )
        text = data.decode("utf-16-be")
    except (binascii.Error, UnicodeDecodeError, ValueError) as err:
        raise ValueError(f"'&{chunk}-' is not valid modified base64 UTF-16") from err
    return text
