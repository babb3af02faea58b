"""Two sources of rules (ADR 0019): the database's over postseal.toml's at the same key
path, origins named in every source, and the live holder a running server swaps."""

from __future__ import annotations

from typing import Any

import pytest

from postseal.errors import ConfigError
from postseal.policy import (
    Direction,
    LiveRules,
    MessageFacts,
    PolicyRules,
    SignMode,
    decide,
    explain,
    load_rules,
    merge_rules,
)
from postseal.policy.live import DATABASE, TOML

BOB = "bob@example.org"

FILE: dict[str, Any] = {
    "sign": "never",
    "encrypt": "required",
    "group": {"finance": {"sign": "always", "disclaimer": "From the file."}},
    "user": {BOB: {"encrypt": "never"}},
}


def _merged(database: dict[str, Any]) -> PolicyRules:
    return merge_rules(load_rules(FILE, origin=TOML), load_rules(database, origin=DATABASE))


def test_loaded_rules_remember_their_origin_per_key_path() -> None:
    rules = load_rules(FILE, origin=TOML)
    assert rules.origins == {
        "policy.sign": TOML,
        "policy.encrypt": TOML,
        "policy.group.finance.sign": TOML,
        "policy.group.finance.disclaimer": TOML,
        'policy.user."bob@example.org".encrypt': TOML,
    }
    settings = rules.resolve(BOB, ["finance"])
    assert settings.source("sign") == "postseal.toml: policy.group.finance.sign"
    assert settings.source("encrypt") == 'postseal.toml: policy.user."bob@example.org".encrypt'
    assert settings.source("verify") == "built-in default"
    assert load_rules(FILE).resolve(BOB).source("sign") == "policy.sign"


def test_the_database_overrides_the_file_at_the_same_key_path() -> None:
    rules = _merged({"sign": "when-asked", "group": {"finance": {"sign": "never"}}})
    everyone = rules.resolve("carol@example.org")
    assert everyone.sign is SignMode.WHEN_ASKED
    assert everyone.source("sign") == "database: policy.sign"
    assert everyone.source("encrypt") == "postseal.toml: policy.encrypt"
    member = rules.resolve("carol@example.org", ["finance"])
    assert member.sign is SignMode.NEVER
    assert member.source("sign") == "database: policy.group.finance.sign"
    assert member.disclaimer == "From the file."
    assert member.source("disclaimer") == "postseal.toml: policy.group.finance.disclaimer"


def test_a_database_rule_does_not_beat_a_more_specific_file_rule() -> None:
    rules = _merged({"encrypt": "opportunistic", "group": {"finance": {"encrypt": "required"}}})
    settings = rules.resolve(BOB, ["finance"])
    assert settings.encrypt == "never"
    assert settings.source("encrypt") == 'postseal.toml: policy.user."bob@example.org".encrypt'


def test_a_database_rule_for_a_new_name_adds_a_table() -> None:
    rules = _merged({"user": {"Carol@Example.org": {"sign": "always"}}})
    assert set(rules.users) == {BOB, "carol@example.org"}
    assert rules.resolve("carol@example.org").source("sign") == (
        'database: policy.user."carol@example.org".sign'
    )
    assert rules.resolve(BOB).sign is SignMode.NEVER


def test_strictness_between_groups_spans_both_sources() -> None:
    rules = _merged(
        {
            "group": {
                "audit": {"sign": "when-asked", "require_encryption_domains": ["b.example"]},
                "finance": {"require_encryption_domains": ["a.example"]},
            }
        }
    )
    settings = rules.resolve("carol@example.org", ["audit", "finance"])
    assert settings.sign is SignMode.ALWAYS
    assert settings.source("sign") == (
        "postseal.toml: policy.group.finance.sign (strictest of groups audit, finance)"
    )
    assert settings.require_encryption_domains == ("a.example", "b.example")
    assert settings.source("require_encryption_domains") == (
        "union of database: policy.group.audit.require_encryption_domains, "
        "database: policy.group.finance.require_encryption_domains (groups audit, finance)"
    )


def test_merging_nothing_changes_nothing() -> None:
    file_rules = load_rules(FILE, origin=TOML)
    assert merge_rules(file_rules, PolicyRules()) == file_rules
    assert merge_rules(PolicyRules(), file_rules) == file_rules


def test_the_explanation_names_the_source_of_the_deciding_rule() -> None:
    facts = MessageFacts(
        direction=Direction.OUTBOUND,
        sender="alice@example.org",
        recipients=(BOB,),
        certified_recipients=frozenset({BOB}),
        sender_can_sign=True,
    )
    decision = decide(facts, _merged({"user": {"alice@example.org": {"sign": "always"}}}))
    assert decision.sign
    assert '  sign=yes ← database: policy.user."alice@example.org".sign (sign=always)' in (
        explain(decision)
    )
    assert "  encrypt=required ← postseal.toml: policy.encrypt" in explain(decision)


def test_live_rules_start_from_the_file_and_swap_whole() -> None:
    live = LiveRules.from_toml(FILE)
    assert live.version is None
    assert live.current == live.toml
    assert live.resolve("carol@example.org").source("sign") == "postseal.toml: policy.sign"
    before = live.current
    live.update(load_rules({"sign": "always"}, origin=DATABASE), version=3)
    assert live.version == 3
    assert live.resolve("carol@example.org").sign is SignMode.ALWAYS
    assert live.resolve("carol@example.org").source("sign") == "database: policy.sign"
    assert before.resolve("carol@example.org").sign is SignMode.NEVER  # old rules untouched
    live.update(PolicyRules(), version=4)
    assert live.current == live.toml
    assert live.database == PolicyRules()


def test_a_bad_file_stops_live_rules_with_the_key_path() -> None:
    with pytest.raises(ConfigError, match=r"^policy\.sign: expected one of"):
        LiveRules.from_toml({"sign": "sometimes"})
