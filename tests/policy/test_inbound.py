"""Inbound decisions (verify, harvest, decrypt) and the antivirus decision."""

from __future__ import annotations

from typing import Any

import pytest

from postseal.policy import (
    AntivirusAction,
    Direction,
    MessageFacts,
    decide,
    decide_antivirus,
    explain,
    load_rules,
    smime_layers,
)

BOB = "bob@example.org"
CAROL = "carol@example.org"


def inbound(**changes: Any) -> MessageFacts:
    facts: dict[str, Any] = {
        "direction": Direction.INBOUND,
        "sender": "x@outside.example",
        "recipients": (BOB, CAROL),
        "local_recipients": frozenset({BOB, CAROL}),
        "groups": {BOB: frozenset({"finance"})},
        "server_held_keys": frozenset({BOB, CAROL}),
        "encrypted": True,
    }
    facts.update(changes)
    return MessageFacts(**facts)


def test_defaults_verify_harvest_and_keep() -> None:
    decision = decide(inbound(), load_rules({}))
    assert (decision.verify, decision.harvest_certificates, decision.decrypt_for) == (
        True,
        True,
        (),
    )
    assert decision.refuse is None


def test_decrypt_per_mailbox_with_held_keys_only() -> None:
    rules = load_rules({"decrypt": "decrypt", "user": {CAROL: {"decrypt": "keep"}}})
    decision = decide(inbound(), rules)
    assert decision.decrypt_for == (BOB,)
    lines = explain(decision)
    assert "  decrypt[bob@example.org]=decrypt ← policy.decrypt" in lines
    assert '  decrypt[carol@example.org]=keep ← policy.user."carol@example.org".decrypt' in lines
    zero_access = decide(
        inbound(server_held_keys=frozenset({CAROL})), load_rules({"decrypt": "decrypt"})
    )
    assert zero_access.decrypt_for == (CAROL,)
    assert any("the server holds no key for it" in line for line in explain(zero_access))


def test_nothing_to_decrypt_in_plain_mail() -> None:
    decision = decide(inbound(encrypted=False), load_rules({"decrypt": "decrypt"}))
    assert decision.decrypt_for == ()


def test_verify_and_harvest_when_any_recipient_wants_them() -> None:
    rules = load_rules(
        {"verify": False, "harvest_certificates": False, "group": {"finance": {"verify": True}}}
    )
    decision = decide(inbound(), rules)
    assert decision.verify is True
    assert decision.harvest_certificates is False
    assert "  verify=yes ← policy.group.finance.verify (for bob@example.org)" in explain(decision)


def test_no_local_recipient_uses_the_organisation() -> None:
    decision = decide(inbound(local_recipients=frozenset()), load_rules({"verify": False}))
    assert decision.verify is False


# --- antivirus ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("verdict", "encrypted", "policy", "action"),
    [
        ("clean", False, {}, AntivirusAction.DELIVER),
        ("infected", False, {}, AntivirusAction.REFUSE),
        ("infected", False, {"on_infected": "quarantine"}, AntivirusAction.QUARANTINE),
        ("infected", True, {}, AntivirusAction.REFUSE),
        ("clean", True, {}, AntivirusAction.DELIVER_TAGGED),
        ("clean", True, {"on_unscannable_encrypted": "quarantine"}, AntivirusAction.QUARANTINE),
        ("clean", True, {"on_unscannable_encrypted": "refuse"}, AntivirusAction.REFUSE),
        (
            "error",
            True,
            {"on_unscannable_encrypted": "decrypt-and-scan"},
            AntivirusAction.DECRYPT_AND_SCAN,
        ),
        ("error", False, {}, AntivirusAction.TEMPFAIL),
        ("error", False, {"on_scan_error": "quarantine"}, AntivirusAction.QUARANTINE),
        ("error", False, {"on_scan_error": "deliver-tagged"}, AntivirusAction.DELIVER_TAGGED),
        ("bogus", False, {}, AntivirusAction.TEMPFAIL),
    ],
)
def test_antivirus_actions(
    verdict: str, encrypted: bool, policy: dict[str, Any], action: AntivirusAction
) -> None:
    decision = decide_antivirus(
        verdict, encrypted=encrypted, rules=load_rules(policy), facts=inbound()
    )
    assert decision.action is action
    assert decision.explanation.decision == "antivirus"


def test_infected_names_the_signature_and_the_rule() -> None:
    decision = decide_antivirus(
        "infected", encrypted=False, rules=load_rules({}), signature="eicar.com.UNOFFICIAL"
    )
    assert decision.message == (
        "message refused: it contains eicar.com.UNOFFICIAL — remove the infected attachment "
        "and send again"
    )
    assert str(decision.explanation) == (
        "antivirus=refuse ← built-in default (infected (eicar.com.UNOFFICIAL))"
    )


def test_decrypt_and_scan_without_a_held_key_falls_back_to_tagging() -> None:
    rules = load_rules({"on_unscannable_encrypted": "decrypt-and-scan"})
    decision = decide_antivirus(
        "clean", encrypted=True, rules=rules, facts=inbound(server_held_keys=frozenset())
    )
    assert decision.action is AntivirusAction.DELIVER_TAGGED
    assert "no recipient's key is held" in decision.explanation.reason


def test_the_strictest_recipient_setting_wins_for_antivirus() -> None:
    rules = load_rules({"on_infected": "quarantine", "user": {CAROL: {"on_infected": "refuse"}}})
    decision = decide_antivirus("infected", encrypted=False, rules=rules, facts=inbound())
    assert decision.action is AntivirusAction.REFUSE
    assert decision.explanation.rule == 'policy.user."carol@example.org".on_infected'


@pytest.mark.parametrize(
    ("content_type", "layers"),
    [
        ('multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256', (True, False)),
        ("multipart/signed; protocol=application/x-pkcs7-signature", (True, False)),
        ("multipart/signed; protocol=application/pgp-signature", (False, False)),
        ("application/pkcs7-mime; smime-type=signed-data; name=smime.p7m", (True, False)),
        ("application/pkcs7-mime; smime-type=enveloped-data", (False, True)),
        ("Application/PKCS7-MIME; smime-type=authEnveloped-data", (False, True)),
        ("application/x-pkcs7-mime", (False, True)),
        ("application/pkcs7-mime; smime-type=certs-only", (False, False)),
        ("text/plain; charset=utf-8", (False, False)),
        ("", (False, False)),
    ],
)
def test_smime_layers(content_type: str, layers: tuple[bool, bool]) -> None:
    assert smime_layers(content_type) == layers
