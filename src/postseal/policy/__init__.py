"""The policy engine: pure, explainable decisions on signing, encryption, verification,
decryption, antivirus handling and disclaimers (ADR 0009, docs/policy.md).

No I/O, no clock, no configuration import: services gather :class:`MessageFacts`, load
:class:`PolicyRules` with :func:`load_rules` (postseal.toml's, the database's — ADR 0019),
hold them merged in :class:`LiveRules`, and apply the decision.
"""

from __future__ import annotations

from postseal.policy.antivirus import AntivirusAction, AntivirusDecision, decide_antivirus
from postseal.policy.decision import DisclaimerAction, Explanation, PolicyDecision, explain
from postseal.policy.engine import decide
from postseal.policy.facts import Direction, MessageFacts, smime_layers
from postseal.policy.live import LiveRules
from postseal.policy.loader import load_rules
from postseal.policy.markers import has_subject_tag, strip_subject_tag
from postseal.policy.merge import merge_rules
from postseal.policy.rules import (
    DEFAULT_REQUEST_HEADER,
    DEFAULT_SUBJECT_TAG,
    DecryptMode,
    Effective,
    EncryptMode,
    InfectedAction,
    PolicyRules,
    RuleSet,
    RuleSource,
    ScanErrorAction,
    SignedDisclaimer,
    SignMode,
    UnscannableAction,
)

__all__ = [
    "DEFAULT_REQUEST_HEADER",
    "DEFAULT_SUBJECT_TAG",
    "AntivirusAction",
    "AntivirusDecision",
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
