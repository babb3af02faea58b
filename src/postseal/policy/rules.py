"""The rule model: settings at organisation, domain, group and user level.

A :class:`RuleSet` holds the settings one level sets (``None`` = not set there).
:meth:`PolicyRules.resolve` computes the :class:`Effective` settings for one *subject* —
the sender of outbound mail, a local recipient of inbound mail — with the most specific
level winning:

    user  >  group  >  domain (of the subject's address)  >  organisation  >  default

Two groups of the same user that disagree are settled by *strictness*, never by file
order: the stricter value wins (``sign``: always > when-asked > never; ``encrypt``:
required > opportunistic > when-asked > never; see :data:`STRICTNESS`), and
``require_encryption_domains`` is the union of the groups' lists. Keys without a notion of
strictness (texts, header names) take the value of the first group in alphabetical order.

Every effective value records the rule that set it, as the key path an administrator
writes in postseal.toml (``policy.group.finance.encrypt``), so ``postseal policy explain``
can name it. Rules that know where they came from (:attr:`PolicyRules.origins`) name that
too: ``database: policy.user."bob@example.org".sign``, ``postseal.toml: policy.sign``.

Anything with :meth:`PolicyRules.resolve` is a :class:`RuleSource`: the engine and the
services take that, so a holder whose rules are swapped at run time
(:class:`~postseal.policy.live.LiveRules`) serves as well as fixed rules.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any, Protocol

__all__ = [
    "DEFAULT_REQUEST_HEADER",
    "DEFAULT_SUBJECT_TAG",
    "KEYS",
    "LEVEL_TABLES",
    "STRICTNESS",
    "DecryptMode",
    "Effective",
    "EncryptMode",
    "InfectedAction",
    "PolicyRules",
    "RuleSet",
    "RuleSource",
    "ScanErrorAction",
    "SignMode",
    "SignedDisclaimer",
    "UnscannableAction",
    "rule_path",
    "table_path",
]

DEFAULT_SUBJECT_TAG = "[secure]"
DEFAULT_REQUEST_HEADER = "X-Postseal-Request"


class SignMode(enum.StrEnum):
    ALWAYS = "always"
    NEVER = "never"
    WHEN_ASKED = "when-asked"


class EncryptMode(enum.StrEnum):
    NEVER = "never"
    OPPORTUNISTIC = "opportunistic"  # when every recipient has a certificate
    REQUIRED = "required"  # refuse when a recipient has none
    WHEN_ASKED = "when-asked"  # required when the sender asks, else not at all


class DecryptMode(enum.StrEnum):
    KEEP = "keep"
    DECRYPT = "decrypt"


class InfectedAction(enum.StrEnum):
    REFUSE = "refuse"
    QUARANTINE = "quarantine"


class UnscannableAction(enum.StrEnum):
    DELIVER_TAGGED = "deliver-tagged"
    QUARANTINE = "quarantine"
    REFUSE = "refuse"
    DECRYPT_AND_SCAN = "decrypt-and-scan"


class ScanErrorAction(enum.StrEnum):
    TEMPFAIL = "tempfail"  # 451 4.7.0: the sending server retries later
    QUARANTINE = "quarantine"
    DELIVER_TAGGED = "deliver-tagged"


class SignedDisclaimer(enum.StrEnum):
    SKIP = "skip"
    WRAP = "wrap"


#: Per key, its values from least to most strict; ``True`` is stricter than ``False``.
STRICTNESS: Mapping[str, tuple[Any, ...]] = MappingProxyType(
    {
        "sign": (SignMode.NEVER, SignMode.WHEN_ASKED, SignMode.ALWAYS),
        "encrypt": (
            EncryptMode.NEVER,
            EncryptMode.WHEN_ASKED,
            EncryptMode.OPPORTUNISTIC,
            EncryptMode.REQUIRED,
        ),
        "verify": (False, True),
        "harvest_certificates": (False, True),
        "decrypt": (DecryptMode.DECRYPT, DecryptMode.KEEP),
        "on_infected": (InfectedAction.QUARANTINE, InfectedAction.REFUSE),
        "on_unscannable_encrypted": (
            UnscannableAction.DELIVER_TAGGED,
            UnscannableAction.DECRYPT_AND_SCAN,
            UnscannableAction.QUARANTINE,
            UnscannableAction.REFUSE,
        ),
        "on_scan_error": (
            ScanErrorAction.DELIVER_TAGGED,
            ScanErrorAction.QUARANTINE,
            ScanErrorAction.TEMPFAIL,
        ),
        "disclaimer_on_signed": (SignedDisclaimer.WRAP, SignedDisclaimer.SKIP),
    }
)


@dataclass(frozen=True, slots=True)
class RuleSet:
    """The settings one level (organisation, a domain, a group, a user) sets."""

    sign: SignMode | None = None
    encrypt: EncryptMode | None = None
    require_encryption_domains: tuple[str, ...] | None = None
    secure_subject_tag: str | None = None
    request_header: str | None = None
    verify: bool | None = None
    harvest_certificates: bool | None = None
    decrypt: DecryptMode | None = None
    on_infected: InfectedAction | None = None
    on_unscannable_encrypted: UnscannableAction | None = None
    on_scan_error: ScanErrorAction | None = None
    disclaimer: str | None = None
    disclaimer_on_signed: SignedDisclaimer | None = None


@dataclass(frozen=True, slots=True)
class Effective:
    """Every setting for one subject, each with the rule that set it (see :meth:`source`)."""

    sign: SignMode = SignMode.WHEN_ASKED
    encrypt: EncryptMode = EncryptMode.OPPORTUNISTIC
    require_encryption_domains: tuple[str, ...] = ()
    secure_subject_tag: str = DEFAULT_SUBJECT_TAG
    request_header: str = DEFAULT_REQUEST_HEADER
    verify: bool = True
    harvest_certificates: bool = True
    decrypt: DecryptMode = DecryptMode.KEEP
    on_infected: InfectedAction = InfectedAction.REFUSE
    on_unscannable_encrypted: UnscannableAction = UnscannableAction.DELIVER_TAGGED
    on_scan_error: ScanErrorAction = ScanErrorAction.TEMPFAIL
    disclaimer: str = ""
    disclaimer_on_signed: SignedDisclaimer = SignedDisclaimer.SKIP
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)

    def source(self, key: str) -> str:
        """The rule that set ``key``: a key path such as ``policy.user."bob@x.org".sign``."""
        return self.sources.get(key, "built-in default")


KEYS: tuple[str, ...] = tuple(f.name for f in fields(RuleSet))
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+\Z")


def table_path(level: str, name: str | None) -> str:
    """The TOML path of one level's table, quoting ``name`` the way TOML needs:
    ``policy``, ``policy.group.finance``, ``policy.domain."example.org"``."""
    if level == "organisation" or name is None:
        return "policy"
    shown = name if _BARE_KEY.match(name) else '"' + name.replace('"', '\\"') + '"'
    return f"policy.{level}.{shown}"


def rule_path(level: str, name: str | None, key: str) -> str:
    """The TOML key path of ``key`` at ``level`` (``organisation``, ``domain``, ``group``,
    ``user``): ``policy.sign``, ``policy.user."bob@example.org".sign``."""
    return f"{table_path(level, name)}.{key}"


class RuleSource(Protocol):
    """What the engine and the services ask of rules: the settings for one subject."""

    def resolve(self, address: str, groups: Iterable[str] = ()) -> Effective: ...


#: The levels below the organisation: (level, the :class:`PolicyRules` field holding it).
LEVEL_TABLES: tuple[tuple[str, str], ...] = (
    ("domain", "domains"),
    ("group", "groups"),
    ("user", "users"),
)


@dataclass(frozen=True, slots=True)
class PolicyRules:
    """All levels of the policy. Domain and user names are canonical (lower-case A-labels).

    ``origins`` maps a rule's key path (:func:`rule_path`) to where it was written
    (``postseal.toml``, ``database``); :meth:`resolve` names it before the path. Rules
    without an origin are named by their path alone.
    """

    organisation: RuleSet = RuleSet()
    domains: Mapping[str, RuleSet] = field(default_factory=dict)
    groups: Mapping[str, RuleSet] = field(default_factory=dict)
    users: Mapping[str, RuleSet] = field(default_factory=dict)
    origins: Mapping[str, str] = field(default_factory=dict)

    def entries(self) -> Iterable[tuple[str, str, str, Any]]:
        """Every rule set, as (level, name, key, value): the organisation (name ``""``),
        then domains, groups and users, each by name, keys in :data:`KEYS` order."""
        for key in KEYS:
            if (value := getattr(self.organisation, key)) is not None:
                yield "organisation", "", key, value
        for level, attribute in LEVEL_TABLES:
            table: Mapping[str, RuleSet] = getattr(self, attribute)
            for name in sorted(table):
                for key in KEYS:
                    if (value := getattr(table[name], key)) is not None:
                        yield level, name, key, value

    def label(self, path: str) -> str:
        """``path`` preceded by the origin of the rule at it, when known."""
        origin = self.origins.get(path)
        return f"{origin}: {path}" if origin else path

    def resolve(self, address: str, groups: Iterable[str] = ()) -> Effective:
        """The effective settings for ``address`` (member of ``groups``); never raises.

        ``address`` may be empty (the null reverse-path, or no local party): then only the
        organisation level and the defaults apply.
        """
        address = address.lower()
        domain = address.rpartition("@")[2] if "@" in address else ""
        values: dict[str, Any] = {}
        sources: dict[str, str] = {}
        member_of = sorted({g for g in groups if g in self.groups})
        for key in KEYS:
            found = self._from_user(address, key)
            if found is None:
                found = self._from_groups(member_of, key)
            if found is None:
                found = self._from_level("domain", self.domains, domain, key)
            if found is None and getattr(self.organisation, key) is not None:
                path = rule_path("organisation", None, key)
                found = getattr(self.organisation, key), self.label(path)
            if found is not None:
                values[key], sources[key] = found
        return Effective(**values, sources=MappingProxyType(sources))

    def _from_user(self, address: str, key: str) -> tuple[Any, str] | None:
        return self._from_level("user", self.users, address, key)

    def _from_level(
        self, level: str, table: Mapping[str, RuleSet], name: str, key: str
    ) -> tuple[Any, str] | None:
        rules = table.get(name) if name else None
        value = getattr(rules, key) if rules is not None else None
        return None if value is None else (value, self.label(rule_path(level, name, key)))

    def _from_groups(self, member_of: list[str], key: str) -> tuple[Any, str] | None:
        candidates = [
            (name, value)
            for name in member_of
            if (value := getattr(self.groups[name], key)) is not None
        ]
        if not candidates:
            return None
        if len(candidates) == 1:
            name, value = candidates[0]
            return value, self.label(rule_path("group", name, key))
        names = ", ".join(name for name, _ in candidates)
        if key == "require_encryption_domains":
            union = tuple(sorted({d for _, domains in candidates for d in domains}))
            paths = ", ".join(self.label(rule_path("group", n, key)) for n, _ in candidates)
            return union, f"union of {paths} (groups {names})"
        order = STRICTNESS.get(key)
        if order is None:
            name, value = candidates[0]
            return value, f"{self.label(rule_path('group', name, key))} (first of groups {names})"
        name, value = max(candidates, key=lambda item: order.index(item[1]))
        return value, f"{self.label(rule_path('group', name, key))} (strictest of groups {names})"
