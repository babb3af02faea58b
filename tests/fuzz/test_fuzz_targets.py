"""Every fuzz target of ``fuzz/`` over its seeds plus a bounded, fixed-seed mutation loop
(bit flips, truncations, splices, dictionary tokens, length-field inflation), so CI runs
the targets without atheris. A failure here is a finding: the exception's notes give the
input (see fuzz/README.md for reproducing it).
"""

from __future__ import annotations

import pytest

from tests.fuzz.targets import TARGETS, harness, target

ITERATIONS = 300
#: Targets whose fixed-seed loop hits a known finding (none now: all are fixed).
KNOWN: dict[str, pytest.MarkDecorator] = {}
PER_INPUT_TIMEOUT = 5.0  # seconds; a slower input is a hang finding


@pytest.mark.parametrize("name", TARGETS)
def test_seeds_are_accepted(name: str) -> None:
    module = target(name)
    seeds = module.seeds()
    assert seeds, f"{name} has no seeds"
    executed = harness().pure_loop(module.test_one_input, seeds, runs=0, timeout=PER_INPUT_TIMEOUT)
    assert executed == len(seeds)


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=KNOWN[n]) if n in KNOWN else n for n in TARGETS]
)
def test_mutations_are_values_or_postseal_errors(name: str) -> None:
    module = target(name)
    executed = harness().pure_loop(
        module.test_one_input,
        module.seeds(),
        runs=ITERATIONS,
        seed=20260115,
        dictionary=getattr(module, "DICTIONARY", ()),
        timeout=PER_INPUT_TIMEOUT,
    )
    assert executed >= ITERATIONS


def test_mutator_is_deterministic() -> None:
    import random

    mutate = harness().mutate
    pool = [b"\x30\x0a\x02\x01\x01\x04\x05hello", b"a1 LOGIN {5}\r\nalice x\r\n"]
    first = [mutate(pool[i % 2], random.Random(i), pool, (b"{9}",)) for i in range(50)]
    again = [mutate(pool[i % 2], random.Random(i), pool, (b"{9}",)) for i in range(50)]
    assert first == again
    assert len(set(first)) > 25


def test_hang_is_reported() -> None:
    h = harness()

    def spin(data: bytes) -> None:
        while True:
            pass

    with pytest.raises(h.Hang):
        h.pure_loop(spin, [b"x"], runs=0, timeout=0.2)
