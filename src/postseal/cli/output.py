"""Printing results for people (aligned tables) or programs (``--json``)."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any

from postseal.errors import InputError

__all__ = ["Output", "read_secret_stdin", "write_bytes"]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _cell(value: Any) -> str:
    plain = _plain(value)
    if plain is None:
        return "-"
    if isinstance(plain, bool):
        return "yes" if plain else "no"
    if isinstance(plain, list):
        return ", ".join(str(v) for v in plain) or "-"
    return str(plain)


class Output:
    def __init__(self, *, as_json: bool) -> None:
        self.as_json = as_json

    def table(self, rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> None:
        if self.as_json:
            print(json.dumps([_plain(dict(r)) for r in rows], indent=2))
            return
        if not rows:
            print("(none)")
            return
        cells = [[_cell(r.get(c)) for c in columns] for r in rows]
        widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
        print("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
        for row in cells:
            print("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())

    def record(self, data: Mapping[str, Any]) -> None:
        if self.as_json:
            print(json.dumps(_plain(dict(data)), indent=2))
            return
        width = max((len(k) for k in data), default=0)
        for key, value in data.items():
            print(f"{key.ljust(width)}  {_cell(value)}")

    def message(self, text: str, **data: Any) -> None:
        """A confirmation: the sentence for people, the data (plus the sentence) for programs."""
        if self.as_json:
            print(json.dumps(_plain({"message": text, **data}), indent=2))
        else:
            print(text)


def read_secret_stdin(what: str) -> str:
    """One line from standard input, without its line ending."""
    line = sys.stdin.readline(4096)
    secret = line.rstrip("\r\n")
    if not secret:
        raise InputError(f"no {what} on standard input (--password-stdin reads one line)")
    return secret


def write_bytes(data: bytes, out: Path | None, *, binary: bool) -> None:
    """Write to ``out`` (created 0600 for secrets by the caller) or standard output;
    refuses to write binary data to a terminal."""
    if out is not None:
        out.write_bytes(data)
        return
    if binary and sys.stdout.isatty():
        raise InputError("refusing to write binary data to a terminal", hint="use --out FILE")
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()
