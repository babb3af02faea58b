"""Transport agents: content plug-ins on the way between DATA and ``250`` (issue 4, ADR 0015).

An agent (:class:`TransportAgent`) looks at one message and answers with an
:class:`AgentResult`. It never edits the message itself: it *asks*, and the
:class:`AgentPipeline` decides what it may have. The rule is enforced here, not trusted to
the agents, so a misbehaving third-party agent cannot break a signature:

- ``prepend_fields`` (new outer header fields) and ``set_fields`` (replacing the value of
  top-level, non-structural fields such as Subject) are always allowed. The outer header
  block of a message is outside every S/MIME signature: for ``multipart/signed`` the signed
  content is the first body part (RFC 8551 §3.5.3), for ``application/pkcs7-mime;
  smime-type=signed-data`` it is inside the CMS object (RFC 8551 §3.5.2), and only a
  message/rfc822 wrapper would cover those fields (RFC 8551 §3.1). Structural fields
  (``Content-*``, ``MIME-Version``; RFC 2045 §3) decide how the body is read, so they are
  never added or changed.
- ``wrap_parts`` puts the message, untouched, as the first part of a new
  ``multipart/mixed`` (RFC 2046 §5.1.3) followed by the given MIME entities; the outer
  fields move to the wrapper. Allowed for every message: the pipeline builds the wrapper
  itself, so the wrapped entity stays byte-exact and its signature verifies.
- ``message`` (a complete replacement) is allowed only when the message is neither signed
  nor encrypted at the top level, and only when every signed or encrypted entity nested in
  it (a forwarded signed message, an earlier wrap) is still present byte for byte.
  Otherwise it is refused: logged, and the message goes on as it was.

A failing or slow agent is logged and skipped (fail open): mail is never lost or held
because a content agent broke, and a deterministic bug cannot turn into endless 4xx
retries. Agents run in the order given; each sees the result of the ones before.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from postseal.mail import trace
from postseal.mail.fields import field_value, replace_field, split_message
from postseal.mail.structure import Part, parse
from postseal.policy import Direction, MessageFacts, PolicyDecision
from postseal.services.agents_mime import is_structural, part_protection, protection, wrap_entity

__all__ = ["AgentContext", "AgentPipeline", "AgentResult", "TransportAgent", "apply"]

log = logging.getLogger("postseal.agents")
DEFAULT_TIMEOUT = 30.0
_FIELD_NAME = re.compile(r"[!-9;-~]+\Z")


@dataclass(frozen=True, slots=True)
class AgentContext:
    """What an agent knows about the message besides its bytes.

    ``signed`` / ``encrypted`` describe the top-level entity as the pipeline sees it now
    (:func:`postseal.policy.smime_layers`, plus PGP/MIME ``multipart/signed`` and
    ``multipart/encrypted``, RFC 1847); ``decision`` is the policy decision already made
    for the message (its ``disclaimer`` and ``disclaimer_text`` drive the disclaimer agent).
    Outbound agents run before postseal signs or encrypts, inbound agents after the
    signature was verified and ``Authentication-Results:`` prepended.
    """

    direction: Direction
    sender: str
    recipients: tuple[str, ...]
    decision: PolicyDecision
    signed: bool
    encrypted: bool
    local_domains: frozenset[str] = frozenset()

    @property
    def protected(self) -> bool:
        return self.signed or self.encrypted

    @property
    def sender_is_local(self) -> bool:
        return self.sender.rpartition("@")[2].lower() in self.local_domains


@dataclass(frozen=True, slots=True)
class AgentResult:
    """What an agent asks for; the default asks for nothing. See the module docstring for
    what the pipeline grants. ``note`` says why, for the log."""

    prepend_fields: Sequence[bytes] = ()
    set_fields: Sequence[tuple[str, str]] = ()
    wrap_parts: Sequence[bytes] = ()
    message: bytes | None = None
    note: str = ""

    @property
    def unchanged(self) -> bool:
        return not (self.prepend_fields or self.set_fields or self.wrap_parts) and (
            self.message is None
        )


@runtime_checkable
class TransportAgent(Protocol):
    """A content agent. ``name`` appears in logs and selects it in configuration."""

    name: str

    async def process(self, message: bytes, context: AgentContext) -> AgentResult: ...


class AgentPipeline:
    """Runs agents in order and applies only what the rules allow."""

    def __init__(
        self,
        agents: Iterable[TransportAgent],
        *,
        local_domains: Iterable[str] = (),
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.agents = tuple(agents)
        self._local = frozenset(d.lower() for d in local_domains)
        self._timeout = timeout

    async def run(self, message: bytes, facts: MessageFacts, decision: PolicyDecision) -> bytes:
        """``message`` after every agent; never raises for an agent's failure."""
        for agent in self.agents:
            context = self.context(message, facts, decision)
            name = getattr(agent, "name", type(agent).__name__)
            try:
                result = await asyncio.wait_for(agent.process(message, context), self._timeout)
            except TimeoutError:
                log.warning("transport agent %s took over %ss and was skipped", name, self._timeout)
                continue
            except Exception as exc:  # a broken plug-in must not stop mail
                # The type only: an exception's text may quote the confidential message.
                log.warning("transport agent %s failed (%s); skipped", name, type(exc).__name__)
                continue
            if not isinstance(result, AgentResult):
                shown = type(result).__name__
                log.warning("transport agent %s returned a %s, not an AgentResult", name, shown)
                continue
            message = apply(message, result, context, agent=name)
        return message

    def context(
        self, message: bytes, facts: MessageFacts, decision: PolicyDecision
    ) -> AgentContext:
        signed, encrypted = protection(field_value(message, "Content-Type") or "text/plain")
        return AgentContext(
            direction=facts.direction,
            sender=facts.sender,
            recipients=facts.recipients,
            decision=decision,
            signed=signed,
            encrypted=encrypted,
            local_domains=self._local,
        )


def apply(message: bytes, result: AgentResult, context: AgentContext, *, agent: str) -> bytes:
    """``message`` with what ``result`` may have of its request (module docstring)."""
    if result.unchanged:
        if result.note:
            log.debug("transport agent %s: %s", agent, result.note)
        return message
    out = message
    if result.message is not None and result.message != message:
        problem = _replacement_problem(message, result.message, context)
        if problem:
            log.warning(
                "transport agent %s may not replace this message: %s — it goes on unchanged "
                "by the replacement (agents may add outer fields or wrap such mail)",
                agent,
                problem,
            )
        else:
            out = result.message
    if result.wrap_parts:
        if all(_is_entity(part) for part in result.wrap_parts):
            out = wrap_entity(out, result.wrap_parts)
        else:
            log.warning("transport agent %s: a wrap part is not a MIME entity; ignored", agent)
    for name, value in result.set_fields:
        if not _FIELD_NAME.match(name) or is_structural(name) or "\x00" in value:
            log.warning("transport agent %s may not set the %r field; ignored", agent, name)
            continue
        try:
            out = replace_field(out, name, value)
        except ValueError as exc:
            log.warning("transport agent %s: field %s refused (%s)", agent, name, exc)
    fields = [f for f in result.prepend_fields if not is_structural(_name(f))]
    if len(fields) != len(result.prepend_fields):
        log.warning("transport agent %s may not add Content-*/MIME-Version fields", agent)
    try:
        out = trace.prepend_fields(out, fields)
    except ValueError as exc:
        log.warning("transport agent %s: prepended fields refused (%s)", agent, exc)
    if context.protected and not _keeps_entity(message, out):
        log.error("transport agent %s: the signed/encrypted entity changed; reverted", agent)
        return message
    if result.note:
        log.info("transport agent %s: %s", agent, result.note)
    return out


def _replacement_problem(before: bytes, after: bytes, context: AgentContext) -> str | None:
    if context.signed:
        return "it is signed and a new body would break the signature"
    if context.encrypted:
        return "it is encrypted"
    if not after or b"\x00" in after:
        return "the replacement is empty or holds NUL bytes"
    before_tree = parse(before)
    for part in _nested_protected(before_tree.root):
        if before[part.start : part.end] not in after:
            return "it would change a signed or encrypted part inside it"
    return None


def _nested_protected(part: Part) -> list[Part]:
    """The outermost signed or encrypted entities below ``part`` (RFC 8551 §3.2, §3.5)."""
    found: list[Part] = []
    for child in part.children:
        if any(part_protection(child)):
            found.append(child)
        else:
            found.extend(_nested_protected(child))
    return found


def _keeps_entity(before: bytes, after: bytes) -> bool:
    """The structural fields and body of ``before`` are still in ``after``, untouched."""
    fields, rest = split_message(before)
    return rest in after and all(f in after for f in fields if is_structural(_name(f)))


def _is_entity(part: bytes) -> bool:
    head = part.split(b"\r\n", 1)[0]
    return b"\x00" not in part and (head == b"" or bool(re.match(rb"[!-9;-~]+:", head)))


def _name(field: bytes) -> str:
    return field.split(b":", 1)[0].strip().decode("ascii", "replace")
