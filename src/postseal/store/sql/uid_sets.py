"""UID sets (:data:`~postseal.store.ports.UidSet`) as one SQL condition.

A client may send any number of ranges (``UID FETCH 1,3,5,…,9999``). A few ranges become
``uid BETWEEN a AND b OR …``; many would make a statement too deep for SQLite's parser
and too wide for PostgreSQL's 32,767 parameters, so above :data:`_MAX_RANGES` the query
takes the covering range and :meth:`UidMatch.contains` filters the rows. Either way it is
one query on the ``(mailbox_id, uid)`` primary key.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, false, or_, true

from postseal.store.ports import MAX_UID, UidSet

__all__ = ["UidMatch", "match_uids"]

_MAX_RANGES = 16


@dataclass(frozen=True, slots=True)
class UidMatch:
    """Merged, sorted, disjoint ranges; ``None`` matches every UID."""

    ranges: tuple[tuple[int, int], ...] | None

    @property
    def empty(self) -> bool:
        return self.ranges == ()

    def condition(self, column: Any) -> ColumnElement[bool]:
        if self.ranges is None:
            return true()
        if not self.ranges:
            return false()
        if len(self.ranges) > _MAX_RANGES:
            return column.between(self.ranges[0][0], self.ranges[-1][1])  # type: ignore[no-any-return]
        return or_(*(column.between(first, last) for first, last in self.ranges))

    def spans(self) -> tuple[tuple[int, int], ...]:
        """The ranges to read one by one: the ranges themselves, or above
        :data:`_MAX_RANGES` the one covering range (:meth:`contains` filters the rows).
        Not for the set that matches everything."""
        assert self.ranges is not None
        if len(self.ranges) > _MAX_RANGES:
            return ((self.ranges[0][0], self.ranges[-1][1]),)
        return self.ranges

    def contains(self, uid: int) -> bool:
        if self.ranges is None:
            return True
        at = bisect_right(self.ranges, (uid, MAX_UID + 1)) - 1
        return at >= 0 and self.ranges[at][0] <= uid <= self.ranges[at][1]

    def filter(self, uids: Sequence[int]) -> list[int]:
        return [uid for uid in uids if self.contains(uid)]


def match_uids(uids: UidSet | None) -> UidMatch:
    """Normalise a UID set; ValueError for an end that is not a positive integer."""
    if uids is None:
        return UidMatch(None)
    ordered = []
    for pair in uids:
        first, last = pair
        for end in (first, last):
            if isinstance(end, bool) or not isinstance(end, int) or end < 1:
                raise ValueError(f"a UID must be a positive integer, not {end!r}")
        low, high = min(first, last), min(max(first, last), MAX_UID)
        if low <= high:
            ordered.append((low, high))
    ordered.sort()
    merged: list[tuple[int, int]] = []
    for low, high in ordered:
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return UidMatch(tuple(merged))
