"""Outbound decisions: signing, encryption, refusals and their exact texts, disclaimers."""

from __future__ import annotations

from typing import Any

import pytest

from postseal.policy import (
    Direction,
    DisclaimerAction,
    MessageFacts,
    PolicyDecision,
    decide,
    explain,
    load_rules,
)

ALICE = "alice@example.org"
BOB = "bob@partner.example"
CAROL = "carol@partner.example"
DAVE = "dave@example.org"


def outbound(**changes: Any) -> MessageFacts:
    facts: dict[str, Any] = {
        "direction": Direction.OUTBOUND,
        "sender": ALICE,
        "recipients": (BOB, CAROL, DAVE),
        "groups": {ALICE: frozenset({"staff"})},
        "certified_recipients": frozenset({BOB, CAROL, DAVE}),
        "sender_can_sign": True,
        "subject": "Q3 figures",
    }
    facts.update(changes)
    return MessageFacts(**facts)


def run(policy: dict[str, Any], **changes: Any) -> PolicyDecision:
    return decide(outbound(**changes), load_rules(policy))


def rules_of(decision: PolicyDecision, name: str) -> list[str]:
    return [str(e) for e in decision.explanations if e.decision == name]


# --- signing ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "changes", "signed", "rule"),
    [
        ({"sign": "always"}, {}, True, "sign=yes ← policy.sign (sign=always)"),
        ({}, {}, False, "sign=no ← built-in default (sign=when-asked, not requested)"),
        ({"sign": "never"}, {}, False, "sign=no ← policy.sign (sign=never, not requested)"),
        (
            {},
            {"headers": (("X-Postseal-Request", "sign"),)},
            True,
            "sign=yes ← header X-Postseal-Request (built-in default is when-asked)",
        ),
        (
            {"sign": "always"},
            {"signed": True},
            False,
            "sign=no ← message content (already signed by the sender's program)",
        ),
        (
            {"sign": "always"},
            {"encrypted": True},
            False,
            "sign=no ← message content (already encrypted by the sender's program)",
        ),
    ],
    ids=["always", "when-asked", "never", "asked", "already-signed", "already-encrypted"],
)
def test_sign(policy: dict[str, Any], changes: dict[str, Any], signed: bool, rule: str) -> None:
    decision = run(policy, **changes)
    assert decision.sign is signed
    assert decision.refuse is None
    assert rules_of(decision, "sign") == [rule]


def test_sign_always_without_a_certificate_is_refused() -> None:
    decision = run({"user": {ALICE: {"sign": "always"}}}, sender_can_sign=False)
    assert decision.sign is False
    assert decision.refuse == (
        "cannot sign: alice@example.org has no valid signing certificate and "
        'policy.user."alice@example.org".sign is always — run `postseal cert issue '
        "alice@example.org`, or ask the administrator"
    )


def test_a_sign_request_without_a_certificate_is_refused_never_sent_unsigned() -> None:
    decision = run({}, sender_can_sign=False, headers=(("x-postseal-request", "Sign"),))
    assert decision.sign is False
    assert decision.refuse == (
        "cannot sign: alice@example.org has no valid signing certificate — "
        "run `postseal cert issue alice@example.org` or send unsigned"
    )


def test_a_sign_request_under_never_is_refused() -> None:
    decision = run({"sign": "never"}, headers=(("X-Postseal-Request", "sign"),))
    assert decision.refuse == (
        "cannot sign: signing was requested by the X-Postseal-Request header but policy.sign "
        "is never — remove sign from the X-Postseal-Request header, or ask the administrator"
    )


def test_an_unknown_request_token_is_refused_not_ignored() -> None:
    decision = run({}, headers=(("X-Postseal-Request", "encrpyt"),))
    assert decision.refuse == (
        "the X-Postseal-Request header asks for 'encrpyt', which postseal does not know — "
        "write sign and/or encrypt, or remove the header"
    )
    assert decision.remove_headers == ("X-Postseal-Request",)


# --- encryption ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "certified", "encrypted"),
    [
        ("opportunistic", {BOB, CAROL, DAVE}, True),
        ("opportunistic", {BOB, DAVE}, False),
        ("never", {BOB, CAROL, DAVE}, False),
        ("when-asked", {BOB, CAROL, DAVE}, False),
        ("required", {BOB, CAROL, DAVE}, True),
    ],
)
def test_encrypt_modes(mode: str, certified: set[str], encrypted: bool) -> None:
    decision = run({"encrypt": mode}, certified_recipients=frozenset(certified))
    assert decision.encrypt is encrypted
    assert decision.refuse is None


def test_required_by_recipient_domain_names_every_recipient_without_certificate() -> None:
    decision = run(
        {"require_encryption_domains": ["partner.example"]},
        certified_recipients=frozenset({DAVE}),
    )
    assert decision.encrypt is False
    assert decision.refuse == (
        "encryption is required for partner.example but no valid certificate for "
        "bob@partner.example, carol@partner.example — ask them to enroll, or remove them as "
        "recipients"
    )
    assert "encrypt=required ← policy.require_encryption_domains (partner.example)" in (
        rules_of(decision, "encrypt")
    )


def test_a_domain_requirement_ignores_other_domains() -> None:
    decision = run(
        {"require_encryption_domains": ["elsewhere.example"]}, certified_recipients=frozenset()
    )
    assert decision.refuse is None
    assert decision.encrypt is False


def test_the_secure_tag_requires_encryption_and_is_stripped() -> None:
    decision = run({}, subject="Re: [SECURE]  Q3 figures")
    assert decision.encrypt is True
    assert decision.strip_subject_tag is True
    assert decision.subject == "Re: Q3 figures"
    assert "encrypt=yes ← the [secure] tag (every recipient has a certificate)" in rules_of(
        decision, "encrypt"
    )


def test_the_secure_tag_without_certificates_is_refused_with_the_way_out() -> None:
    decision = run({}, subject="[secure] Q3", certified_recipients=frozenset({BOB}))
    assert decision.refuse == (
        "encryption is required by the [secure] tag but no valid certificate for "
        "carol@partner.example, dave@example.org — ask them to enroll, or remove the "
        "[secure] tag"
    )


def test_a_custom_tag_and_header() -> None:
    policy = {"secure_subject_tag": "{confidential}", "request_header": "X-Secure"}
    assert run(policy, subject="{Confidential} Q3").encrypt is True
    assert run(policy, subject="[secure] Q3").encrypt is True  # opportunistic anyway
    by_header = run(
        policy, headers=(("x-secure", "encrypt, sign"),), certified_recipients=frozenset()
    )
    assert by_header.sign is True
    assert by_header.refuse is not None
    assert "by the X-Secure header" in by_header.refuse
    assert by_header.remove_headers == ("X-Secure",)


def test_an_empty_tag_turns_the_tag_off() -> None:
    decision = run({"encrypt": "when-asked", "secure_subject_tag": ""}, subject="[secure] Q3")
    assert decision.encrypt is False
    assert decision.strip_subject_tag is False


def test_a_request_under_never_is_refused() -> None:
    decision = run({"group": {"staff": {"encrypt": "never"}}}, subject="[secure] x")
    assert decision.encrypt is False
    assert decision.strip_subject_tag is False
    assert decision.refuse == (
        "cannot encrypt: encryption was requested by the [secure] tag but "
        "policy.group.staff.encrypt is never — remove the [secure] tag, or ask the administrator"
    )


def test_required_mode_names_its_rule() -> None:
    decision = run(
        {"group": {"staff": {"encrypt": "required"}}}, certified_recipients=frozenset({BOB, CAROL})
    )
    assert decision.refuse == (
        "encryption is required by policy.group.staff.encrypt but no valid certificate for "
        "dave@example.org — ask them to enroll, or remove them as recipients"
    )


def test_already_encrypted_is_left_alone() -> None:
    decision = run({"encrypt": "required"}, encrypted=True, certified_recipients=frozenset())
    assert (decision.encrypt, decision.refuse) == (False, None)


def test_user_rule_beats_group_and_organisation_in_the_decision() -> None:
    policy = {
        "encrypt": "required",
        "group": {"staff": {"encrypt": "required"}},
        "user": {ALICE: {"encrypt": "never"}},
    }
    decision = run(policy, certified_recipients=frozenset())
    assert decision.refuse is None
    assert rules_of(decision, "encrypt") == [
        'encrypt=no ← policy.user."alice@example.org".encrypt (encrypt=never, not requested)'
    ]


def test_two_refusals_are_both_reported() -> None:
    decision = run(
        {"sign": "always", "encrypt": "required"},
        sender_can_sign=False,
        certified_recipients=frozenset(),
    )
    assert decision.refuse is not None
    assert decision.refuse.startswith("cannot sign:")
    assert "; encryption is required by policy.encrypt" in decision.refuse


# --- disclaimer ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "changes", "action"),
    [
        ({}, {}, DisclaimerAction.NONE),
        ({"disclaimer": "Confidential."}, {}, DisclaimerAction.APPEND),
        ({"disclaimer": "Confidential."}, {"signed": True}, DisclaimerAction.NONE),
        (
            {"disclaimer": "Confidential.", "disclaimer_on_signed": "wrap"},
            {"signed": True},
            DisclaimerAction.WRAP,
        ),
        (
            {"disclaimer": "Confidential.", "disclaimer_on_signed": "wrap"},
            {"encrypted": True},
            DisclaimerAction.WRAP,
        ),
    ],
    ids=["none", "plain", "signed-skip", "signed-wrap", "encrypted-wrap"],
)
def test_disclaimer(
    policy: dict[str, Any], changes: dict[str, Any], action: DisclaimerAction
) -> None:
    decision = run(policy, **changes)
    assert decision.disclaimer is action
    assert decision.disclaimer_text == ("" if action is DisclaimerAction.NONE else "Confidential.")


# --- explanation --------------------------------------------------------------------


def test_explain_prints_the_outcome_and_every_rule() -> None:
    decision = run(
        {"require_encryption_domains": ["partner.example"], "sign": "always"},
        subject="[secure] Q3",
    )
    assert explain(decision) == [
        "outbound message: accepted",
        "  sign: yes",
        "  encrypt: yes",
        "  subject becomes: 'Q3'",
        "  disclaimer: none",
        "because:",
        "  sign=yes ← policy.sign (sign=always)",
        "  encrypt=required ← policy.require_encryption_domains (partner.example)",
        "  encrypt=required ← the [secure] tag (built-in default is opportunistic)",
        "  encrypt=yes ← policy.require_encryption_domains + the [secure] tag "
        "(every recipient has a certificate)",
        "  subject='Q3' ← built-in default (tag honoured and removed)",
    ]


def test_explain_a_refusal_starts_with_it() -> None:
    decision = run({"encrypt": "required"}, certified_recipients=frozenset())
    assert explain(decision)[0].startswith("outbound message: REFUSED — encryption is required")
