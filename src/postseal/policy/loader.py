"""Parsing the ``[policy]`` table of postseal.toml (or the same shape from the database).

::

    [policy]                          # organisation level
    sign = "when-asked"
    encrypt = "opportunistic"
    require_encryption_domains = ["partner.example"]

    [policy.domain."example.org"]     # the subject's domain
    disclaimer = "Confidential."

    [policy.group.finance]
    encrypt = "required"

    [policy.user."bob@example.org"]
    sign = "always"

Unknown keys and bad values raise :class:`~postseal.errors.ConfigError` naming the key
path, e.g. ``policy.group.finance.encrypt: expected one of never, opportunistic,
required, when-asked, got 'sometimes'``. Names are made canonical: user addresses and
domains lower-case with IDNA A-labels (ADR 0006), so ``Bob@Example.org`` and
``bob@example.org`` are one entry — and two spellings of one entry are an error.

``origin`` (``postseal.toml``, ``database``) is recorded for every rule the table sets, so
``postseal policy show`` and ``explain`` can say where a deciding rule was written.
"""

from __future__ import annotations

import difflib
import enum
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from postseal.errors import AddressError, ConfigError
from postseal.mail.address import parse_address
from postseal.policy.rules import (
    KEYS,
    DecryptMode,
    EncryptMode,
    InfectedAction,
    PolicyRules,
    RuleSet,
    ScanErrorAction,
    SignedDisclaimer,
    SignMode,
    UnscannableAction,
    rule_path,
    table_path,
)

__all__ = ["canonical_name", "load_rules", "unknown_key"]

_LEVELS = {"domain": "a domain", "group": "a group", "user": "a user address"}
_FIELD_NAME = re.compile(r"[\x21-\x39\x3b-\x7e]{1,76}\Z")  # RFC 5322 §3.6.8 ftext
_GROUP_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}\Z")
_MAX_TAG = 64
_MAX_DISCLAIMER = 4000


def load_rules(data: Mapping[str, Any], *, origin: str | None = None) -> PolicyRules:
    """Parse the ``[policy]`` table (an empty mapping gives the built-in defaults); the
    rules remember ``origin`` when it is given."""
    if not isinstance(data, Mapping):
        raise ConfigError("policy: expected a table")
    organisation = _rule_set(data, "organisation", None, allow_levels=True)
    tables: dict[str, Mapping[str, RuleSet]] = {}
    for level in _LEVELS:
        entries = data.get(level, {})
        if not isinstance(entries, Mapping):
            raise ConfigError(
                f"policy.{level}: expected {level} tables, e.g. [policy.{level}.NAME]"
            )
        parsed: dict[str, RuleSet] = {}
        for raw_name, table in entries.items():
            name = canonical_name(level, raw_name)
            if name in parsed:
                raise ConfigError(
                    f"{table_path(level, raw_name)}: the same {level} as "
                    f"{table_path(level, name)} under another spelling — merge them"
                )
            where = table_path(level, raw_name)
            if not isinstance(table, Mapping):
                raise ConfigError(f"{where}: expected a table of settings")
            parsed[name] = _rule_set(table, level, raw_name, allow_levels=False)
        tables[level] = MappingProxyType(parsed)
    rules = PolicyRules(organisation, tables["domain"], tables["group"], tables["user"])
    if origin is None:
        return rules
    origins = {rule_path(level, name, key): origin for level, name, key, _ in rules.entries()}
    return replace(rules, origins=MappingProxyType(origins))


def unknown_key(where: str, key: str) -> ConfigError:
    """The error for a key no level knows, suggesting the nearest known one."""
    near = difflib.get_close_matches(key, KEYS, n=1)
    hint = f" — did you mean {near[0]}?" if near else f"; known: {', '.join(KEYS)}"
    return ConfigError(f"{where}: unknown key{hint}")


def canonical_name(level: str, raw: Any) -> str:
    """The canonical name of a ``domain``, ``group`` or ``user`` table; ConfigError naming
    the table path when ``raw`` cannot be one."""
    where = table_path(level, str(raw))
    if not isinstance(raw, str):
        raise ConfigError(f"{where}: expected {_LEVELS[level]} as the table name")
    try:
        if level == "user":
            return str(parse_address(raw))
        if level == "domain":
            return _domain(raw)
    except AddressError as err:
        raise ConfigError(f"{where}: {err.message}") from None
    if not _GROUP_NAME.match(raw):
        raise ConfigError(f"{where}: a group name holds 1-64 letters, digits and . _ -")
    return raw


def _domain(raw: str) -> str:
    # parse_address owns the domain rules (IDNA, label syntax); a fixed local part borrows them.
    return parse_address(f"postmaster@{raw}").domain


def _rule_set(
    table: Mapping[str, Any], level: str, name: str | None, *, allow_levels: bool
) -> RuleSet:
    values: dict[str, Any] = {}
    for key, value in table.items():
        where = rule_path(level, name, str(key))
        if key in _LEVELS:
            if allow_levels:
                continue
            raise ConfigError(
                f"{where}: {level} tables cannot hold {key} tables; "
                f"write [policy.{key}.NAME] at the top level"
            )
        if key not in _PARSERS:
            raise unknown_key(where, str(key))
        values[key] = _PARSERS[key](value, where)
    return RuleSet(**values)


def _choice(kind: type[enum.StrEnum]) -> Callable[[Any, str], Any]:
    names = sorted(member.value for member in kind)

    def parse(value: Any, where: str) -> Any:
        if isinstance(value, str) and value.lower() in names:
            return kind(value.lower())
        raise ConfigError(f"{where}: expected one of {', '.join(names)}, got {value!r}")

    return parse


def _boolean(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    raise ConfigError(f"{where}: expected true or false, got {value!r}")


def _domains(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f'{where}: expected a list of domains, e.g. ["partner.example"]')
    result: set[str] = set()
    for item in value:
        try:
            result.add(_domain(item))
        except AddressError as err:
            raise ConfigError(f"{where}: {item!r} is not a valid domain ({err.message})") from None
    return tuple(sorted(result))


def _text(limit: int, *, multiline: bool) -> Callable[[Any, str], str]:
    allowed = {"\n", "\t"} if multiline else set()

    def parse(value: Any, where: str) -> str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        if len(value) > limit:
            raise ConfigError(f"{where}: at most {limit} characters, got {len(value)}")
        if any((ord(c) < 0x20 or ord(c) == 0x7F) and c not in allowed for c in value):
            raise ConfigError(f"{where}: control characters are not allowed")
        return value

    return parse


def _header_name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _FIELD_NAME.match(value):
        raise ConfigError(
            f"{where}: expected a header field name (printable ASCII, no colon), got {value!r}"
        )
    return value


_PARSERS: dict[str, Callable[[Any, str], Any]] = {
    "sign": _choice(SignMode),
    "encrypt": _choice(EncryptMode),
    "require_encryption_domains": _domains,
    "secure_subject_tag": _text(_MAX_TAG, multiline=False),
    "request_header": _header_name,
    "verify": _boolean,
    "harvest_certificates": _boolean,
    "decrypt": _choice(DecryptMode),
    "on_infected": _choice(InfectedAction),
    "on_unscannable_encrypted": _choice(UnscannableAction),
    "on_scan_error": _choice(ScanErrorAction),
    "disclaimer": _text(_MAX_DISCLAIMER, multiline=True),
    "disclaimer_on_signed": _choice(SignedDisclaimer),
}
assert set(_PARSERS) == set(KEYS), "every RuleSet field needs a parser"
