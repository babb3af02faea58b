"""Group commit: many small write units of the mail path share one store transaction.

Every message that postseal accepts or delivers is a handful of rows written durably;
on SQLite (WAL, ``synchronous=FULL``) each transaction is a pool checkout, ``BEGIN
IMMEDIATE``, a commit with its fsync and a reset, each a hop to the driver's thread. The
intake's enqueues and the queue runner's claims and settlements are therefore handed to
one :class:`GroupCommit` per process, which runs whatever is waiting (up to
``max_batch`` units, in arrival order) in a single transaction and commits once
(ADR 0016):

- :meth:`GroupCommit.run` returns only after the transaction holding *its* unit has
  committed, so a ``250`` that waits for it is never premature;
- a unit that raises rolls the shared transaction back, and every unit of that batch is
  then run again alone, each in a transaction of its own: only the unit at fault reports
  its error, the others commit as if they had been alone. A failure to begin or to
  commit the transaction itself (the database is unreachable or stays locked) is every
  unit's failure, and none is retried;
- the units of this process never wait for one another's SQLite write lock (one
  transaction at a time), and a burst costs one fsync instead of one per message.

A unit is ``async def unit(tx) -> T`` that only reads and writes through ``tx`` (and
computes): it may run twice, the first run rolled back, so anything that must happen
once — logging a delivery, waking the runner — belongs to the caller after ``run``
returns. Items given to :meth:`GroupCommit.write` with the same :class:`BatchWriter`
(the intake's enqueues) are written by one call of it per transaction, a few
multi-row statements for the whole burst instead of a few statements per message; the
writer says per item whether it was stored or why not, and an item it refuses changed
nothing, so the others commit. A unit runs to the end even when the caller waiting for it is cancelled (a
client that disconnects must not cancel a commit half-way); :meth:`GroupCommit.drain`
waits for every unit handed in so far, for an orderly shutdown. A unit must never wait
for the group commit itself (its own ``run``): the batch it is part of would wait for
it forever.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from postseal.store.ports import Store, Transaction

__all__ = ["BatchWriter", "GroupCommit", "Unit"]

log = logging.getLogger(__name__)
T = TypeVar("T")
ItemT = TypeVar("ItemT")
ItemT_contra = TypeVar("ItemT_contra", contravariant=True)
ResultT = TypeVar("ResultT")
ResultT_co = TypeVar("ResultT_co", covariant=True)
Unit = Callable[[Transaction], Awaitable[T]]


class BatchWriter(Protocol[ItemT_contra, ResultT_co]):
    """Writes many items of one kind in one transaction."""

    async def write_batch(
        self, tx: Transaction, items: Sequence[ItemT_contra]
    ) -> Sequence[ResultT_co | Exception]:
        """Per item, in order, its result, or the exception that refused it — a refused
        item changed nothing. Raising instead means the whole call failed."""
        ...


@dataclass(slots=True)
class _Entry(Generic[T]):
    done: asyncio.Future[T]
    unit: Unit[T] | None = None
    writer: BatchWriter[Any, T] | None = None
    item: Any = None


class _UnitFailed(Exception):
    """A unit raised inside the shared transaction (as opposed to its begin or commit)."""


class GroupCommit:
    """Runs write units of the mail path together, one transaction per batch."""

    def __init__(self, store: Store, *, max_batch: int = 64) -> None:
        if max_batch < 1:
            raise ValueError("a group commit needs a batch of at least one unit")
        self._store = store
        self._max_batch = max_batch
        self._waiting: deque[_Entry[Any]] = deque()
        self._worker: asyncio.Task[None] | None = None
        self._batches = 0
        self._units = 0

    @property
    def transactions(self) -> int:
        """Transactions begun so far (a batch, or a unit run alone)."""
        return self._batches

    @property
    def units(self) -> int:
        """Units and items run so far, one run again alone after a failed batch counted
        twice."""
        return self._units

    async def run(self, unit: Unit[T]) -> T:
        """Run ``unit`` in a transaction shared with the other waiting units; its result
        once that transaction has committed, or the exception it raised alone."""
        done: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        return await self._submit(_Entry(done, unit=unit))

    async def write(self, writer: BatchWriter[ItemT, ResultT], item: ItemT) -> ResultT:
        """Have ``writer`` write ``item`` together with the other waiting items of the
        same writer; its result once the transaction has committed, or the exception
        that refused it."""
        done: asyncio.Future[ResultT] = asyncio.get_running_loop().create_future()
        return await self._submit(_Entry(done, writer=writer, item=item))

    async def drain(self) -> None:
        """Wait until every unit handed in so far has run (for shutdown)."""
        while self._worker is not None and not self._worker.done():
            await asyncio.shield(self._worker)

    async def _submit(self, entry: _Entry[T]) -> T:
        self._waiting.append(entry)
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._work(), name="group commit")
        try:
            # shielded: the caller's cancellation must not cancel the unit
            return await asyncio.shield(entry.done)
        except asyncio.CancelledError:
            entry.done.add_done_callback(_consume)
            raise

    async def _work(self) -> None:
        while self._waiting:
            count = min(self._max_batch, len(self._waiting))
            batch = [self._waiting.popleft() for _ in range(count)]
            if len(batch) == 1:
                await self._alone(batch[0])
                continue
            try:
                outcomes = await self._together(batch)
            except _UnitFailed:
                log.info("a unit of a %d-unit group commit failed; running each alone", count)
                for entry in batch:
                    await self._alone(entry)
            except Exception as exc:  # begin or commit failed: nothing was committed
                for entry in batch:
                    _fail(entry.done, exc)
            except BaseException:
                for entry in batch:
                    entry.done.cancel()
                raise
            else:
                for entry, outcome in zip(batch, outcomes, strict=True):
                    _settle(entry, outcome)

    async def _together(self, batch: list[_Entry[Any]]) -> list[Any]:
        """Every entry's outcome, the writers' items written one call per writer."""
        self._batches += 1
        self._units += len(batch)
        outcomes: list[Any] = [None] * len(batch)
        steps: list[list[int]] = []  # a unit's index alone, or a writer's indexes
        by_writer: dict[int, list[int]] = {}
        for n, entry in enumerate(batch):
            if entry.writer is None:
                steps.append([n])
            elif id(entry.writer) in by_writer:
                by_writer[id(entry.writer)].append(n)
            else:
                by_writer[id(entry.writer)] = [n]
                steps.append(by_writer[id(entry.writer)])
        async with self._store.begin_batch() as tx:
            for step in steps:
                try:
                    first = batch[step[0]]
                    if first.unit is not None:
                        outcomes[step[0]] = await first.unit(tx)
                        continue
                    assert first.writer is not None
                    items = [batch[n].item for n in step]
                    results = await first.writer.write_batch(tx, items)
                    for n, result in zip(step, results, strict=True):
                        outcomes[n] = result
                except Exception as exc:
                    raise _UnitFailed from exc
        return outcomes

    async def _alone(self, entry: _Entry[Any]) -> None:
        self._batches += 1
        self._units += 1
        try:
            async with self._store.begin_batch() as tx:
                if entry.unit is not None:
                    outcome = await entry.unit(tx)
                else:
                    assert entry.writer is not None
                    (outcome,) = await entry.writer.write_batch(tx, [entry.item])
        except Exception as exc:
            _fail(entry.done, exc)
        except BaseException:
            entry.done.cancel()
            raise
        else:
            _settle(entry, outcome)


def _settle(entry: _Entry[Any], outcome: Any) -> None:
    """A writer's refusal fails its item; a unit's return value is its result, whatever
    it is."""
    if entry.writer is not None and isinstance(outcome, Exception):
        _fail(entry.done, outcome)
    elif not entry.done.done():
        entry.done.set_result(outcome)


def _consume(done: asyncio.Future[Any]) -> None:
    """Mark the outcome seen: no caller is left to read it."""
    if not done.cancelled():
        done.exception()


def _fail(done: asyncio.Future[Any], exc: Exception) -> None:
    if not done.done():
        done.set_exception(exc)
