"""Finding transport agents by name (ADR 0015).

A name is, in this order: a built-in agent (``disclaimer``, ``subject-tag``); an entry
point in the ``postseal.agents`` group of an installed distribution (``importlib.metadata``,
the packaging spec's entry-points data model); or a dotted path ``package.module:factory``.
The factory is called with the agent's options as keyword arguments and must return a
:class:`~postseal.services.agents.TransportAgent`.

Without configuration the built-ins run in their default order: the disclaimer (driven by
the policy's ``disclaimer`` key) and the subject tag (off until its ``enabled`` option).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from importlib.metadata import entry_points

from postseal.errors import ConfigError
from postseal.services.agents import TransportAgent
from postseal.services.agents_disclaimer import DisclaimerAgent
from postseal.services.agents_subject import SubjectTagAgent

__all__ = ["BUILTIN_AGENTS", "DEFAULT_AGENTS", "ENTRY_POINT_GROUP", "load_agents"]

ENTRY_POINT_GROUP = "postseal.agents"
BUILTIN_AGENTS: Mapping[str, Callable[..., TransportAgent]] = {
    "disclaimer": DisclaimerAgent,
    "subject-tag": SubjectTagAgent,
}
DEFAULT_AGENTS: tuple[str, ...] = ("disclaimer", "subject-tag")
_HINT = "check mail.agents in postseal.toml"


def load_agents(
    names: Sequence[str] = DEFAULT_AGENTS,
    *,
    options: Mapping[str, Mapping[str, object]] | None = None,
) -> tuple[TransportAgent, ...]:
    """The agents ``names`` name, in that order, built with ``options[name]``.

    Raises :class:`ConfigError` for an unknown name, a factory that cannot be imported or
    does not accept the options, a result that is not a transport agent, and options for
    an agent that is not in ``names``.
    """
    options = options or {}
    stray = sorted(set(options) - set(names))
    if stray:
        raise ConfigError(
            f"options are given for transport agents that are not enabled: {', '.join(stray)}",
            hint=f"add them to mail.agents or remove their options — {_HINT}",
        )
    agents = []
    for name in names:
        factory = _factory(name)
        try:
            agent = factory(**dict(options.get(name, {})))
        except TypeError as exc:
            raise ConfigError(
                f"transport agent {name!r} does not accept its options: {exc}", hint=_HINT
            ) from None
        if not isinstance(agent, TransportAgent):
            raise ConfigError(
                f"{name!r} did not produce a transport agent (a `name` and an async "
                "`process(message, context)`)",
                hint=_HINT,
            )
        agents.append(agent)
    return tuple(agents)


def _factory(name: str) -> Callable[..., TransportAgent]:
    if name in BUILTIN_AGENTS:
        return BUILTIN_AGENTS[name]
    for entry in entry_points(group=ENTRY_POINT_GROUP, name=name):
        try:
            loaded: Callable[..., TransportAgent] = entry.load()
        except Exception as exc:  # an installed plug-in's import error, reported as config
            raise ConfigError(
                f"transport agent {name!r} ({entry.value}) cannot be loaded: {exc}", hint=_HINT
            ) from None
        return loaded
    module_name, colon, attribute = name.partition(":")
    if not colon or not module_name or not attribute:
        known = ", ".join(BUILTIN_AGENTS)
        raise ConfigError(
            f"unknown transport agent {name!r}: not built in ({known}), no entry point "
            f"in the {ENTRY_POINT_GROUP} group, and not a package.module:factory path",
            hint=_HINT,
        )
    try:
        target: object = importlib.import_module(module_name)
        for part in attribute.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"transport agent {name!r} cannot be loaded: {exc}", hint=_HINT) from None
    if not callable(target):
        raise ConfigError(f"transport agent {name!r} is not callable", hint=_HINT)
    return target
