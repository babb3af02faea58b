"""What to do with a message after the virus scan (or after failing to scan it).

A scanner reads only what it can see: an S/MIME encrypted body is opaque, so its
``clean`` verdict means nothing (the seed's warning that antivirus cannot read encrypted
mail). :func:`decide_antivirus` therefore treats an encrypted message by
``on_unscannable_encrypted`` unless the scanner actually found something:

=================  ===========================================================
verdict            action
=================  ===========================================================
infected           ``on_infected``: refuse (554 5.7.0 at DATA) or quarantine
clean, plaintext   deliver
clean/error, enc.  ``on_unscannable_encrypted``: deliver-tagged, quarantine,
                   refuse, or decrypt-and-scan — which needs a local recipient
                   whose key the server holds, else falls back to deliver-tagged
error, plaintext   ``on_scan_error``: tempfail (451 4.7.0), quarantine,
                   deliver-tagged
=================  ===========================================================

With several local recipients whose rules differ, the strictest setting wins (a message
is scanned once, for everyone).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from postseal.policy.decision import Explanation
from postseal.policy.facts import MessageFacts
from postseal.policy.rules import (
    STRICTNESS,
    Effective,
    InfectedAction,
    RuleSource,
    UnscannableAction,
)

__all__ = ["AntivirusAction", "AntivirusDecision", "decide_antivirus"]


class AntivirusAction(enum.StrEnum):
    DELIVER = "deliver"
    DELIVER_TAGGED = "deliver-tagged"  # with a header saying it was not scanned
    QUARANTINE = "quarantine"
    REFUSE = "refuse"
    TEMPFAIL = "tempfail"
    DECRYPT_AND_SCAN = "decrypt-and-scan"  # decrypt with the held key, then ask again


@dataclass(frozen=True, slots=True)
class AntivirusDecision:
    """The action, the rule behind it, and a sentence for the reply or the quarantine."""

    action: AntivirusAction
    explanation: Explanation
    message: str


def decide_antivirus(
    verdict: str,
    *,
    encrypted: bool,
    rules: RuleSource,
    facts: MessageFacts | None = None,
    signature: str | None = None,
) -> AntivirusDecision:
    """Decide after a scan; ``verdict`` is a ``ScanVerdict`` value (``clean``,
    ``infected``, ``error``) — anything else counts as ``error``. ``facts`` names the
    local recipients whose rules apply (without it, the organisation's) and whose keys
    the server holds. Never raises."""
    subjects = _subjects(rules, facts)
    if verdict == "infected":
        value, rule = _strictest(subjects, "on_infected")
        found = signature or "malware"
        if value is InfectedAction.QUARANTINE:
            return _decision(
                AntivirusAction.QUARANTINE,
                rule,
                f"infected ({found})",
                f"quarantined: the message contains {found}",
            )
        return _decision(
            AntivirusAction.REFUSE,
            rule,
            f"infected ({found})",
            f"message refused: it contains {found} — remove the infected attachment and send again",
        )
    if encrypted:
        value, rule = _strictest(subjects, "on_unscannable_encrypted")
        if value is UnscannableAction.DECRYPT_AND_SCAN:
            held = {k.lower() for k in facts.server_held_keys} if facts else set()
            local = {r.lower() for r in facts.local_recipients} if facts else set()
            if held & local:
                return _decision(
                    AntivirusAction.DECRYPT_AND_SCAN,
                    rule,
                    "encrypted; a recipient's key is held",
                    "encrypted: decrypting with a server-held key to scan it",
                )
            return _decision(
                AntivirusAction.DELIVER_TAGGED,
                rule,
                "encrypted; decrypt-and-scan impossible, no recipient's key is held",
                "delivered unscanned: encrypted, and the server holds no recipient's key",
            )
        action = AntivirusAction(str(value))
        sentences = {
            AntivirusAction.DELIVER_TAGGED: "delivered unscanned: the message is encrypted",
            AntivirusAction.QUARANTINE: "quarantined: the message is encrypted and cannot be scanned",
            AntivirusAction.REFUSE: "message refused: it is encrypted and cannot be scanned for "
            "viruses — send it unencrypted, or ask the recipient's administrator",
        }
        return _decision(action, rule, "encrypted, cannot be scanned", sentences[action])
    if verdict == "clean":
        return _decision(
            AntivirusAction.DELIVER, "scanner verdict", "clean", "scanned: no threat found"
        )
    value, rule = _strictest(subjects, "on_scan_error")
    action = AntivirusAction(str(value))
    sentences = {
        AntivirusAction.TEMPFAIL: "the virus scanner is unavailable — try again later",
        AntivirusAction.QUARANTINE: "quarantined: the virus scanner could not scan it",
        AntivirusAction.DELIVER_TAGGED: "delivered unscanned: the virus scanner failed",
    }
    return _decision(action, rule, "the scanner failed", sentences[action])


def _subjects(rules: RuleSource, facts: MessageFacts | None) -> list[Effective]:
    if facts is not None:
        local = {r.lower() for r in facts.local_recipients}
        mailboxes = [r for r in dict.fromkeys(r.lower() for r in facts.recipients) if r in local]
        if mailboxes:
            return [rules.resolve(m, facts.groups_of(m)) for m in mailboxes]
    return [rules.resolve("")]


def _strictest(subjects: list[Effective], key: str) -> tuple[Any, str]:
    order = STRICTNESS[key]
    best = max(subjects, key=lambda settings: order.index(getattr(settings, key)))
    return getattr(best, key), best.source(key)


def _decision(action: AntivirusAction, rule: str, reason: str, message: str) -> AntivirusDecision:
    return AntivirusDecision(action, Explanation("antivirus", str(action), rule, reason), message)
