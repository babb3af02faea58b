"""Precedence (user > group > domain > organisation > default) and the loader's errors."""

from __future__ import annotations

from typing import Any

import pytest

from postseal.errors import ConfigError
from postseal.policy import EncryptMode, SignMode, load_rules
from postseal.policy.rules import KEYS, Effective

LAYERED: dict[str, Any] = {
    "sign": "never",
    "domain": {"example.org": {"sign": "when-asked"}},
    "group": {"finance": {"sign": "always"}},
    "user": {"bob@example.org": {"sign": "never"}},
}


@pytest.mark.parametrize(
    ("address", "groups", "value", "rule"),
    [
        ("bob@example.org", {"finance"}, "never", 'policy.user."bob@example.org".sign'),
        ("carol@example.org", {"finance"}, "always", "policy.group.finance.sign"),
        ("dave@example.org", set(), "when-asked", 'policy.domain."example.org".sign'),
        ("erin@other.example", set(), "never", "policy.sign"),
        ("", set(), "never", "policy.sign"),
        ("BOB@Example.ORG", set(), "never", 'policy.user."bob@example.org".sign'),
    ],
    ids=["user", "group", "domain", "organisation", "null-sender", "case"],
)
def test_the_most_specific_level_wins(
    address: str, groups: set[str], value: str, rule: str
) -> None:
    settings = load_rules(LAYERED).resolve(address, groups)
    assert settings.sign == value
    assert settings.source("sign") == rule


def test_unset_keys_fall_back_to_the_builtin_defaults() -> None:
    settings = load_rules({}).resolve("bob@example.org")
    assert settings == Effective()
    assert settings.sign is SignMode.WHEN_ASKED
    assert settings.encrypt is EncryptMode.OPPORTUNISTIC
    assert settings.secure_subject_tag == "[secure]"
    assert settings.request_header == "X-Postseal-Request"
    assert (settings.verify, settings.harvest_certificates, settings.decrypt) == (
        True,
        True,
        "keep",
    )
    assert (settings.on_infected, settings.on_unscannable_encrypted, settings.on_scan_error) == (
        "refuse",
        "deliver-tagged",
        "tempfail",
    )
    assert (settings.disclaimer, settings.disclaimer_on_signed) == ("", "skip")
    assert settings.source("encrypt") == "built-in default"


@pytest.mark.parametrize(
    ("key", "a", "b", "winner"),
    [
        ("sign", "never", "always", "always"),
        ("sign", "when-asked", "never", "when-asked"),
        ("encrypt", "opportunistic", "required", "required"),
        ("encrypt", "never", "when-asked", "when-asked"),
        ("verify", False, True, True),
        ("decrypt", "decrypt", "keep", "keep"),
        ("on_infected", "quarantine", "refuse", "refuse"),
        ("on_unscannable_encrypted", "decrypt-and-scan", "quarantine", "quarantine"),
        ("on_scan_error", "deliver-tagged", "tempfail", "tempfail"),
        ("disclaimer_on_signed", "wrap", "skip", "skip"),
    ],
)
def test_between_two_groups_the_strictest_wins(
    key: str, a: object, b: object, winner: object
) -> None:
    for first, second in ((a, b), (b, a)):
        rules = load_rules({"group": {"alpha": {key: first}, "beta": {key: second}}})
        settings = rules.resolve("bob@example.org", ["beta", "alpha"])
        assert getattr(settings, key) == winner
        assert "strictest of groups alpha, beta" in settings.source(key)


def test_between_two_groups_encryption_domains_are_united() -> None:
    rules = load_rules(
        {
            "group": {
                "alpha": {"require_encryption_domains": ["a.example"]},
                "beta": {"require_encryption_domains": ["b.example"]},
            }
        }
    )
    settings = rules.resolve("bob@example.org", ["alpha", "beta"])
    assert settings.require_encryption_domains == ("a.example", "b.example")
    assert settings.source("require_encryption_domains").startswith("union of")


def test_between_two_groups_a_text_comes_from_the_first_by_name() -> None:
    rules = load_rules({"group": {"zeta": {"disclaimer": "Z"}, "alpha": {"disclaimer": "A"}}})
    settings = rules.resolve("bob@example.org", ["zeta", "alpha"])
    assert settings.disclaimer == "A"
    assert (
        settings.source("disclaimer")
        == "policy.group.alpha.disclaimer (first of groups alpha, zeta)"
    )


def test_groups_without_rules_are_ignored() -> None:
    rules = load_rules({"group": {"finance": {"sign": "always"}}})
    assert rules.resolve("bob@example.org", ["staff", "finance"]).source("sign") == (
        "policy.group.finance.sign"
    )


def test_names_are_canonical() -> None:
    rules = load_rules(
        {
            "domain": {"Bücher.Example": {"sign": "always"}},
            "user": {"Bob@Example.ORG": {"sign": "never"}},
            "require_encryption_domains": ["Partner.Example", "partner.example"],
        }
    )
    assert set(rules.domains) == {"xn--bcher-kva.example"}
    assert set(rules.users) == {"bob@example.org"}
    assert rules.organisation.require_encryption_domains == ("partner.example",)
    assert rules.resolve("anne@xn--bcher-kva.example").sign is SignMode.ALWAYS


def test_every_key_is_accepted_at_every_level() -> None:
    values: dict[str, Any] = {
        "sign": "always",
        "encrypt": "required",
        "require_encryption_domains": ["partner.example"],
        "secure_subject_tag": "{encrypt}",
        "request_header": "X-Secure",
        "verify": False,
        "harvest_certificates": False,
        "decrypt": "decrypt",
        "on_infected": "quarantine",
        "on_unscannable_encrypted": "decrypt-and-scan",
        "on_scan_error": "quarantine",
        "disclaimer": "Line one.\nLine two.",
        "disclaimer_on_signed": "wrap",
    }
    assert set(values) == set(KEYS)
    rules = load_rules(
        {
            **values,
            "domain": {"example.org": values},
            "group": {"g": values},
            "user": {"u@example.org": values},
        }
    )
    for rule_set in (rules.organisation, rules.domains["example.org"], rules.groups["g"]):
        assert rule_set == rules.users["u@example.org"]
    settings = rules.resolve("u@example.org", ["g"])
    for key, value in values.items():
        expected = tuple(value) if isinstance(value, list) else value
        assert getattr(settings, key) == expected


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"group": {"finance": {"encrypt": "sometimes"}}},
            "policy.group.finance.encrypt: expected one of never, opportunistic, required, "
            "when-asked, got 'sometimes'",
        ),
        (
            {"user": {"bob@example.org": {"encryptt": "never"}}},
            'policy.user."bob@example.org".encryptt: unknown key — did you mean encrypt?',
        ),
        ({"colour": "blue"}, "policy.colour: unknown key; known: sign, encrypt,"),
        ({"sign": 1}, "policy.sign: expected one of always, never, when-asked, got 1"),
        ({"verify": "yes"}, "policy.verify: expected true or false, got 'yes'"),
        (
            {"domain": {"example.org": {"on_infected": "ignore"}}},
            'policy.domain."example.org".on_infected: expected one of quarantine, refuse, '
            "got 'ignore'",
        ),
        (
            {"require_encryption_domains": "partner.example"},
            "policy.require_encryption_domains: expected a list of domains",
        ),
        (
            {"require_encryption_domains": ["not a domain"]},
            "policy.require_encryption_domains: 'not a domain' is not a valid domain",
        ),
        ({"request_header": "X Bad:"}, "policy.request_header: expected a header field name"),
        ({"secure_subject_tag": "[a]\r\n"}, "policy.secure_subject_tag: control characters"),
        ({"disclaimer": "x" * 5000}, "policy.disclaimer: at most 4000 characters, got 5000"),
        ({"user": {"not-an-address": {}}}, "policy.user.not-an-address: "),
        ({"domain": {"localhost": {}}}, "policy.domain.localhost: "),
        ({"group": {"a b": {}}}, 'policy.group."a b": a group name holds'),
        ({"group": {"g": "always"}}, "policy.group.g: expected a table of settings"),
        ({"group": ["g"]}, "policy.group: expected group tables, e.g. [policy.group.NAME]"),
        (
            {"group": {"g": {"user": {"bob@example.org": {}}}}},
            "policy.group.g.user: group tables cannot hold user tables",
        ),
        (
            {"user": {"bob@example.org": {}, "BOB@example.org": {}}},
            'policy.user."BOB@example.org": the same user as policy.user."bob@example.org"',
        ),
    ],
)
def test_bad_policy_is_a_config_error_naming_the_key_path(
    data: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_rules(data)
    assert str(caught.value).startswith(message), str(caught.value)
