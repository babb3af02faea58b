"""Finding agents: built-ins by default, entry points of the ``postseal.agents`` group,
dotted paths; every mistake is a ConfigError naming the setting."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import pytest

from postseal.errors import ConfigError
from postseal.services import agents_loading
from postseal.services.agents import AgentContext, AgentResult
from postseal.services.agents_disclaimer import DisclaimerAgent
from postseal.services.agents_loading import ENTRY_POINT_GROUP, load_agents
from postseal.services.agents_subject import SubjectTagAgent


class Stamp:
    """A third-party agent found by dotted path or entry point."""

    name = "stamp"

    def __init__(self, *, value: str = "yes") -> None:
        self.value = value

    async def process(self, message: bytes, context: AgentContext) -> AgentResult:
        return AgentResult(prepend_fields=[f"X-Stamp: {self.value}\r\n".encode()])


def not_an_agent() -> object:
    return object()


def test_defaults_need_no_configuration() -> None:
    disclaimer, tagger = load_agents()
    assert isinstance(disclaimer, DisclaimerAgent)
    assert isinstance(tagger, SubjectTagAgent) and not tagger.enabled


def test_options_and_dotted_paths() -> None:
    (tagger, stamp) = load_agents(
        ["subject-tag", "tests.agents.test_loading:Stamp"],
        options={
            "subject-tag": {"enabled": True},
            "tests.agents.test_loading:Stamp": {"value": "v"},
        },
    )
    assert isinstance(tagger, SubjectTagAgent) and tagger.enabled
    assert isinstance(stamp, Stamp) and stamp.value == "v"


def test_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    entry = EntryPoint("stamp", "tests.agents.test_loading:Stamp", ENTRY_POINT_GROUP)

    def found(*, group: str, name: str) -> list[EntryPoint]:
        return [entry] if (group, name) == (ENTRY_POINT_GROUP, "stamp") else []

    monkeypatch.setattr(agents_loading, "entry_points", found)
    (stamp,) = load_agents(["stamp"])
    assert isinstance(stamp, Stamp)


@pytest.mark.parametrize(
    ("names", "options", "words"),
    [
        (["nope"], {}, "unknown transport agent 'nope'"),
        (["no.such.module:Agent"], {}, "cannot be loaded"),
        (["tests.agents.test_loading:not_an_agent"], {}, "did not produce a transport agent"),
        (["disclaimer"], {"disclaimer": {"colour": "red"}}, "does not accept its options"),
        (["disclaimer"], {"subject-tag": {"enabled": True}}, "not enabled: subject-tag"),
    ],
)
def test_mistakes_are_config_errors(
    names: list[str], options: dict[str, dict[str, object]], words: str
) -> None:
    with pytest.raises(ConfigError, match=words) as raised:
        load_agents(names, options=options)
    assert "mail.agents" in str(raised.value)
