"""``postseal policy set|unset|list`` and ``show|explain`` on postseal.toml's rules merged
with the database's (ADR 0019): the database overrides the file at the same key path,
every source is named, a bad change is one clear error that writes nothing, and every
change is audited."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from postseal.config import load_settings
from postseal.errors import ConfigError
from postseal.policy import LiveRules
from postseal.runtime import open_services
from postseal.store.ports import AuditRecord, PolicyRuleRecord, PolicyScope
from tests.e2e.cli import Org, copy_org, init_org

PASSWORD = "correct horse battery staple"
ALICE = "alice@example.org"
TOML = '[policy]\nencrypt = "never"\n[policy.user."alice@example.org"]\nsign = "never"\n'


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Org:
    org = init_org(tmp_path_factory.mktemp("policy") / "org")
    org.ok("user", "add", ALICE, "--password-stdin", "--group", "finance", stdin=PASSWORD + "\n")
    org.ok("user", "add", "bob@example.org", "--password-stdin", stdin=PASSWORD + "\n")
    (org.data_dir / "postseal.toml").write_text(TOML)
    return org


@pytest.fixture
def org(template: Org, tmp_path: Path) -> Org:
    return copy_org(template, tmp_path / "org")


def _stored(org: Org) -> tuple[int, list[PolicyRuleRecord], list[AuditRecord]]:
    """The policy version, the database's rules and the policy audit entries, oldest first."""

    async def read() -> tuple[int, list[PolicyRuleRecord], list[AuditRecord]]:
        settings = load_settings(org.data_dir, environ={})
        async with (
            open_services(settings, {}) as services,
            services.store.begin(readonly=True) as tx,
        ):
            version = await tx.policy_rules.version()
            rules = list(await tx.policy_rules.list())
            audit = [a for a in await tx.audit.list() if a.action.startswith("policy.")]
        return version, rules, audit[::-1]

    return asyncio.run(read())


def _show(org: Org, *args: str) -> dict[str, dict[str, Any]]:
    return {row["key"]: row for row in org.json("policy", "show", *args)}


def test_set_overrides_the_file_and_unset_gives_it_back(org: Org) -> None:
    assert _show(org, "--user", ALICE)["sign"]["rule"] == (
        'postseal.toml: policy.user."alice@example.org".sign'
    )
    result = org.json("policy", "set", "--user", "Alice@Example.org", "sign=always", "verify=false")
    assert result["version"] == 1
    assert result["changes"] == [
        {"rule": 'policy.user."alice@example.org".sign', "value": "always", "previous": None},
        {"rule": 'policy.user."alice@example.org".verify', "value": False, "previous": None},
    ]
    rows = _show(org, "--user", ALICE)
    assert (rows["sign"]["value"], rows["sign"]["rule"]) == (
        "always",
        'database: policy.user."alice@example.org".sign',
    )
    assert rows["verify"]["value"] is False
    assert rows["encrypt"]["rule"] == "postseal.toml: policy.encrypt"
    listed = org.json("policy", "list")
    assert [(r["rule"], r["source"], r["note"]) for r in listed] == [
        ("policy.encrypt", "postseal.toml", ""),
        ('policy.user."alice@example.org".sign', "postseal.toml", "overridden by the database"),
        ('policy.user."alice@example.org".sign', "database", "overrides postseal.toml"),
        ('policy.user."alice@example.org".verify', "database", ""),
    ]
    assert listed[2]["by"] == "cli"
    assert listed[2]["changed"] is not None

    again = org.json("policy", "set", "--user", ALICE, "sign=when-asked")
    assert again["changes"][0]["previous"] == "always"
    unset = org.run("policy", "unset", "--user", ALICE, "sign", "verify")
    assert unset.status == 0, unset.stderr
    assert 'unset policy.user."alice@example.org".sign (was "when-asked")' in unset.stdout
    assert "policy version 3" in unset.stdout
    assert _show(org, "--user", ALICE)["sign"]["rule"] == (
        'postseal.toml: policy.user."alice@example.org".sign'
    )
    version, rules, audit = _stored(org)
    assert (version, rules) == (3, [])
    assert [(a.action, a.target, a.detail) for a in audit] == [
        ("policy.set", 'policy.user."alice@example.org".sign', '"always" (was unset)'),
        ("policy.set", 'policy.user."alice@example.org".verify', "false (was unset)"),
        ("policy.set", 'policy.user."alice@example.org".sign', '"when-asked" (was "always")'),
        ("policy.unset", 'policy.user."alice@example.org".sign', 'was "when-asked"'),
        ("policy.unset", 'policy.user."alice@example.org".verify', "was false"),
    ]
    assert {a.actor for a in audit} == {"cli"}


def test_every_scope_is_stored_under_its_canonical_name(org: Org) -> None:
    org.ok(
        "policy", "set", "--organisation", "require_encryption_domains=Partner.Example,b.example"
    )
    org.ok("policy", "set", "--domain", "Example.ORG", "disclaimer=Confidential.\nSecond line.")
    org.ok("policy", "set", "--group", "finance", "encrypt=required", "sign=always")
    _, rules, _ = _stored(org)
    assert [(r.scope, r.name, r.key, r.value) for r in rules] == [
        (
            PolicyScope.ORGANISATION,
            "",
            "require_encryption_domains",
            '["b.example", "partner.example"]',
        ),
        (PolicyScope.DOMAIN, "example.org", "disclaimer", '"Confidential.\\nSecond line."'),
        (PolicyScope.GROUP, "finance", "encrypt", '"required"'),
        (PolicyScope.GROUP, "finance", "sign", '"always"'),
    ]
    bob = _show(org, "--user", "bob@example.org")
    assert bob["disclaimer"]["rule"] == 'database: policy.domain."example.org".disclaimer'
    assert bob["encrypt"]["rule"] == "postseal.toml: policy.encrypt"
    alice = _show(org, "--user", ALICE)
    assert alice["encrypt"]["rule"] == "database: policy.group.finance.encrypt"
    assert alice["sign"]["rule"] == 'postseal.toml: policy.user."alice@example.org".sign'


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--group", "finance", "sign=always", "encrypt=sometimes"],
            "policy.group.finance.encrypt: expected one of never, opportunistic, required, "
            "when-asked, got 'sometimes'",
        ),
        (
            ["--group", "finance", "encryptt=never"],
            "policy.group.finance.encryptt: unknown key — did you mean encrypt?",
        ),
        (["--organisation", "verify=yes"], "policy.verify: expected true or false, got 'yes'"),
        (["--organisation", "sign=always", "sign=never"], "policy.sign is given twice"),
        (["--organisation", "sign"], "'sign' is not KEY=VALUE"),
        (
            ["--user", "carol@example.org", "sign=always"],
            'policy.user."carol@example.org": there is no user carol@example.org in the directory',
        ),
        (["--user", "not an address", "sign=always"], 'policy.user."not an address": '),
        (
            ["--group", "sales", "sign=always"],
            "policy.group.sales: no user is in the group 'sales'; nothing was changed — known: finance",
        ),
        (["--group", "Sales Team", "sign=always"], 'policy.group."Sales Team": a group name holds'),
        (
            ["--domain", "partner.example", "sign=always"],
            'policy.domain."partner.example": partner.example is neither a local domain nor the '
            "domain of a user; nothing was changed — known: example.org",
        ),
        (
            ["--organisation", "require_encryption_domains=partner.example,not a domain"],
            "policy.require_encryption_domains: 'not a domain' is not a valid domain",
        ),
    ],
)
def test_a_bad_change_is_one_error_naming_the_key_path_and_writes_nothing(
    org: Org, args: list[str], message: str
) -> None:
    org.ok("policy", "set", "--organisation", "sign=always")
    before = _stored(org)
    result = org.run("policy", "set", *args)
    assert result.status == 1
    assert len(result.error_lines) == 1, result.stderr
    assert result.error_lines[0].startswith(f"postseal: error: {message}"), result.stderr
    assert result.stdout == ""
    assert _stored(org) == before


def test_unset_is_all_or_nothing(org: Org) -> None:
    org.ok("policy", "set", "--group", "finance", "sign=always")
    before = _stored(org)
    missing = org.run("policy", "unset", "--group", "finance", "sign", "encrypt")
    assert missing.status == 1
    assert "policy.group.finance.encrypt is not set in the database; nothing was changed" in (
        missing.stderr
    )
    unknown = org.run("policy", "unset", "--group", "finance", "sing")
    assert unknown.status == 1
    assert "policy.group.finance.sing: unknown key — did you mean sign?" in unknown.stderr
    in_file = org.run("policy", "unset", "--user", ALICE, "sign")
    assert in_file.status == 1
    assert "rules of postseal.toml are changed in the file" in in_file.stderr
    assert _stored(org) == before


def test_a_rule_of_a_removed_user_can_still_be_unset(org: Org) -> None:
    org.ok("policy", "set", "--user", "bob@example.org", "sign=always")
    org.ok("user", "remove", "bob@example.org")
    org.ok("policy", "unset", "--user", "BOB@example.org", "sign")
    assert _stored(org)[1] == []


def test_the_scope_is_required_and_single(org: Org) -> None:
    for args in (["sign=always"], ["--organisation", "--group", "finance", "sign=always"]):
        result = org.run("policy", "set", *args)
        assert result.status == 2
        assert result.stderr.startswith("postseal: error: ")


def test_explain_uses_the_database_rules(org: Org, tmp_path: Path) -> None:
    message = tmp_path / "m.eml"
    message.write_bytes(
        b"From: alice@example.org\r\nTo: bob@example.org\r\nSubject: hi\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nhello\r\n"
    )
    args = ("policy", "explain", str(message), "--from", ALICE, "--to", "bob@example.org")
    before = org.run(*args)
    assert before.status == 0, before.stderr
    assert "  sign: no" in before.stdout
    assert 'sign=no ← postseal.toml: policy.user."alice@example.org".sign' in before.stdout
    org.ok("policy", "set", "--user", ALICE, "sign=always")
    after = org.run(*args)
    assert after.status == 0, after.stderr
    assert "  sign: yes" in after.stdout
    assert 'sign=yes ← database: policy.user."alice@example.org".sign (sign=always)' in (
        after.stdout
    )
    assert "encrypt=no ← postseal.toml: policy.encrypt" in after.stdout


def test_an_invalid_stored_rule_is_named_and_can_be_removed(org: Org) -> None:
    async def corrupt() -> None:
        settings = load_settings(org.data_dir, environ={})
        async with open_services(settings, {}) as services:
            async with services.store.begin() as tx:
                await tx.policy_rules.put(
                    PolicyRuleRecord(
                        PolicyScope.GROUP,
                        "finance",
                        "sign",
                        '"sometimes"',
                        "sql",
                        services.clock(),
                    )
                )
                await tx.policy_rules.bump_version()
            live = LiveRules.from_toml(settings.policy)
            with pytest.raises(ConfigError, match=r"policy\.group\.finance\.sign: expected one of"):
                await services.policy.refresh(live)
            assert live.version is None  # the rules in force stay as they were

    asyncio.run(corrupt())
    shown = org.run("policy", "show")
    assert shown.status == 1
    assert shown.stderr.startswith(
        "postseal: error: a policy rule in the database is not valid: "
        "policy.group.finance.sign: expected one of always, never, when-asked, got 'sometimes'"
    )
    assert "postseal policy unset" in shown.stderr
    listed = [r for r in org.json("policy", "list") if r["source"] == "database"]
    assert [(r["rule"], r["value"], r["by"]) for r in listed] == [
        ("policy.group.finance.sign", "sometimes", "sql")
    ]
    org.ok("policy", "unset", "--group", "finance", "sign")
    assert org.run("policy", "show").status == 0
