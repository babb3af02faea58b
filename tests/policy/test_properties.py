"""Subject-tag handling, and properties of ``decide`` over generated facts and rules."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from postseal.policy import (
    Direction,
    MessageFacts,
    PolicyRules,
    decide,
    decide_antivirus,
    explain,
    has_subject_tag,
    load_rules,
    smime_layers,
    strip_subject_tag,
)
from postseal.policy.rules import KEYS, STRICTNESS


@pytest.mark.parametrize(
    ("subject", "tag", "found", "stripped"),
    [
        ("[secure] Q3", "[secure]", True, "Q3"),
        ("Re: [SECURE]  Q3 figures", "[secure]", True, "Re: Q3 figures"),
        ("Q3 [Secure]", "[secure]", True, "Q3"),
        ("[secure]", "[secure]", True, ""),
        ("[secure] a [secure] b", "[secure]", True, "a b"),
        ("secure Q3", "[secure]", False, "secure Q3"),
        ("[secure] Q3", "", False, "[secure] Q3"),
        ("Q3 (encrypt.*) x", "(encrypt.*)", True, "Q3 x"),
    ],
)
def test_subject_tag(subject: str, tag: str, found: bool, stripped: str) -> None:
    assert has_subject_tag(subject, tag) is found
    assert strip_subject_tag(subject, tag) == stripped


ADDRESSES = st.sampled_from(
    ["alice@example.org", "bob@partner.example", "carol@partner.example", "dave@example.org", ""]
)
GROUPS = st.frozensets(st.sampled_from(["finance", "legal", "staff"]), max_size=3)
TEXT = st.text(max_size=40)
_VALUES: dict[str, Any] = {
    "require_encryption_domains": st.lists(st.sampled_from(["partner.example", "example.org"])),
    "secure_subject_tag": st.sampled_from(["", "[secure]", "{x}"]),
    "request_header": st.sampled_from(["X-Postseal-Request", "X-Secure"]),
    "disclaimer": st.sampled_from(["", "Confidential."]),
}


def _strategy(key: str) -> st.SearchStrategy[Any]:
    if key in _VALUES:
        return _VALUES[key]  # type: ignore[no-any-return]
    return st.sampled_from([v if isinstance(v, bool) else str(v) for v in STRICTNESS[key]])


RULE_SET = st.fixed_dictionaries({}, optional={key: _strategy(key) for key in KEYS})
POLICY = st.builds(
    lambda org, groups, users, domains: {
        **org,
        "group": groups,
        "user": users,
        "domain": domains,
    },
    RULE_SET,
    st.dictionaries(st.sampled_from(["finance", "legal", "staff"]), RULE_SET, max_size=3),
    st.dictionaries(
        st.sampled_from(["alice@example.org", "bob@partner.example"]), RULE_SET, max_size=2
    ),
    st.dictionaries(st.sampled_from(["example.org", "partner.example"]), RULE_SET, max_size=2),
)
FACTS = st.builds(
    MessageFacts,
    direction=st.sampled_from(Direction),
    sender=ADDRESSES,
    recipients=st.lists(ADDRESSES, max_size=4).map(tuple),
    groups=st.dictionaries(ADDRESSES, GROUPS, max_size=3),
    local_recipients=st.frozensets(ADDRESSES),
    certified_recipients=st.frozensets(ADDRESSES),
    sender_can_sign=st.booleans(),
    server_held_keys=st.frozensets(ADDRESSES),
    subject=st.one_of(TEXT, st.sampled_from(["[secure] x", "Re: [SECURE]", "{x} y"])),
    headers=st.lists(
        st.tuples(st.sampled_from(["X-Postseal-Request", "x-secure", "Subject"]), TEXT)
        | st.tuples(
            st.just("X-Postseal-Request"), st.sampled_from(["sign", "encrypt", "sign encrypt"])
        ),
        max_size=3,
    ).map(tuple),
    signed=st.booleans(),
    encrypted=st.booleans(),
    size=st.integers(min_value=0),
)


@settings(max_examples=400, deadline=None)
@given(facts=FACTS, policy=POLICY)
def test_decide_never_raises_and_always_explains(
    facts: MessageFacts, policy: dict[str, Any]
) -> None:
    rules = load_rules(policy)
    decision = decide(facts, rules)
    lines = explain(decision)
    assert lines[0].startswith(f"{facts.direction} message: ")
    for verdict in ("clean", "infected", "error", "?"):
        decide_antivirus(verdict, encrypted=facts.encrypted, rules=rules, facts=facts)
    if decision.refuse is not None:
        assert "REFUSED" in lines[0]


@settings(max_examples=400, deadline=None)
@given(facts=FACTS, policy=POLICY)
def test_required_encryption_with_all_certificates_encrypts(
    facts: MessageFacts, policy: dict[str, Any]
) -> None:
    rules: PolicyRules = load_rules(policy)
    outbound = MessageFacts(
        **{
            **{f: getattr(facts, f) for f in facts.__dataclass_fields__},
            "direction": Direction.OUTBOUND,
        }
    )
    settings_ = rules.resolve(outbound.sender, outbound.groups_of(outbound.sender))
    domains = {r.rpartition("@")[2] for r in outbound.recipients}
    required = settings_.encrypt == "required" or bool(
        domains & set(settings_.require_encryption_domains)
    )
    everyone = set(outbound.recipients) <= outbound.certified_recipients
    decision = decide(outbound, rules)
    if required and everyone and outbound.recipients and not outbound.encrypted:
        assert decision.encrypt is True
    if required and not everyone and not outbound.encrypted:
        assert decision.encrypt is False
        assert decision.refuse is not None
        for missing in set(outbound.recipients) - outbound.certified_recipients:
            assert missing in decision.refuse


@given(st.text(max_size=200))
def test_smime_layers_never_raises(content_type: str) -> None:
    signed, encrypted = smime_layers(content_type)
    assert not (signed and encrypted)
