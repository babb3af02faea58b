"""The public surface of postseal.policy and postseal.adapters, frozen: changing it is a
decision (update docs/policy.md and this list together)."""

from __future__ import annotations

import postseal.adapters
import postseal.policy


def test_policy_surface() -> None:
    assert sorted(postseal.policy.__all__) == [
        "AntivirusAction",
        "AntivirusDecision",
        "DEFAULT_REQUEST_HEADER",
        "DEFAULT_SUBJECT_TAG",
        "DecryptMode",
        "Direction",
        "DisclaimerAction",
        "Effective",
        "EncryptMode",
        "Explanation",
        "InfectedAction",
        "LiveRules",
        "MessageFacts",
        "PolicyDecision",
        "PolicyRules",
        "RuleSet",
        "RuleSource",
        "ScanErrorAction",
        "SignMode",
        "SignedDisclaimer",
        "UnscannableAction",
        "decide",
        "decide_antivirus",
        "explain",
        "has_subject_tag",
        "load_rules",
        "merge_rules",
        "smime_layers",
        "strip_subject_tag",
    ]
    for name in postseal.policy.__all__:
        assert hasattr(postseal.policy, name)


def test_adapters_surface() -> None:
    assert postseal.adapters.__all__ == ["ClamdScanner"]
