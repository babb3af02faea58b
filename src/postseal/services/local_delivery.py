"""Local delivery as a group-commit writer (ADR 0016): each recipient marked delivered
and its message appended to the INBOX in one transaction (ADR 0008 §5), for every
recipient of the burst at once.

The queue runner seals each message under its mailbox's key beforehand and hands a
:class:`LocalDelivery` to :meth:`~postseal.services.group_commit.GroupCommit.write`;
:data:`LOCAL_DELIVERIES` then marks the whole batch with one guarded ``UPDATE`` per
runner and appends with one ``UPDATE … RETURNING`` of the UIDs and one multi-row
``INSERT`` per mailbox. A recipient whose mark fails (its lease was lost, it is final
already) is refused alone and gets no append: exactly once still rests on the mark and
the append committing together. An append that fails fails the call, and the group
commit then runs every delivery of the batch alone, each with its own mark.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from postseal.services.mailbox_changes import CHANGES
from postseal.store.ports import NewStoredMessage, Transaction

__all__ = ["LOCAL_DELIVERIES", "LocalDelivery"]


@dataclass(frozen=True, slots=True)
class LocalDelivery:
    """One queued recipient and its message, sealed for the mailbox it goes to."""

    message_id: str
    address: str
    owner: str  # the runner holding the recipient's lease
    at: datetime
    mailbox_id: str
    message: NewStoredMessage


class _LocalDeliveries:
    """:class:`~postseal.services.group_commit.BatchWriter` of local deliveries."""

    async def write_batch(
        self, tx: Transaction, items: Sequence[LocalDelivery]
    ) -> Sequence[Exception | None]:
        results: list[Exception | None] = [None] * len(items)
        by_lease: dict[tuple[str, datetime], list[int]] = {}
        for n, item in enumerate(items):
            by_lease.setdefault((item.owner, item.at), []).append(n)
        for (owner, at), chosen in by_lease.items():
            keys = [(items[n].message_id, items[n].address) for n in chosen]
            refused = await tx.queue.mark_delivered_many(keys, owner=owner, at=at)
            for n, refusal in zip(chosen, refused, strict=True):
                results[n] = refusal
        by_mailbox: dict[str, list[int]] = {}
        for n, item in enumerate(items):
            if results[n] is None:
                by_mailbox.setdefault(item.mailbox_id, []).append(n)
        # Mailboxes in id order: two nodes' batches lock the rows of the same mailboxes
        # in the same order, so they wait for each other instead of deadlocking.
        for mailbox_id in sorted(by_mailbox):
            chosen = by_mailbox[mailbox_id]
            await tx.mailboxes.append_many(mailbox_id, [items[n].message for n in chosen])
            # Before the commit: sessions of this process look at once, and their
            # periodic store check (mailbox_changes.RECHECK_SECONDS) covers the race.
            CHANGES.touch(mailbox_id)
        return results


LOCAL_DELIVERIES = _LocalDeliveries()
