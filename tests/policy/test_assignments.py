"""``KEY=VALUE`` from the command line into the shape of postseal.toml, and values to
JSON and back, judged by the same loader."""

from __future__ import annotations

from typing import Any

import pytest

from postseal.errors import ConfigError, InputError
from postseal.policy import load_rules
from postseal.policy.assignments import (
    from_json,
    parse_assignment,
    plain,
    rules_table,
    to_json,
)
from postseal.policy.rules import KEYS

WHERE = "policy.group.finance"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sign=always", ("sign", "always")),
        (" encrypt =required", ("encrypt", "required")),
        ("verify=false", ("verify", False)),
        ("harvest_certificates=TRUE", ("harvest_certificates", True)),
        ("verify=yes", ("verify", "yes")),  # left for the loader to refuse
        (
            "require_encryption_domains=a.example, b.example,",
            ("require_encryption_domains", ["a.example", "b.example"]),
        ),
        ('require_encryption_domains=["a.example"]', ("require_encryption_domains", ["a.example"])),
        ("require_encryption_domains=", ("require_encryption_domains", [])),
        ("disclaimer=Line one\nLine = two", ("disclaimer", "Line one\nLine = two")),
        ("secure_subject_tag=", ("secure_subject_tag", "")),
    ],
)
def test_values_take_the_shape_the_file_would_hold(text: str, expected: tuple[str, Any]) -> None:
    assert parse_assignment(text, WHERE) == expected


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        ("sign", InputError, "'sign' is not KEY=VALUE"),
        ("=always", InputError, "'=always' is not KEY=VALUE"),
        (
            "encryptt=never",
            ConfigError,
            "policy.group.finance.encryptt: unknown key — did you mean encrypt?",
        ),
        ("user=x", ConfigError, "policy.group.finance.user: unknown key"),
        (
            "require_encryption_domains=[a",
            ConfigError,
            "policy.group.finance.require_encryption_domains: expected a list",
        ),
    ],
)
def test_malformed_assignments_name_the_key_path(
    text: str, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as caught:
        parse_assignment(text, WHERE)
    assert str(caught.value).startswith(message), str(caught.value)


def test_every_key_round_trips_through_json_and_the_loader() -> None:
    given = {
        "sign": "always",
        "encrypt": "required",
        "require_encryption_domains": "Partner.example,b.example",
        "secure_subject_tag": "{enc}",
        "request_header": "X-Secure",
        "verify": "false",
        "harvest_certificates": "true",
        "decrypt": "decrypt",
        "on_infected": "quarantine",
        "on_unscannable_encrypted": "decrypt-and-scan",
        "on_scan_error": "deliver-tagged",
        "disclaimer": "Vertraulich — ü\nZeile zwei",
        "disclaimer_on_signed": "wrap",
    }
    assert set(given) == set(KEYS)
    entries = [
        ("user", "Bob@Example.org", *parse_assignment(f"{key}={text}", WHERE))
        for key, text in given.items()
    ]
    first = load_rules(rules_table(entries)).users["bob@example.org"]
    stored = [("user", "bob@example.org", key, to_json(getattr(first, key))) for key in KEYS]
    again = load_rules(rules_table((s, n, k, from_json(v, k)) for s, n, k, v in stored))
    assert again.users["bob@example.org"] == first
    assert plain(first.require_encryption_domains) == ["b.example", "partner.example"]
    assert to_json(first.disclaimer) == '"Vertraulich — ü\\nZeile zwei"'


def test_the_table_has_the_organisation_at_the_top() -> None:
    table = rules_table(
        [
            ("organisation", "", "sign", "never"),
            ("group", "finance", "sign", "always"),
            ("group", "finance", "encrypt", "required"),
            ("user", "bob@example.org", "verify", False),
        ]
    )
    assert table == {
        "sign": "never",
        "group": {"finance": {"sign": "always", "encrypt": "required"}},
        "user": {"bob@example.org": {"verify": False}},
    }


def test_a_stored_value_that_is_not_json_names_the_key_path() -> None:
    with pytest.raises(ConfigError, match=r"^policy\.sign: the stored value is not JSON"):
        from_json("always", "policy.sign")
