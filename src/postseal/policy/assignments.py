"""Rules one key at a time — ``postseal policy set … KEY=VALUE`` and the rows of the
database — to and from the shape of postseal.toml's ``[policy]`` table, which
:func:`~postseal.policy.loader.load_rules` judges (ADR 0019).

A value on the command line is text; it becomes what the TOML file would hold for the key:
``verify=false`` a boolean, ``require_encryption_domains=a.example,b.example`` (or the TOML
array ``["a.example", "b.example"]``) a list, anything else a string. The database keeps
the value the loader accepted, as JSON.
"""

from __future__ import annotations

import enum
import json
import tomllib
from collections.abc import Iterable
from typing import Any

from postseal.errors import ConfigError, InputError
from postseal.policy.loader import unknown_key
from postseal.policy.rules import KEYS, Effective

__all__ = ["from_json", "parse_assignment", "plain", "rules_table", "to_json"]

_DEFAULTS = Effective()


def parse_assignment(text: str, where: str) -> tuple[str, Any]:
    """``KEY=VALUE`` as (key, value in TOML shape); ``where`` is the table path of the
    scope (``policy.group.finance``) the error names. The value is not judged here."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise InputError(f"{text!r} is not KEY=VALUE", hint="e.g. sign=always")
    if key not in KEYS:
        raise unknown_key(f"{where}.{key}", key)
    default = getattr(_DEFAULTS, key)
    if isinstance(default, bool):
        lowered = raw.strip().lower()
        return key, {"true": True, "false": False}.get(lowered, raw)
    if isinstance(default, tuple):
        return key, _list(raw, f"{where}.{key}")
    return key, raw


def _list(raw: str, where: str) -> list[Any]:
    if raw.lstrip().startswith("["):
        try:
            value = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            raise ConfigError(
                f'{where}: expected a list of domains, e.g. ["partner.example"] or '
                "partner.example,other.example"
            ) from None
        return list(value) if isinstance(value, list) else [value]
    return [item.strip() for item in raw.split(",") if item.strip()]


def plain(value: Any) -> Any:
    """A parsed rule value as TOML and JSON hold it: enum members by value, tuples as lists."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple):
        return [plain(item) for item in value]
    return value


def to_json(value: Any) -> str:
    """A parsed rule value as the JSON text the database keeps."""
    return json.dumps(plain(value), ensure_ascii=False)


def from_json(text: str, where: str) -> Any:
    """The value of a database row; ConfigError naming ``where`` when it is not JSON."""
    try:
        return json.loads(text)
    except ValueError:
        raise ConfigError(f"{where}: the stored value is not JSON: {text[:80]!r}") from None


def rules_table(entries: Iterable[tuple[str, str, str, Any]]) -> dict[str, Any]:
    """(level, name, key, value) entries as a ``[policy]`` table for the loader; the
    organisation's name is ignored."""
    table: dict[str, Any] = {}
    for level, name, key, value in entries:
        if level == "organisation":
            table[key] = value
        else:
            table.setdefault(level, {}).setdefault(name, {})[key] = value
    return table
