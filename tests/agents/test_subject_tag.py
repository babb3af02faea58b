"""The subject-tag agent: off by default, inbound only, an outer-field change that the
pipeline grants even for signed and encrypted mail (RFC 8551 §3.1, §3.5)."""

from __future__ import annotations

import pytest

from postseal.errors import ConfigError
from postseal.policy import Direction
from postseal.services.agents import apply
from postseal.services.agents_subject import SubjectTagAgent
from tests.agents.helpers import context, encrypted, plain, signed, verifies

TAGGER = SubjectTagAgent(enabled=True)


async def _tag(message: bytes, agent: SubjectTagAgent = TAGGER) -> bytes:
    ctx = context(message, direction=Direction.INBOUND)
    return apply(message, await agent.process(message, ctx), ctx, agent=agent.name)


async def test_off_by_default_and_never_outbound() -> None:
    message = plain()
    assert await _tag(message, SubjectTagAgent()) == message
    ctx = context(message, direction=Direction.OUTBOUND)
    assert (await TAGGER.process(message, ctx)).unchanged


async def test_tags_once() -> None:
    out = await _tag(plain())
    assert b"Subject: [EXTERNAL] Q3 figures\r\n" in out
    assert await _tag(out) == out
    encoded = plain().replace(b"Q3 figures", b"=?utf-8?q?=5BEXTERNAL=5D_Gr=C3=BC=C3=9Fe?=")
    assert await _tag(encoded) == encoded


async def test_custom_tag_and_a_message_without_subject() -> None:
    message = plain().replace(b"Subject: Q3 figures\r\n", b"")
    out = await _tag(message, SubjectTagAgent(enabled=True, tag="[EXT]"))
    assert b"Subject: [EXT]\r\n" in out


@pytest.mark.parametrize("opaque", [False, True], ids=["detached", "opaque"])
async def test_signed_mail_keeps_a_valid_signature(opaque: bool) -> None:
    message = signed(plain(), opaque=opaque)
    out = await _tag(message)
    assert b"Subject: [EXTERNAL] Q3 figures\r\n" in out
    assert out.split(b"\r\n\r\n", 1)[1] == message.split(b"\r\n\r\n", 1)[1]
    assert verifies(out)


async def test_encrypted_mail_only_its_outer_subject_changes() -> None:
    message = encrypted(plain())  # RFC 9788: the outer Subject is the placeholder
    out = await _tag(message)
    assert b"Subject: [EXTERNAL] [...]\r\n" in out
    assert out.split(b"\r\n\r\n", 1)[1] == message.split(b"\r\n\r\n", 1)[1]


@pytest.mark.parametrize("options", [{"enabled": "yes"}, {"tag": ""}, {"tag": "a\r\nBcc: x"}])
def test_bad_options_are_config_errors(options: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        SubjectTagAgent(**options)  # type: ignore[arg-type]
