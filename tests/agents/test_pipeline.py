"""The pipeline enforces the rule, not the agents: signed and encrypted mail may get new
outer fields or a wrapper, never new content (RFC 8551 §3.5); a replacement is allowed only
for plain mail, and never one that changes a signed part inside it."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import pytest

from postseal.mail.structure import parse
from postseal.policy import Direction, DisclaimerAction
from postseal.services.agents import AgentContext, AgentPipeline, AgentResult, TransportAgent
from postseal.services.agents_disclaimer import DisclaimerAgent
from postseal.services.agents_subject import SubjectTagAgent
from tests.agents.helpers import (
    DISCLAIMER,
    HEAD,
    decision,
    encrypted,
    facts,
    plain,
    signed,
    texts,
    verifies,
)

FIELD = b"X-Agent: seen\r\n"


@dataclass
class Rewriter:
    """A misbehaving plug-in: appends to the body of whatever it gets, adds a field."""

    name: str = "rewriter"

    async def process(self, message: bytes, context: AgentContext) -> AgentResult:
        return AgentResult(message=message + b"P.S. rewritten\r\n", prepend_fields=[FIELD])


@dataclass
class Sneaky:
    """Tries every structural trick the pipeline must refuse."""

    name: str = "sneaky"

    async def process(self, message: bytes, context: AgentContext) -> AgentResult:
        return AgentResult(
            prepend_fields=[b"Content-Type: text/plain\r\n", FIELD],
            set_fields=[("Content-Transfer-Encoding", "base64"), ("Subject", "x\r\nBcc: y")],
        )


@dataclass
class Tamper:
    """Edits the text wherever it is, signed or not."""

    name: str = "tamper"

    async def process(self, message: bytes, context: AgentContext) -> AgentResult:
        return AgentResult(message=message.replace(b"Hello Bob.", b"Hello Eve."))


class Broken:
    name = "broken"

    async def process(self, message: bytes, context: AgentContext) -> AgentResult:
        raise RuntimeError("plug-in bug")


class Slow:
    name = "slow"

    async def process(self, message: bytes, context: AgentContext) -> AgentResult:
        await asyncio.sleep(10)
        return AgentResult(prepend_fields=[FIELD])


async def _run(
    message: bytes, *agents: TransportAgent, action: DisclaimerAction = DisclaimerAction.WRAP
) -> bytes:
    pipeline = AgentPipeline(agents, local_domains=["example.org"], timeout=0.2)
    return await pipeline.run(message, facts(), decision(action))


@pytest.fixture(params=[False, True], ids=["detached", "opaque"])
def signed_message(request: pytest.FixtureRequest) -> bytes:
    return signed(plain(b"Hello Bob.\r\n"), opaque=request.param)


async def test_a_rewrite_of_signed_mail_is_refused_and_the_field_still_added(
    signed_message: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    assert verifies(signed_message)
    with caplog.at_level(logging.WARNING, "postseal.agents"):
        out = await _run(signed_message, Rewriter())
    assert out == FIELD + signed_message
    assert verifies(out)
    assert "rewriter may not replace this message: it is signed" in caplog.text


async def test_a_rewrite_of_plain_mail_is_allowed() -> None:
    message = plain(b"Hello Bob.\r\n")
    assert await _run(message, Rewriter()) == FIELD + message + b"P.S. rewritten\r\n"


async def test_encrypted_mail_is_untouched_except_outer_fields() -> None:
    message = encrypted(plain(b"Hello Bob.\r\n"))
    out = await _run(message, Rewriter(), DisclaimerAgent(), action=DisclaimerAction.NONE)
    assert out == FIELD + message


async def test_structural_fields_and_injection_are_refused(signed_message: bytes) -> None:
    assert await _run(signed_message, Sneaky()) == FIELD + signed_message


async def test_broken_and_slow_agents_are_skipped_the_rest_run() -> None:
    message = plain(b"Hello Bob.\r\n")
    out = await _run(message, Broken(), Slow(), Rewriter())
    assert out == FIELD + message + b"P.S. rewritten\r\n"


async def test_wrap_keeps_the_signed_entity_byte_exact_and_it_verifies(
    signed_message: bytes,
) -> None:
    out = await _run(signed_message, DisclaimerAgent())
    root = parse(out).root
    assert (root.type, root.subtype) == ("multipart", "mixed")
    inner = out[root.children[0].start : root.children[0].end]
    entity = signed_message[signed_message.index(b"MIME-Version") :].split(b"\r\n", 1)[1]
    assert inner == entity  # Content-* fields and body, byte for byte
    assert verifies(inner)
    assert out.startswith(HEAD)  # the outer fields moved to the wrapper
    assert texts(out)[-1].startswith(DISCLAIMER.splitlines()[0])


async def test_skip_leaves_signed_mail_alone(signed_message: bytes) -> None:
    out = await _run(signed_message, DisclaimerAgent(), action=DisclaimerAction.NONE)
    assert out == signed_message
    out = await _run(signed_message, DisclaimerAgent(), action=DisclaimerAction.APPEND)
    assert out == signed_message  # APPEND on signed mail (policy could not tell): skipped


async def test_after_a_wrap_a_later_agent_cannot_break_the_inner_signature(
    caplog: pytest.LogCaptureFixture,
) -> None:
    message = signed(plain(b"Hello Bob.\r\n"))  # detached: the text is readable
    with caplog.at_level(logging.WARNING, "postseal.agents"):
        out = await _run(message, DisclaimerAgent(), Tamper(), Rewriter())
    assert b"Hello Eve." not in out
    inner = parse(out).root.children[0]
    assert verifies(out[inner.start : inner.end])
    assert out.startswith(FIELD) and out.endswith(b"P.S. rewritten\r\n")  # the epilogue
    assert "it would change a signed or encrypted part inside it" in caplog.text


async def test_encrypted_mail_is_wrapped_untouched() -> None:
    message = encrypted(plain(b"Hello Bob.\r\n"))
    out = await _run(message, DisclaimerAgent())
    inner = parse(out).root.children[0]
    assert out[inner.start : inner.end] in message
    assert message.split(b"\r\n\r\n", 1)[1] in out  # the ciphertext, byte for byte


async def test_subject_tag_on_signed_mail_is_an_outer_change(signed_message: bytes) -> None:
    pipeline = AgentPipeline([SubjectTagAgent(enabled=True)], local_domains=["example.org"])
    out = await pipeline.run(
        signed_message, facts(Direction.INBOUND, "eve@outside.example"), decision()
    )
    assert b"Subject: [EXTERNAL] Q3 figures\r\n" in out
    assert verifies(out)


def test_agents_satisfy_the_protocol() -> None:
    for agent in (DisclaimerAgent(), SubjectTagAgent(), Rewriter(), Broken()):
        assert isinstance(agent, TransportAgent)
