"""The C heap keeps freed message buffers for the next message (ADR 0025)."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from postseal import allocator

# A fresh interpreter allocates three 100 KB buffers at once and frees them, 200 times,
# and prints the page faults of that loop before and after tune(). Without tune() glibc
# gives the 300 KB back to the kernel every time and faults it in again.
_PROBE = """
import resource
from postseal import allocator

def faults():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(200):
        buffers = [bytearray(100_000) for _ in range(3)]
        del buffers
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

untuned = faults()
print(allocator.tune(), untuned, faults())
"""


def _glibc() -> bool:
    return platform.libc_ver()[0] == "glibc"


@pytest.mark.skipif(not _glibc(), reason="mallopt thresholds exist in glibc only")
def test_tuned_heap_stops_faulting_in_freed_buffers() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    took, untuned, tuned = out[0] == "True", int(out[1]), int(out[2])
    assert took
    # glibc's default gives pages back on every round (17 a round here); tuned, none
    assert untuned > 200 * 5
    assert tuned < untuned // 10


def test_tune_is_idempotent() -> None:
    assert allocator.tune() is allocator.tune()
