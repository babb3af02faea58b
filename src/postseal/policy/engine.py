"""Explainable policy decisions for one message: pure values in, a decision out.

:func:`decide` never raises and never performs I/O. Each choice it makes is recorded as
an :class:`Explanation` naming the rule (a postseal.toml key path) that made it, so
``postseal policy explain`` can print why a message was signed, encrypted or refused.

Outbound (submission): the subject of the rules is the sender.

- ``sign``: ``always`` signs; ``when-asked`` signs when the request header says ``sign``;
  ``never`` refuses a request. A sender without a valid signing certificate is *refused*
  whenever signing is due — a message is never sent unsigned silently.
- ``encrypt``: encryption is *required* when the mode is ``required``, when a recipient's
  domain is in ``require_encryption_domains``, or when the sender asks (subject tag or
  request header; under ``never`` a request is refused). A required encryption with a
  recipient lacking a certificate is refused naming every such recipient; the services
  answer it with a 5.7.x reply at submission (RFC 5321 §4.2.2, RFC 3463). Otherwise
  ``opportunistic`` encrypts when every recipient has a certificate.
- A message the sender's own program already signed or encrypted is not signed again
  (nor re-encrypted); a disclaimer skips it or wraps it (``disclaimer_on_signed``), as a
  transport agent may never change signed content.

Inbound (MX): the subjects are the local recipients. ``verify`` asks the services to
check S/MIME signatures and record the outcome in an Authentication-Results header
(RFC 8601 §2.7, method ``smime``) added outside the signed content; ``decrypt_for``
lists the mailboxes whose server-held key decrypts the message before storage.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from postseal.policy.decision import DisclaimerAction, Explanation, PolicyDecision
from postseal.policy.facts import Direction, MessageFacts
from postseal.policy.markers import Requests, find_requests, strip_subject_tag
from postseal.policy.rules import (
    DecryptMode,
    Effective,
    EncryptMode,
    RuleSource,
    SignedDisclaimer,
    SignMode,
)

__all__ = ["decide"]


@dataclass
class _Trace:
    notes: list[Explanation] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)

    def note(self, decision: str, value: str, rule: str, reason: str = "") -> None:
        self.notes.append(Explanation(decision, value, rule, reason))

    def refuse(self, text: str) -> None:
        self.refusals.append(text)


def decide(facts: MessageFacts, rules: RuleSource) -> PolicyDecision:
    """The decision for ``facts`` under ``rules``; see the module docstring."""
    if facts.direction is Direction.INBOUND:
        return _inbound(facts, rules)
    return _outbound(facts, rules)


def _outbound(facts: MessageFacts, rules: RuleSource) -> PolicyDecision:
    sender = facts.sender.lower()
    settings = rules.resolve(sender, facts.groups_of(sender))
    requests = find_requests(facts, settings)
    trace = _Trace()
    header = settings.request_header
    if requests.unknown:
        shown = ", ".join(repr(token) for token in requests.unknown)
        trace.note("request", "refused", f"header {header}", f"unknown token {shown}")
        trace.refuse(
            f"the {header} header asks for {shown}, which postseal does not know — "
            "write sign and/or encrypt, or remove the header"
        )
    sign = _sign(facts, sender, settings, requests, trace)
    encrypt = _encrypt(facts, settings, requests, trace)
    honour_tag = requests.encrypt_by_tag and settings.encrypt is not EncryptMode.NEVER
    subject = strip_subject_tag(facts.subject, settings.secure_subject_tag) if honour_tag else None
    if honour_tag:
        rule = settings.source("secure_subject_tag")
        trace.note("subject", repr(subject), rule, "tag honoured and removed")
    action, text = _disclaimer(facts, settings, trace)
    return PolicyDecision(
        direction=Direction.OUTBOUND,
        sign=sign,
        encrypt=encrypt,
        refuse="; ".join(trace.refusals) or None,
        strip_subject_tag=honour_tag,
        subject=subject,
        remove_headers=(header,) if requests.header_present else (),
        disclaimer=action,
        disclaimer_text=text,
        explanations=tuple(trace.notes),
    )


def _sign(
    facts: MessageFacts, sender: str, settings: Effective, requests: Requests, trace: _Trace
) -> bool:
    mode, rule, header = settings.sign, settings.source("sign"), settings.request_header
    if facts.encrypted or facts.signed:
        done = "encrypted" if facts.encrypted else "signed"
        trace.note("sign", "no", "message content", f"already {done} by the sender's program")
        return False
    no_certificate = (
        f"cannot sign: {sender} has no valid signing certificate — "
        f"run `postseal cert issue {sender}` or send unsigned"
    )
    if mode is SignMode.ALWAYS:
        if facts.sender_can_sign:
            trace.note("sign", "yes", rule, "sign=always")
            return True
        trace.note("sign", "refused", rule, "sign=always but no signing certificate")
        trace.refuse(
            f"cannot sign: {sender} has no valid signing certificate and {rule} is always — "
            f"run `postseal cert issue {sender}`, or ask the administrator"
        )
        return False
    if not requests.sign:
        trace.note("sign", "no", rule, f"sign={mode}, not requested")
        return False
    if mode is SignMode.NEVER:
        trace.note("sign", "refused", rule, f"requested by the {header} header, sign=never")
        trace.refuse(
            f"cannot sign: signing was requested by the {header} header but {rule} is "
            f"never — remove sign from the {header} header, or ask the administrator"
        )
        return False
    if not facts.sender_can_sign:
        trace.note("sign", "refused", f"header {header}", "no signing certificate")
        trace.refuse(no_certificate)
        return False
    trace.note("sign", "yes", f"header {header}", f"{rule} is when-asked")
    return True


def _encrypt(facts: MessageFacts, settings: Effective, requests: Requests, trace: _Trace) -> bool:
    if facts.encrypted:
        trace.note("encrypt", "no", "message content", "already encrypted by the sender's program")
        return False
    mode, rule = settings.encrypt, settings.source("encrypt")
    recipients = tuple(dict.fromkeys(r.lower() for r in facts.recipients))
    certified = {r.lower() for r in facts.certified_recipients}
    uncertified = [r for r in recipients if r not in certified]
    missing = ", ".join(r or repr(r) for r in uncertified)
    required = _requirements(recipients, settings, requests, trace)
    if not recipients:
        trace.note("encrypt", "no", "envelope", "no recipients")
        return False
    if required:
        deciding = " + ".join(source for _, source in required)
        if not uncertified:
            trace.note("encrypt", "yes", deciding, "every recipient has a certificate")
            return True
        markers = _markers(settings, requests)
        only_asked = all(source in markers for _, source in required)
        way_out = f"remove {' and '.join(markers)}" if only_asked else "remove them as recipients"
        trace.note("encrypt", "refused", deciding, f"no certificate for {missing}")
        trace.refuse(
            f"encryption is required {' and '.join(why for why, _ in required)} but no valid "
            f"certificate for {missing} — ask them to enroll, or {way_out}"
        )
        return False
    if mode is EncryptMode.OPPORTUNISTIC:
        if uncertified:
            trace.note("encrypt", "no", rule, f"opportunistic; no certificate for {missing}")
            return False
        trace.note("encrypt", "yes", rule, "opportunistic; every recipient has a certificate")
        return True
    trace.note("encrypt", "no", rule, f"encrypt={mode}, not requested")
    return False


def _requirements(
    recipients: tuple[str, ...], settings: Effective, requests: Requests, trace: _Trace
) -> list[tuple[str, str]]:
    """Why encryption is required, as (phrase, deciding rule) pairs; refuses a request
    that ``encrypt=never`` forbids."""
    mode, rule = settings.encrypt, settings.source("encrypt")
    required: list[tuple[str, str]] = []
    recipient_domains = {r.rpartition("@")[2] for r in recipients}
    domains = sorted(recipient_domains & set(settings.require_encryption_domains))
    if domains:
        source = settings.source("require_encryption_domains")
        required.append((f"for {', '.join(domains)}", source))
        trace.note("encrypt", "required", source, ", ".join(domains))
    if mode is EncryptMode.REQUIRED:
        required.append((f"by {rule}", rule))
        trace.note("encrypt", "required", rule)
    markers = _markers(settings, requests)
    if markers and mode is EncryptMode.NEVER:
        asked = " and ".join(markers)
        trace.note("encrypt", "refused", rule, f"requested by {asked}, encrypt=never")
        trace.refuse(
            f"cannot encrypt: encryption was requested by {asked} but {rule} is never — "
            f"remove {asked}, or ask the administrator"
        )
    else:
        for marker in markers:
            required.append((f"by {marker}", marker))
            trace.note("encrypt", "required", marker, f"{rule} is {mode}")
    return required


def _markers(settings: Effective, requests: Requests) -> list[str]:
    found = []
    if requests.encrypt_by_tag:
        found.append(f"the {settings.secure_subject_tag} tag")
    if requests.encrypt_by_header:
        found.append(f"the {settings.request_header} header")
    return found


def _disclaimer(
    facts: MessageFacts, settings: Effective, trace: _Trace
) -> tuple[DisclaimerAction, str]:
    text, rule = settings.disclaimer, settings.source("disclaimer")
    if not text:
        return DisclaimerAction.NONE, ""
    if facts.signed or facts.encrypted:
        on_signed = settings.source("disclaimer_on_signed")
        if settings.disclaimer_on_signed is SignedDisclaimer.WRAP:
            trace.note("disclaimer", "wrap", on_signed, "signed content is never changed")
            return DisclaimerAction.WRAP, text
        trace.note("disclaimer", "skip", on_signed, "changing it would break the signature")
        return DisclaimerAction.NONE, ""
    trace.note("disclaimer", "append", rule, "added before postseal signs or encrypts")
    return DisclaimerAction.APPEND, text


def _inbound(facts: MessageFacts, rules: RuleSource) -> PolicyDecision:
    local = {r.lower() for r in facts.local_recipients}
    mailboxes = [r for r in dict.fromkeys(r.lower() for r in facts.recipients) if r in local]
    subjects = [(m, rules.resolve(m, facts.groups_of(m))) for m in mailboxes]
    if not subjects:
        subjects = [("", rules.resolve(""))]
    trace = _Trace()
    verify = _any_subject(subjects, "verify", trace)
    harvest = _any_subject(subjects, "harvest_certificates", trace)
    held = {k.lower() for k in facts.server_held_keys}
    decrypt_for: list[str] = []
    for mailbox, settings in subjects if facts.encrypted else []:
        rule = settings.source("decrypt")
        if settings.decrypt is DecryptMode.KEEP or not mailbox:
            trace.note(f"decrypt[{mailbox}]", "keep", rule)
        elif mailbox not in held:
            trace.note(f"decrypt[{mailbox}]", "keep", rule, "the server holds no key for it")
        else:
            decrypt_for.append(mailbox)
            trace.note(f"decrypt[{mailbox}]", "decrypt", rule)
    return PolicyDecision(
        direction=Direction.INBOUND,
        verify=verify,
        harvest_certificates=harvest,
        decrypt_for=tuple(decrypt_for),
        explanations=tuple(trace.notes),
    )


def _any_subject(subjects: list[tuple[str, Effective]], key: str, trace: _Trace) -> bool:
    # Verifying or harvesting for one recipient does it for the message: any one suffices.
    for mailbox, settings in subjects:
        if getattr(settings, key):
            trace.note(key, "yes", settings.source(key), f"for {mailbox}" if mailbox else "")
            return True
    trace.note(key, "no", subjects[0][1].source(key))
    return False
