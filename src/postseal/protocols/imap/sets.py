"""Sequence sets (RFC 3501 §9 ``sequence-set``; RFC 9051 §9).

A set is a tuple of ranges whose ends are numbers or ``*`` (None: the largest number in
use). Ranges may be written in either order (``4:2`` is ``2:4``, RFC 3501 §9 "seq-range").
:meth:`SequenceSet.resolve` turns it into sorted, merged numeric ranges for a mailbox.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

__all__ = ["MAX_NUMBER", "SequenceSet"]

MAX_NUMBER = 4294967295  # nz-number is a 32-bit unsigned integer (RFC 3501 §9)
_SET = re.compile(
    r"(?:\*|[1-9][0-9]*)(?::(?:\*|[1-9][0-9]*))?(?:,(?:\*|[1-9][0-9]*)(?::(?:\*|[1-9][0-9]*))?)*\Z"
)

Bound = int | None


@dataclass(frozen=True, slots=True)
class SequenceSet:
    ranges: tuple[tuple[Bound, Bound], ...]

    @classmethod
    def parse(cls, text: str) -> SequenceSet:
        """The set ``text`` spells; ValueError naming it when it is not one."""
        if not _SET.match(text):
            raise ValueError(f"invalid sequence set {text!r}")
        ranges: list[tuple[Bound, Bound]] = []
        for item in text.split(","):
            low, _, high = item.partition(":")
            first = None if low == "*" else int(low)
            last = first if not high else None if high == "*" else int(high)
            for bound in (first, last):
                if bound is not None and bound > MAX_NUMBER:
                    raise ValueError(f"invalid sequence set {text!r}: {bound} is over 2^32-1")
            ranges.append((first, last))
        return cls(tuple(ranges))

    @classmethod
    def of(cls, numbers: Iterable[int]) -> SequenceSet:
        """The shortest set holding exactly ``numbers`` (for COPYUID, MODIFIED, ESEARCH)."""
        ranges: list[tuple[Bound, Bound]] = []
        for number in sorted(set(numbers)):
            if ranges and ranges[-1][1] == number - 1:
                ranges[-1] = (ranges[-1][0], number)
            else:
                ranges.append((number, number))
        return cls(tuple(ranges))

    def __str__(self) -> str:
        def bound(value: Bound) -> str:
            return "*" if value is None else str(value)

        return ",".join(bound(a) if a == b else f"{bound(a)}:{bound(b)}" for a, b in self.ranges)

    def resolve(self, largest: int) -> list[tuple[int, int]]:
        """Sorted, merged (low, high) ranges with ``*`` = ``largest`` (0 in an empty
        mailbox: then only explicit numbers remain). Ends are not clipped to ``largest``:
        the caller keeps the numbers that exist."""
        spans = sorted(
            (min(a, b), max(a, b))
            for a, b in (
                (largest if x is None else x, largest if y is None else y) for x, y in self.ranges
            )
            if a > 0 and b > 0
        )
        merged: list[tuple[int, int]] = []
        for low, high in spans:
            if merged and low <= merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], max(high, merged[-1][1]))
            else:
                merged.append((low, high))
        return merged

    def contains(self, number: int, largest: int) -> bool:
        return any(low <= number <= high for low, high in self.resolve(largest))

    def iter(self, largest: int) -> Iterator[int]:
        """Numbers 1..``largest`` in the set, ascending (for message sequence numbers)."""
        for low, high in self.resolve(largest):
            yield from range(low, min(high, largest) + 1)

    def filter(self, numbers: Iterable[int], largest: int) -> list[int]:
        """The members of ``numbers`` (e.g. the UIDs in use) that are in the set."""
        spans = self.resolve(largest)
        return [n for n in numbers if any(low <= n <= high for low, high in spans)]
